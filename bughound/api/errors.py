"""Web API errors in Sentry's shape: `{"detail": "..."}` with the right status."""

from __future__ import annotations

from typing import Any

NOT_FOUND = "The requested resource does not exist"
NO_PERMISSION = "You do not have permission to perform this action."
NO_CREDENTIALS = "Authentication credentials were not provided."


class ApiError(Exception):
    def __init__(self, status: int, detail: Any, headers: dict[str, str] | None = None) -> None:
        super().__init__(str(detail))
        self.status = status
        self.detail = detail
        self.headers = headers or {}


def not_found(detail: str = NOT_FOUND) -> ApiError:
    return ApiError(404, detail)


def forbidden(detail: str = NO_PERMISSION) -> ApiError:
    return ApiError(403, detail)


def unauthorized(detail: str = NO_CREDENTIALS) -> ApiError:
    # DRF's QuietBasicAuthentication challenge: deliberately not "Basic", so browsers don't prompt.
    return ApiError(401, detail, {"WWW-Authenticate": 'xBasic realm="api"'})


def bad_request(detail: str) -> ApiError:
    return ApiError(400, detail)
