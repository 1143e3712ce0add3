"""The one error type of the ingestion path: a status code and a Sentry-shaped `detail`."""

from __future__ import annotations


class IngestError(Exception):
    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


def bad_request(detail: str) -> IngestError:
    return IngestError(400, detail)


def too_large(detail: str = "request content exceeded size limits") -> IngestError:
    return IngestError(413, detail)
