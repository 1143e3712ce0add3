"""Bearer tokens and scopes for the web API (CONVENTIONS.md §4-5)."""

from __future__ import annotations

from starlette.requests import Request

from bughound.api.errors import forbidden, unauthorized
from bughound.storage.store import Store, TokenAuth


async def authenticate(request: Request, store: Store) -> TokenAuth:
    from anyio import to_thread

    header = request.headers.get("authorization")
    if not header:
        raise unauthorized()
    parts = header.split()
    if len(parts) == 1 and parts[0].lower() == "bearer":
        raise unauthorized("Invalid token header. No credentials provided.")
    if len(parts) != 2:
        raise unauthorized("Invalid token header. Token string should not contain spaces.")
    scheme, token = parts
    if scheme.lower() != "bearer":
        raise unauthorized()
    auth = await to_thread.run_sync(store.authenticate_token, token)
    if auth is None:
        raise unauthorized("Invalid token")
    return auth


def require_scope(auth: TokenAuth, *accepted: str) -> None:
    """Any one of `accepted` suffices (the spec lists every scope that does)."""
    if not auth.scopes.intersection(accepted):
        raise forbidden()
