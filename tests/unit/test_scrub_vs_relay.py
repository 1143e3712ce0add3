"""Default scrubbing, compared with Relay's own: the `sentry-relay` package (Relay's Python
bindings, the version PROTOCOL.md was written against) scrubs the same events."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bughound.digest.scrub import scrub_event

sentry_relay = pytest.importorskip("sentry_relay", reason="the sentry-relay package (test extra) is missing")

RELAY_DEFAULTS = sentry_relay.convert_datascrubbing_config(
    {
        "scrubData": True,
        "scrubDefaults": True,
        "sensitiveFields": [],
        "excludeFields": [],
        "scrubIpAddresses": False,
    }
)

# Pieces that the rules look for, near misses, and text around them.
ATOMS = (
    "4111111111111111", "4111 1111 1111 1111", "4111-1111-1111-1111", "4111111111111112", "378282246310005",
    "078-05-1120", "1234-45-6789", "DE89370400440532013000", "GB82WEST12345698765432",
    "de89370400440532013000", "ZZ89370400440532013000", "a@b.com", "x.y+z@ex-ample.co.uk", "ü@ü.de",
    "Bearer abc", "bearer  x.y", "https://u:pw@h.com", "//a:b@c", "ftp://a@h", "password", "secret=1",
    "token:", "api_key", "auth", "otp", "-----BEGIN RSA PRIVATE KEY-----\nAAA\n-----END RSA PRIVATE KEY-----",
    "-----BEGIN PUBLIC KEY-----\nBBB\n-----END PUBLIC KEY-----", "é", "hello", "12345678901", "@", "-",
)  # fmt: skip
_glue = st.sampled_from(["", " ", ",", "/", "é", "\n", ":", "="])
# Python's \w takes other numbers (²) and not marks or connectors other than _, Rust's the other
# way round, so `\b` differs next to them: such characters are left out.
_chars = st.characters(categories=["L", "Nd", "Pd", "Ps", "Pe", "Pi", "Pf", "Po", "S", "Zs", "Cc"])
texts = st.lists(
    st.tuples(st.sampled_from(ATOMS) | st.text(_chars, max_size=6), _glue), min_size=1, max_size=5
).map(lambda parts: "".join(atom + glue for atom, glue in parts))
keys = st.sampled_from(["k", "password", "Token", "otp", "data", "x_auth"])


def relay_scrub(event: dict[str, Any]) -> dict[str, Any]:
    scrubbed: dict[str, Any] = sentry_relay.pii_strip_event(RELAY_DEFAULTS, copy.deepcopy(event))
    return scrubbed


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    extra=st.dictionaries(keys, texts, min_size=1, max_size=3),  # Relay drops empty containers
    formatted=texts,
    params=st.lists(texts, min_size=1, max_size=2),
    crumb=texts,
    error=texts,
)
def test_scrubbing_matches_relays(
    extra: dict[str, str], formatted: str, params: list[str], crumb: str, error: str
) -> None:
    event = {
        "extra": extra,
        "logentry": {"formatted": formatted, "params": params},
        "breadcrumbs": {"values": [{"message": crumb}]},
        "exception": {"values": [{"type": "E", "value": error}]},
    }
    ours = scrub_event(copy.deepcopy(event))
    assert ours == relay_scrub(event)


def test_messages_name_what_they_replace() -> None:
    event = {"logentry": {"formatted": "é card 4111111111111111 from a@b.com, Bearer abc, password hunter2"}}
    scrubbed = scrub_event(copy.deepcopy(event))
    assert scrubbed == relay_scrub(event)
    # (A bearer token is everything up to the next white space.)
    assert (
        scrubbed["logentry"]["formatted"]
        == "é card [creditcard] from [email], Bearer [token] password hunter2"
    )
    # Ranges are UTF-8 byte offsets in the new value; the length is the original's, in characters.
    assert scrubbed["_meta"]["logentry"]["formatted"] == {
        "": {
            "rem": [
                ["@creditcard:replace", "s", 8, 20],
                ["@email:replace", "s", 26, 33],
                ["@bearer:replace", "s", 35, 49],
            ],
            "len": 66,
        }
    }
