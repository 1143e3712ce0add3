"""The ASGI application: SDK ingestion routes and the web API, behind one dispatcher."""

from __future__ import annotations

import gc
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response

from bughound.api.errors import ApiError
from bughound.api.responses import json_response
from bughound.api.routes import WebApi
from bughound.config import Settings
from bughound.ingest.routes import IngestApp, Receive, Scope, Send, match_ingest_path
from bughound.spool import Spool, open_spool
from bughound.storage.db import create_engine
from bughound.storage.store import Store

log = logging.getLogger("bughound.app")


async def _api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    # Validation errors are per field (`{"status": ["..."]}`), as DRF renders them; others `detail`.
    body = exc.detail if isinstance(exc.detail, dict) else {"detail": exc.detail}
    return json_response(body, status=exc.status, headers=exc.headers)


async def _http_error(request: Request, exc: Exception) -> Response:
    status = getattr(exc, "status_code", 500)
    if status == 404:
        path = request.url.path
        if not path.endswith("/") and request.headers.get("content-type", "").startswith("application/json"):
            return json_response(
                {"info": f"Route not found, did you forget a trailing slash? try: {path}/"}, status=404
            )
        return Response(status_code=404)
    if status == 405:
        return json_response({"detail": f'Method "{request.method}" not allowed.'}, status=405)
    return json_response({"detail": getattr(exc, "detail", "Error")}, status=status)


async def _internal_error(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return json_response({"detail": "Internal Error"}, status=500)


class Activity:
    """Whether the server is handling requests: its spare CPU is lent to the digest only while
    it is not (`bughound.digest.pool.lend`), so acknowledging events always goes first."""

    IDLE_AFTER = 0.05  # seconds after the last request ends

    def __init__(self) -> None:
        self.in_flight = 0
        self.last_end = 0.0  # monotonic

    def idle(self) -> bool:
        return self.in_flight == 0 and time.monotonic() - self.last_end >= self.IDLE_AFTER


class Bughound:
    """Routes SDK traffic to the ingest app and everything else to the web API."""

    def __init__(self, settings: Settings, store: Store, spool: Spool) -> None:
        self.settings = settings
        self.activity = Activity()
        self.store = store
        self.spool = spool
        self.ingest = IngestApp(settings, store, spool)
        api = WebApi(settings, store)

        @asynccontextmanager
        async def lifespan(app: Any) -> AsyncIterator[None]:
            gc.collect()
            gc.freeze()  # long-lived startup objects: no need to re-scan them (see digest.worker)
            yield
            spool.close()

        self.api = Starlette(
            routes=api.routes(),
            exception_handlers={
                ApiError: _api_error,
                404: _http_error,
                405: _http_error,
                Exception: _internal_error,
            },
            lifespan=lifespan,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.api(scope, receive, send)  # lifespan
            return
        activity = self.activity
        activity.in_flight += 1
        try:
            if match_ingest_path(scope["path"]):
                await self.ingest(scope, receive, send)
            else:
                await self.api(scope, receive, send)
        finally:
            activity.in_flight -= 1
            activity.last_end = time.monotonic()


def create_app(settings: Settings) -> Bughound:
    engine = create_engine(settings.database_url)
    store = Store(engine)
    return Bughound(settings, store, open_spool(settings, engine))


__all__ = ["Bughound", "create_app"]
