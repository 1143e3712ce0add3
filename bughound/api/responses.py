"""JSON in and out of the web API (orjson; `application/json` responses, 400 on a bad body, stored
events)."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from bughound.api.errors import bad_request
from bughound.digest.pipeline import decompress


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(data), status_code=status, headers=headers, media_type="application/json")


async def json_body(request: Request) -> Any:
    """The request's JSON (an empty body is `{}`); 400 `JSON parse error` when it is not JSON."""
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise bad_request("JSON parse error") from None


def load_event(row: Any) -> dict[str, Any]:
    """A stored event (an `events` row) as the serializers read it: its payload and its size."""
    event: dict[str, Any] = orjson.loads(decompress(row.data))
    event["_size"] = row.size
    return event
