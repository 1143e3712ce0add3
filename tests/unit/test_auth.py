"""Where an SDK request says who it is (Relay `extractors/request_meta.rs`, sentry-types `Auth`)."""

from __future__ import annotations

import base64

import pytest

from bughound.ingest.auth import Auth, Dsn, auth_from_request, parse_dsn, parse_sentry_pairs
from bughound.ingest.errors import IngestError

KEY = "e12d836b15bb49d7bbf99e64295d995b"


def _error(headers: dict[str, str], query: str = "") -> IngestError:
    with pytest.raises(IngestError) as info:
        auth_from_request(headers, query)
    return info.value


# --- X-Sentry-Auth / Authorization: Sentry -------------------------------------------------------


def test_python_sdk_header() -> None:
    header = f"Sentry sentry_key={KEY}, sentry_version=7, sentry_client=sentry.python/2.75.0"
    assert auth_from_request({"x-sentry-auth": header}, "") == Auth(KEY, 7, "sentry.python/2.75.0")


@pytest.mark.parametrize("scheme", ["Sentry", "sentry", "SENTRY", "sEnTrY"])
def test_scheme_is_case_insensitive(scheme: str) -> None:
    assert auth_from_request({"x-sentry-auth": f"{scheme} sentry_key={KEY}"}, "") == Auth(KEY)


def test_spaces_around_keys_and_values_are_trimmed() -> None:
    header = f"  Sentry   sentry_key = {KEY} ,sentry_version= 7 ,  sentry_client =raven-js/3.0  "
    assert auth_from_request({"x-sentry-auth": header}, "") == Auth(KEY, 7, "raven-js/3.0")


def test_unknown_keys_secret_and_timestamp_are_ignored() -> None:
    header = f"Sentry sentry_key={KEY}, sentry_secret=s3cr3t, sentry_timestamp=1700000000, foo=bar, junk"
    assert auth_from_request({"x-sentry-auth": header}, "") == Auth(KEY)


def test_parse_sentry_pairs() -> None:
    assert parse_sentry_pairs("Sentry a=1, b = 2 ,c=,d") == {"a": "1", "b": "2", "c": ""}
    # Only the first "=" splits: values may contain "=".
    assert parse_sentry_pairs("Sentry sentry_client=x=y")["sentry_client"] == "x=y"


@pytest.mark.parametrize("header", ["Basic abc", "Bearer x", "sentry_key=abc", ""])
def test_other_schemes_are_unauthorized(header: str) -> None:
    assert _error({"x-sentry-auth": header}).status == 401


def test_key_flags_after_a_dot_are_stripped() -> None:
    assert auth_from_request({"x-sentry-auth": f"Sentry sentry_key={KEY}.no-cache"}, "") == Auth(KEY)


def _header_auth(header: str) -> Auth:
    auth = auth_from_request({"x-sentry-auth": header}, "")
    assert auth is not None
    return auth


def test_version_defaults_to_7_and_takes_the_integer_part() -> None:
    assert _header_auth(f"Sentry sentry_key={KEY}").version == 7
    assert _header_auth(f"Sentry sentry_key={KEY}, sentry_version=").version == 7
    assert _header_auth(f"Sentry sentry_key={KEY}, sentry_version=5").version == 5
    assert _header_auth(f"Sentry sentry_key={KEY}, sentry_version=7.1").version == 7


@pytest.mark.parametrize("version", ["8", "99", "8.0"])
def test_version_above_7_is_a_bad_request(version: str) -> None:
    error = _error({"x-sentry-auth": f"Sentry sentry_key={KEY}, sentry_version={version}"})
    assert (error.status, error.detail) == (400, "unsupported protocol version")


def test_unparseable_version_is_unauthorized() -> None:
    assert _error({"x-sentry-auth": f"Sentry sentry_key={KEY}, sentry_version=abc"}).status == 401


@pytest.mark.parametrize(
    "header",
    ["Sentry", "Sentry sentry_version=7", "Sentry sentry_key=, sentry_version=7", "Sentry sentry_key"],
)
def test_missing_key_is_unauthorized(header: str) -> None:
    error = _error({"x-sentry-auth": header})
    assert error.status == 401
    assert "missing public key" in error.detail


# --- the public key itself (Relay `ProjectKey::parse`: 32 ASCII characters) ------------------------


@pytest.mark.parametrize("key", ["abc", KEY[:31], KEY + "0", "é" * 32, ".no-cache"])
def test_key_that_is_not_32_ascii_characters_is_a_bad_request(key: str) -> None:
    for headers, query in (
        ({"x-sentry-auth": f"Sentry sentry_key={key}"}, ""),
        ({"authorization": f"Sentry sentry_key={key}"}, ""),
        ({"authorization": "Basic " + base64.b64encode(f"{key}:".encode()).decode()}, ""),
        ({}, f"sentry_key={key}&sentry_version=7"),
    ):
        error = _error(headers, query)
        assert (error.status, error.detail) == (400, "bad sentry DSN public key")


def test_any_32_ascii_characters_are_a_key_hex_or_not() -> None:
    # Relay does not check for hex digits; such a key is then simply unknown (403 later).
    assert auth_from_request({}, "sentry_key=" + "z" * 32) == Auth("z" * 32)
    assert auth_from_request({}, f"sentry_key={KEY.upper()}.no-cache") == Auth(KEY.upper())


def test_bad_key_is_reported_before_the_protocol_version() -> None:
    error = _error({"x-sentry-auth": "Sentry sentry_key=abc, sentry_version=8"})
    assert error.detail == "bad sentry DSN public key"


def test_empty_client_is_none() -> None:
    assert _header_auth(f"Sentry sentry_key={KEY}, sentry_client=").client is None


def test_authorization_sentry_header() -> None:
    assert auth_from_request({"authorization": f"Sentry sentry_key={KEY}, sentry_version=7"}, "") == Auth(KEY)


# --- Basic ---------------------------------------------------------------------------------------


def test_basic_auth() -> None:
    token = base64.b64encode(f"{KEY}:whatever".encode()).decode()
    assert auth_from_request({"authorization": f"Basic {token}"}, "") == Auth(KEY)
    token = base64.b64encode(KEY.encode()).decode()
    assert auth_from_request({"authorization": f"basic {token}"}, "") == Auth(KEY)


@pytest.mark.parametrize(
    "value", ["Basic !!!notbase64", "Basic " + base64.b64encode(b"\xff\xfe").decode(), "Basic "]
)
def test_bad_basic_auth_is_unauthorized(value: str) -> None:
    assert _error({"authorization": value}).status == 401


def test_basic_auth_with_empty_key_is_unauthorized() -> None:
    token = base64.b64encode(b":secret").decode()
    assert _error({"authorization": f"Basic {token}"}).status == 401


# --- query string --------------------------------------------------------------------------------


def test_query_string_auth() -> None:
    query = f"sentry_version=7&sentry_key={KEY}&sentry_client=sentry.javascript.node%2F11.12.0"
    assert auth_from_request({}, query) == Auth(KEY, 7, "sentry.javascript.node/11.12.0")


def test_query_without_sentry_parameters_is_no_auth() -> None:
    assert auth_from_request({}, "") is None
    assert auth_from_request({}, "foo=bar") is None
    assert auth_from_request({}, "foo=sentry_key") is None


def test_query_with_other_sentry_parameters_but_no_key() -> None:
    error = _error({}, "sentry_version=7")
    assert error.status == 401
    assert "missing public key" in error.detail


def test_no_auth_at_all_is_none() -> None:
    assert auth_from_request({"content-type": "application/json", "authorization": "Bearer x"}, "a=1") is None


# --- multiple sources ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "query"),
    [
        ({"x-sentry-auth": f"Sentry sentry_key={KEY}", "authorization": f"Sentry sentry_key={KEY}"}, ""),
        ({"x-sentry-auth": f"Sentry sentry_key={KEY}"}, f"sentry_key={KEY}"),
        ({"authorization": f"Sentry sentry_key={KEY}"}, f"sentry_key={KEY}"),
        ({"authorization": "Basic " + base64.b64encode(f"{KEY}:".encode()).decode()}, f"sentry_key={KEY}"),
        (
            {
                "x-sentry-auth": f"Sentry sentry_key={KEY}",
                "authorization": "Basic " + base64.b64encode(b"k:").decode(),
            },
            "",
        ),
    ],
)
def test_multiple_sources_are_unauthorized(headers: dict[str, str], query: str) -> None:
    error = _error(headers, query)
    assert error.status == 401
    assert "multiple" in error.detail


# --- DSN -----------------------------------------------------------------------------------------


def test_parse_dsn() -> None:
    assert parse_dsn(f"https://{KEY}@o1.ingest.sentry.io/42") == Dsn(KEY, "42")


def test_parse_dsn_with_secret_port_and_path_prefix() -> None:
    assert parse_dsn(f"http://{KEY}:secret@127.0.0.1:9000/prefix/path/42") == Dsn(KEY, "42")


def test_parse_dsn_with_trailing_slash() -> None:
    assert parse_dsn(f"https://{KEY}@sentry.io/42/") == Dsn(KEY, "42")


@pytest.mark.parametrize(
    "dsn",
    [
        None,
        42,
        "",
        "not a dsn",
        f"ftp://{KEY}@sentry.io/42",
        "https://sentry.io/42",
        f"https://{KEY}@sentry.io/",
        f"https://{KEY}@sentry.io/abc",
        "https://abc@sentry.io/42",
        f"https://{KEY}0@sentry.io/42",
    ],
)
def test_invalid_dsn_is_unauthorized(dsn: object) -> None:
    with pytest.raises(IngestError) as info:
        parse_dsn(dsn)
    assert info.value.status == 401
