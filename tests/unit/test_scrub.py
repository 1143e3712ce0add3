"""Default PII scrubbing (relay-pii defaults; ingest_facts.md §5, PROTOCOL.md §11)."""

from __future__ import annotations

import copy
from typing import Any
from unittest import mock

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bughound.digest import scrub as scrub_module
from bughound.digest.normalize import Context, normalize_event
from bughound.digest.scrub import FILTERED, scrub_event
from tests.unit import strategies
from tests.unit.strategies import PROPERTY_SETTINGS, avoid_known_bugs

PASSWORD_REMARK = {"": {"rem": [["@password:filter", "s", 0, 10]], "len": 7}}


def scrub(event: dict[str, Any]) -> dict[str, Any]:
    return scrub_event(copy.deepcopy(event))


def scrub_extra(value: Any, key: str = "value") -> Any:
    return scrub({"extra": {key: value}})["extra"][key]


# --- keys ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "key",
    [
        "password",
        "PASSWORD",
        "db_password",
        "secret",
        "client_secret",
        "passwd",
        "api_key",
        "api-key",
        "apikey",
        "auth",
        "Authorization",
        "credentials",
        "mysql_pwd",
        "privatekey",
        "private_key",
        "token",
        "access_token",
        "csrftoken",
        "otp",
        "two_factor",
    ],
)
def test_sensitive_keys_replace_the_whole_value(key: str) -> None:
    assert scrub_extra("hunter2", key) == FILTERED


@pytest.mark.parametrize("key", ["username", "auXth", "otp_code", "note", "pass"])
def test_other_keys_are_kept(key: str) -> None:
    assert scrub_extra("hunter2", key) == "hunter2"


@pytest.mark.parametrize("value", [5, 1.5, True, {"a": "b"}, ["x"]])
def test_non_string_values_under_sensitive_keys_are_removed(value: Any) -> None:
    event = scrub({"extra": {"password": value}})
    assert event["extra"]["password"] is None
    assert event["_meta"] == {"extra": {"password": {"": {"rem": [["@password:filter", "x"]]}}}}


@pytest.mark.parametrize("value", ["", "true", "false", "null", "undefined"])
def test_trivial_values_are_never_scrubbed(value: str) -> None:
    assert scrub_extra(value, "password") == value


def test_nested_keys() -> None:
    event = scrub({"extra": {"db": {"host": "h", "password": "p", "list": [{"token": "t"}]}}})
    assert event["extra"] == {"db": {"host": "h", "password": FILTERED, "list": [{"token": FILTERED}]}}


# --- values --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value", ["my secret", "Password=hunter2", "x-api-key abc", "token=abc", "tokens: 1"]
)
def test_values_matching_the_password_pattern_are_replaced_whole(value: str) -> None:
    assert scrub_extra(value) == FILTERED


def test_username_secret_is_filtered() -> None:
    # relay_pii__convert__tests__user.snap: user.username "secret" becomes [Filtered].
    assert scrub({"user": {"username": "secret"}})["user"]["username"] == FILTERED


@pytest.mark.parametrize(
    "number",
    [
        "4111111111111111",
        "4111 1111 1111 1111",
        "4111-1111-1111-1111",
        "5500 0000 0000 0004",
        "378282246310005",
        # Relay's pattern has no Luhn check: a number with a card's prefix and length goes too.
        "4111111111111112",
    ],
)
def test_credit_card_numbers(number: str) -> None:
    assert scrub_extra(f"card {number} used") == f"card {FILTERED} used"


@pytest.mark.parametrize("number", ["1234567812345678", "41111111111111111", "411111111111"])
def test_numbers_without_a_cards_prefix_or_length_are_kept(number: str) -> None:
    assert scrub_extra(f"card {number} used") == f"card {number} used"


def test_ibans() -> None:
    assert scrub_extra("pay to DE89370400440532013000.") == f"pay to {FILTERED}."
    assert scrub_extra("GB82WEST12345698765432") == FILTERED
    # Country codes are capitals, and the code must be one of Relay's list.
    assert scrub_extra("de89370400440532013000") == "de89370400440532013000"
    assert scrub_extra("ZZ89370400440532013000") == "ZZ89370400440532013000"


def test_public_key_bodies_too() -> None:
    pem = "-----BEGIN PUBLIC KEY-----\nMIIBIj\n-----END PUBLIC KEY-----"
    assert scrub_extra(pem) == f"-----BEGIN PUBLIC KEY-----\n{FILTERED}\n-----END PUBLIC KEY-----"


def test_bearer_tokens() -> None:
    assert scrub_extra("use Bearer abc.def-123 please") == f"use {FILTERED} please"
    assert scrub_extra("bearer xyz") == FILTERED


def test_url_auth_replaces_only_the_password() -> None:
    assert (
        scrub_extra("see https://user:hunter2@example.com/x") == f"see https://user:{FILTERED}@example.com/x"
    )
    assert scrub_extra("ftp://a:b@host") == f"ftp://a:{FILTERED}@host"
    assert scrub_extra("https://user@example.com/") == "https://user@example.com/"


def test_us_ssn() -> None:
    assert scrub_extra("ssn 123-45-6789.") == f"ssn {FILTERED}."
    assert scrub_extra("1234-45-6789") == "1234-45-6789"


def test_pem_key_body() -> None:
    pem = "-----BEGIN RSA PRIVATE KEY-----\nMIIEow\nIBAAK\n-----END RSA PRIVATE KEY-----"
    assert scrub_extra(pem) == f"-----BEGIN RSA PRIVATE KEY-----\n{FILTERED}\n-----END RSA PRIVATE KEY-----"


def test_rules_run_in_relay_order() -> None:
    # relay-pii collects the @common:filter rules into a BTreeSet ordered by id (@bearer,
    # @creditcard, @iban, @password, @pemkey, @urlauth, @usssn) and applies them one after the
    # other to the same string. The card is filtered first, then "token-[Filtered]=" matches
    # `token[^\s]*[:=]`, so the whole value goes. Bughound checks the password pattern first and
    # stops at "token-[Filtered]=", which a second scrub then turns into "[Filtered]".
    assert scrub_extra("token-4111 1111 1111 1111=") == FILTERED


def test_emails_and_ips_are_kept() -> None:
    assert scrub_extra("mail a@b.example from 10.0.0.1") == "mail a@b.example from 10.0.0.1"


def test_plain_values_are_kept() -> None:
    event = {"extra": {"a": "hello", "n": 1, "l": [1, "x"], "d": {"k": None}}}
    assert scrub(event) == event


# --- fields --------------------------------------------------------------------------------------


def test_authorization_and_api_key_headers() -> None:
    headers = [["Authorization", "Basic dXNlcjpwYXNz"], ["X-Api-Key", "k"], ["Accept", "text/html"]]
    event = scrub({"request": {"headers": headers}})
    assert event["request"]["headers"] == [
        ["Authorization", FILTERED],
        ["X-Api-Key", FILTERED],
        ["Accept", "text/html"],
    ]


def test_user_agent_is_untouched() -> None:
    headers = [["User-Agent", "secret agent Bearer x"]]
    assert scrub({"request": {"headers": headers}})["request"]["headers"] == headers


@pytest.mark.parametrize(
    "name", ["sessionid", "SessionId", "session", "csrf", "_xsrf", "phpsessid", "csrftoken"]
)
def test_sensitive_cookies(name: str) -> None:
    event = scrub({"request": {"cookies": [[name, "abc"], ["theme", "dark"]]}})
    assert event["request"]["cookies"] == [[name, FILTERED], ["theme", "dark"]]


def test_query_string_pairs() -> None:
    event = scrub({"request": {"query_string": [["token", "abc"], ["q", "x"]], "data": {"password": "p"}}})
    assert event["request"]["query_string"] == [["token", FILTERED], ["q", "x"]]
    assert event["request"]["data"] == {"password": FILTERED}


def test_request_url_is_untouched() -> None:
    url = "https://user:hunter2@example.com/?token=abc"
    assert scrub({"request": {"url": url}})["request"]["url"] == url


def test_exception_values_and_tags_are_untouched() -> None:
    event = {
        "exception": {"values": [{"type": "E", "value": "password=hunter2 4111111111111111"}]},
        "logentry": {"message": "my secret %s 4111111111111111"},
        "tags": [["password", "x"], ["t", "secret"]],
        "culprit": "secret in app",
        "transaction": "/login?password=x",
    }
    assert scrub(event) == event


def test_logentry_params_are_scrubbed() -> None:
    event = scrub({"logentry": {"formatted": "x", "params": ["secret", "ok"]}})
    assert event["logentry"] == {"formatted": "x", "params": [FILTERED, "ok"]}


def test_breadcrumb_message_and_data() -> None:
    crumbs = {
        "values": [{"message": "password: x", "category": "secret", "data": {"token": "t", "url": "u"}}]
    }
    event = scrub({"breadcrumbs": crumbs})
    assert event["breadcrumbs"]["values"] == [
        {"message": FILTERED, "category": "secret", "data": {"token": FILTERED, "url": "u"}}
    ]


def test_frame_vars_but_not_file_names() -> None:
    frame = {
        "filename": "secret.py",
        "abs_path": "/secret/x.py",
        "function": "f",
        "vars": {"password": "p", "i": 1},
    }
    event = scrub({"exception": {"values": [{"type": "E", "stacktrace": {"frames": [frame]}}]}})
    out = event["exception"]["values"][0]["stacktrace"]["frames"][0]
    assert out == {**frame, "vars": {"password": FILTERED, "i": 1}}


def test_mechanism_data_and_thread_frames() -> None:
    event = scrub(
        {
            "exception": {"values": [{"type": "E", "mechanism": {"type": "secret", "data": {"auth": "x"}}}]},
            "threads": {"values": [{"stacktrace": {"frames": [{"vars": {"token": "t"}}]}}]},
        }
    )
    assert event["exception"]["values"][0]["mechanism"] == {"type": "secret", "data": {"auth": FILTERED}}
    assert event["threads"]["values"][0]["stacktrace"]["frames"][0]["vars"] == {"token": FILTERED}


def test_user_and_server_name() -> None:
    event = scrub(
        {"user": {"id": "1", "email": "a@b.example", "password": "p"}, "server_name": "secret-host"}
    )
    assert event["user"] == {"id": "1", "email": "a@b.example", "password": FILTERED}
    assert event["server_name"] == FILTERED


def test_only_unknown_contexts_are_scrubbed() -> None:
    contexts = {
        "os": {"name": "secret os"},
        "renamed": {"type": "runtime", "name": "secret"},
        "custom": {"api_key": "k", "ok": "v"},
        "other": {"type": "whatever", "note": "secret"},
    }
    event = scrub({"contexts": contexts})
    assert event["contexts"] == {
        "os": {"name": "secret os"},
        "renamed": {"type": "runtime", "name": "secret"},
        "custom": {"api_key": FILTERED, "ok": "v"},
        "other": {"type": "whatever", "note": FILTERED},
    }


# --- _meta ---------------------------------------------------------------------------------------


def test_meta_remark_shape() -> None:
    event = scrub({"extra": {"password": "hunter2"}, "request": {"headers": [["Authorization", "Basic x"]]}})
    assert event["_meta"] == {
        "extra": {"password": PASSWORD_REMARK},
        "request": {"headers": {"0": {"1": {"": {"rem": [["@password:filter", "s", 0, 10]], "len": 7}}}}},
    }


def test_meta_rule_names() -> None:
    event = scrub(
        {"extra": {"c": "4111111111111111", "b": "Bearer x", "u": "ftp://a:b@h", "s": "123-45-6789"}}
    )
    rules = {key: remark[""]["rem"][0][0] for key, remark in event["_meta"]["extra"].items()}
    assert rules == {
        "c": "@creditcard:filter",
        "b": "@bearer:filter",
        "u": "@urlauth:legacy",
        "s": "@usssn:filter",
    }
    assert event["_meta"]["extra"]["c"][""]["len"] == 16


def test_no_meta_when_nothing_changes() -> None:
    assert "_meta" not in scrub({"extra": {"a": "b"}})


def test_existing_meta_is_merged() -> None:
    event = scrub({"_meta": {"timestamp": {"": {"err": ["x"]}}}, "extra": {"password": "hunter2"}})
    assert event["_meta"] == {"timestamp": {"": {"err": ["x"]}}, "extra": {"password": PASSWORD_REMARK}}


def test_returns_the_same_event() -> None:
    event: dict[str, Any] = {"extra": {"password": "x"}}
    assert scrub_event(event) is event
    assert event["extra"]["password"] == FILTERED


# --- pipeline-shaped inputs that crash (normalize does not fix these shapes) ---------------------


CTX = Context(received=strategies.RECEIVED, project_id=1, key_id=1)


@pytest.mark.parametrize("frames", [1, True, 2.5])
def test_non_list_frames_do_not_crash(frames: Any) -> None:
    # Bug: `enumerate(stacktrace.get("frames") or [])` raises TypeError (scrub.py _scrub_frames);
    # the top-level stacktrace reaches scrub_event unnormalized.
    event = normalize_event({"stacktrace": {"frames": frames}, "extra": {"password": "p"}}, CTX)
    assert scrub_event(event)["extra"]["password"] == FILTERED


@pytest.mark.parametrize("key", ["exception", "threads"])
def test_exception_values_that_are_not_a_list(key: str) -> None:
    # Bug: normalize keeps {"values": true}; scrub then does `enumerate(True)`.
    event = normalize_event({key: {"values": True}, "extra": {"password": "p"}}, CTX)
    assert scrub_event(event)["extra"]["password"] == FILTERED


def test_unhashable_context_type() -> None:
    # Bug: `kind not in KNOWN_CONTEXTS` raises TypeError for a list/dict `type`.
    event = normalize_event({"contexts": {"custom": {"type": ["x"], "secret": "s"}}}, CTX)
    assert scrub_event(event)["contexts"]["custom"]["secret"] == FILTERED


# --- properties ----------------------------------------------------------------------------------

_secretish = st.sampled_from(
    [
        "secret",
        "Bearer abc",
        "4111 1111 1111 1111",
        "https://u:p@h/",
        "123-45-6789",
        "-----BEGIN PRIVATE KEY-----\nabc\n-----END PRIVATE KEY-----",
        "[Filtered]",
        "true",
    ]
)
_values = st.recursive(
    strategies.scalars | _secretish | st.lists(st.text(max_size=6) | _secretish, min_size=2, max_size=2),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(
            st.sampled_from(["password", "token", "x", "auth", "sessionid"]) | st.text(max_size=5),
            inner,
            max_size=3,
        )
    ),
    max_leaves=10,
)


@PROPERTY_SETTINGS
@given(payload=strategies.payloads, ctx=strategies.contexts_without_drift, extra=_values)
def test_scrub_never_raises_and_is_idempotent(payload: dict[str, Any], ctx: Context, extra: Any) -> None:
    avoid_known_bugs(payload)
    payload["extra"] = extra
    event = normalize_event(payload, ctx)
    once = scrub_event(copy.deepcopy(event))
    twice = scrub_event(copy.deepcopy(once))
    once.pop("_meta", None)
    twice.pop("_meta", None)
    assert twice == once


@PROPERTY_SETTINGS
@given(extra=_values)
def test_scrubbing_raw_values_is_idempotent(extra: Any) -> None:
    original = {"extra": extra, "user": extra, "request": {"data": extra}}
    once = scrub_event(copy.deepcopy(original))
    meta_once = once.pop("_meta", None)
    # A remark is recorded exactly when something changed.
    assert (meta_once is None) == (once == original)
    twice = scrub_event(copy.deepcopy(once))
    assert twice.pop("_meta", None) is None  # nothing left to scrub: no new remarks
    assert twice == once


# --- the fast pre-checks never skip what the exact rules would change ------------------------------

_tricky_text = st.text(
    alphabet=st.sampled_from(list('0123456789 -\t\n\x0b\x1c\xa0/:@abBekKnoOpPrstTw_"\\{}é\u212a')),
    max_size=40,
)


@PROPERTY_SETTINGS
@given(value=_tricky_text | _secretish)
def test_string_precheck_never_skips_a_change(value: str) -> None:
    if not scrub_module._may_need_scrub(value):
        assert scrub_module._scrub_string(value) == (value, [])


def _containers(inner: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    keys = st.sampled_from(["password", "Token", "otp", "x"]) | _tricky_text
    return st.lists(inner, max_size=3) | st.dictionaries(keys, inner, max_size=3)


@PROPERTY_SETTINGS
@given(extra=st.recursive(_tricky_text | _secretish | strategies.scalars, _containers, max_leaves=8))
def test_container_precheck_never_skips_a_change(extra: Any) -> None:
    holder = {"extra": {"value": extra}}
    exact = scrub_module._Scrubber({}).value(copy.deepcopy(holder), ())
    if not scrub_module._container_may_need_scrub(holder):
        assert exact == holder


@pytest.mark.parametrize(
    "value",
    [
        "4111\t1111\t1111\t1111",
        "4111\n1111 1111-1111",
        "4111\x0b1111\x0c1111\r1111",
        "123-45-6789",
        "OTP",
        "Two_Factor",
        "PassWord",
        "BEARER x",
    ],
)
def test_prechecks_see_escaped_and_mixed_case_text(value: str) -> None:
    assert scrub_module._scrub_string(value)[1]
    assert scrub_module._may_need_scrub(value)
    assert scrub_module._container_may_need_scrub({"k": [value]})


def test_container_precheck_sees_sensitive_keys() -> None:
    assert scrub_module._container_may_need_scrub({"ToKeN": 1})
    assert not scrub_module._container_may_need_scrub({"id": 140892, "items": [409, 207], "name": "shop"})


_pii_values = st.recursive(_tricky_text | _secretish | strategies.scalars, _containers, max_leaves=6)


def _frames(values: list[Any]) -> list[dict[str, Any]]:
    return [{"function": "f", "vars": v} if i % 2 == 0 else {"function": "g"} for i, v in enumerate(values)]


@PROPERTY_SETTINGS
@given(
    extra=_pii_values,
    crumb_data=_pii_values,
    frame_vars=st.lists(_pii_values, max_size=4),
    context=_pii_values,
    context_name=st.sampled_from(["custom", "auth", "os"]),
    message=_tricky_text,
    header=st.tuples(st.sampled_from(["Authorization", "X-Id", "User-Agent"]), _tricky_text | _secretish),
    cookie=st.tuples(st.sampled_from(["sessionid", "theme"]), _tricky_text),
)
def test_event_precheck_changes_nothing(
    extra: Any,
    crumb_data: Any,
    frame_vars: list[Any],
    context: Any,
    context_name: str,
    message: str,
    header: tuple[str, str],
    cookie: tuple[str, str],
) -> None:
    """One look at all of an event's PII fields decides as looking at each one would."""
    event = {
        "extra": extra,
        "request": {"headers": [list(header)], "cookies": [list(cookie)]},
        "breadcrumbs": {"values": [{"message": message, "data": crumb_data}]},
        "exception": {"values": [{"type": "E", "stacktrace": {"frames": _frames(frame_vars)}}]},
        "threads": {"values": [{"stacktrace": {"frames": _frames(frame_vars[::-1])}}]},
        "contexts": {context_name: context},
    }
    fast = scrub_event(copy.deepcopy(event))
    with (
        mock.patch.object(scrub_module, "_json_hits", lambda value: None),
        mock.patch.object(scrub_module, "_values_may_need_scrub", lambda values: [True] * len(values)),
        mock.patch.object(scrub_module, "_may_need_scrub", lambda value: True),
    ):
        exact = scrub_event(copy.deepcopy(event))
    assert fast == exact


@PROPERTY_SETTINGS
@given(values=st.lists(_pii_values, max_size=5))
def test_values_precheck_decides_as_one_precheck_per_value(values: list[Any]) -> None:
    each = [scrub_module._container_may_need_scrub(value) for value in values]
    assert scrub_module._values_may_need_scrub(values) == each
    hits = scrub_module._json_hits(values)
    if hits is not None:  # scrub_event narrows the search to what is there
        assert scrub_module._values_may_need_scrub(values, scrub_module._Triggers.among(hits)) == each


def test_values_precheck_keeps_values_apart() -> None:
    # Side by side, these numbers would read as a card number; each alone is clean.
    assert scrub_module._values_may_need_scrub([4111, 1111, 1111, 1111]) == [False] * 4
    flags = scrub_module._values_may_need_scrub([1, "x", {"card": "4111 1111 1111 1111"}])
    assert flags == [False, False, True]


def test_event_precheck_looks_at_every_container() -> None:
    clean = {"id": 1, "items": [2, 3]}
    event = {
        "extra": clean,
        "breadcrumbs": {"values": [{"data": {"url": "https://u:hunter2@example.com/"}}]},
        "exception": {
            "values": [
                {"stacktrace": {"frames": [{"vars": clean}, {"vars": {"card": "4111 1111 1111 1111"}}]}}
            ]
        },
    }
    scrubbed = scrub_event(event)
    assert scrubbed["breadcrumbs"]["values"][0]["data"]["url"] == "https://u:[Filtered]@example.com/"
    assert scrubbed["exception"]["values"][0]["stacktrace"]["frames"][1]["vars"]["card"] == FILTERED
    assert scrubbed["extra"] == clean


@pytest.mark.parametrize(
    "value", ["d5109087-4541-42cd-96b4-8072700ab1c9", "1795366894.924722", "ids 1234567 - 8901234 - 5"]
)
def test_long_digit_runs_that_no_rule_matches_need_no_scrub(value: str) -> None:
    assert scrub_module._scrub_string(value) == (value, [])
    assert not scrub_module._may_need_scrub(value)
    assert not scrub_module._container_may_need_scrub({"request_id": value})


def test_digit_rules_see_the_characters_around_a_run() -> None:
    assert scrub_module._may_need_scrub("ssn 123-45-6789.")
    assert scrub_module._may_need_scrub("card:4111-1111-1111-1111")
    assert scrub_module._scrub_string("x123-45-6789") == ("x123-45-6789", [])


def test_white_space_is_relays() -> None:
    # Rust's \s (Unicode White_Space) is not Python's: the separators \x1c-\x1f are not in it.
    assert scrub_extra("4111\x1c1111\x1c1111\x1c1111") == "4111\x1c1111\x1c1111\x1c1111"
    assert scrub_extra("Bearer abc\x1f") == FILTERED
    assert scrub_extra("otp\x00") == FILTERED  # Relay's rules do not see NULs


# --- the linear-time finders give what Relay's regexes give ----------------------------------------

_FINDER_PIECES = [
    *"ab1.-_@é \n:=K\u212aTOKENtoken",
    "-----BEGIN RSA PRIVATE KEY-----",
    "-----END PUBLIC KEY-----",
    "-----END X KEY-----",
    "a@b.co",
    "token=",
    "\r\n",
]
_finder_text = st.lists(st.sampled_from(_FINDER_PIECES), max_size=30).map("".join)


@PROPERTY_SETTINGS
@given(text=_finder_text)
def test_the_finders_match_the_regexes(text: str) -> None:
    assert bool(scrub_module._password_spans(text)) == bool(scrub_module.PASSWORD.search(text))
    assert scrub_module._pem_spans(text) == [m.span(1) for m in scrub_module._PEM.finditer(text)]
    assert scrub_module._email_spans(text) == [m.span() for m in scrub_module._EMAIL.finditer(text)]


@pytest.mark.parametrize(
    "value",
    [
        "token" * 20000,  # 11 s with the regex
        "-----BEGIN PRIVATE KEY-----" * 4000,  # 7 s
        "-----BEGIN PRIVATE KEY-----\nabc\n-----END PRIVATE KEY-----" + "-----BEGIN PUBLIC KEY-----x" * 3000,
    ],
)
def test_pathological_values_are_scrubbed_in_linear_time(value: str) -> None:
    # (Not a timed test: with Python's backtracking regexes these took seconds each.)
    assert scrub_extra(value) == scrub_module._redact(value, scrub_module._FILTER_RULES)[0]


def test_a_pathological_message() -> None:
    message = "a." * 2000 + "@" + "b-" * 2000 + " and x@y.org"
    scrubbed, remarks = scrub_module.scrub_message(message)
    assert scrubbed == message[: -len("x@y.org")] + "[email]"
    assert [rule for rule, _, _ in remarks] == ["@email:replace"]
