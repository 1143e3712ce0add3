"""Where an SDK request says who it is (pure): X-Sentry-Auth, Authorization, query, envelope dsn.

Grammar and precedence as in Relay (`extractors/request_meta.rs`) and sentry-types
(`Auth::from_str`): more than one source is an error, a missing key is an error, a key that is not
32 ASCII characters is a bad request (before the version is looked at), and a `sentry_version`
above 7 is refused.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
from collections.abc import Mapping
from urllib.parse import parse_qsl, urlsplit

from bughound.ingest.errors import IngestError

MAX_PROTOCOL_VERSION = 7
PUBLIC_KEY_LENGTH = 32


@dataclasses.dataclass(frozen=True)
class Auth:
    public_key: str
    version: int = MAX_PROTOCOL_VERSION
    client: str | None = None


def _unauthorized(detail: str) -> IngestError:
    return IngestError(401, detail)


def parse_sentry_pairs(value: str) -> dict[str, str]:
    """`Sentry sentry_key=a, sentry_version=7` -> {"sentry_key": "a", "sentry_version": "7"}."""
    scheme, _, rest = value.strip().partition(" ")
    if scheme.lower() != "sentry":
        raise _unauthorized("invalid authorization header: expected the Sentry scheme")
    pairs: dict[str, str] = {}
    for item in rest.split(","):
        key, sep, val = item.partition("=")
        if sep:
            pairs[key.strip()] = val.strip()
    return pairs


def is_public_key(value: str) -> bool:
    """What Relay's `ProjectKey::parse` accepts: exactly 32 ASCII characters (hex is not checked)."""
    return len(value) == PUBLIC_KEY_LENGTH and value.isascii()


def _from_pairs(pairs: Mapping[str, str]) -> Auth:
    key = pairs.get("sentry_key", "")
    if not key:
        raise _unauthorized("missing authorization information: missing public key")
    # Keys may carry flags after a dot (`<key>.no-cache`); the key is what comes before.
    key = key.split(".", 1)[0]
    if not is_public_key(key):  # Relay's BadEventMeta::BadPublicKey, answered before any lookup
        raise IngestError(400, "bad sentry DSN public key")
    version_text = pairs.get("sentry_version", "") or str(MAX_PROTOCOL_VERSION)
    try:
        version = int(version_text.split(".", 1)[0])
    except ValueError:
        raise _unauthorized(f"invalid authorization header: bad sentry_version {version_text!r}") from None
    if version > MAX_PROTOCOL_VERSION:
        raise IngestError(400, "unsupported protocol version")
    return Auth(public_key=key, version=version, client=pairs.get("sentry_client") or None)


def _basic(value: str) -> dict[str, str]:
    try:
        decoded = base64.b64decode(value.split(" ", 1)[1].strip(), validate=True).decode()
    except (IndexError, binascii.Error, UnicodeDecodeError):
        raise _unauthorized("invalid authorization header: bad basic credentials") from None
    return {"sentry_key": decoded.split(":", 1)[0]}


def auth_from_request(headers: Mapping[str, str], query_string: str) -> Auth | None:
    """Auth from the request alone; None when it carries none (the envelope `dsn` may)."""
    sources: list[dict[str, str]] = []
    if "x-sentry-auth" in headers:
        sources.append(parse_sentry_pairs(headers["x-sentry-auth"]))
    authorization = headers.get("authorization", "")
    if authorization.lower().startswith("sentry "):
        sources.append(parse_sentry_pairs(authorization))
    elif authorization.lower().startswith("basic "):
        sources.append(_basic(authorization))
    if "sentry_" in query_string:
        query = {k: v for k, v in parse_qsl(query_string, keep_blank_values=True) if k.startswith("sentry_")}
        if query:
            sources.append(query)
    if len(sources) > 1:
        raise _unauthorized("multiple authorization payloads detected")
    return _from_pairs(sources[0]) if sources else None


@dataclasses.dataclass(frozen=True)
class Dsn:
    public_key: str
    project_id: str


def parse_dsn(value: object) -> Dsn:
    """A DSN string `scheme://key[:secret]@host[:port][/prefix]/project_id`."""
    if not isinstance(value, str):
        raise _unauthorized("invalid dsn in envelope header")
    parts = urlsplit(value)
    project_id = parts.path.rstrip("/").rsplit("/", 1)[-1]
    if parts.scheme not in ("http", "https") or not project_id.isdigit():
        raise _unauthorized("invalid dsn in envelope header")
    # Relay's PartialDsn parses the user part as a project key too: a DSN without one is unusable.
    if parts.username is None or not is_public_key(parts.username):
        raise _unauthorized("invalid dsn in envelope header")
    return Dsn(public_key=parts.username, project_id=project_id)
