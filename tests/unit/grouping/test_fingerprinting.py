"""Fingerprints: client fingerprints and their variables, server-side rules (project and
built-in), hybrid fingerprints, checksums and the fallback."""

from __future__ import annotations

from typing import Any

import pytest

from bughound.grouping.component import hash_values
from bughound.grouping.engine import validate_rules
from bughound.grouping.fingerprint_rules import match_rules, parse_fingerprinting
from bughound.grouping.fingerprinting import InvalidFingerprinting, fingerprint_type, resolve_fingerprint
from tests.unit.grouping.helpers import exception_event, grouped, normalized

EVENT = exception_event(
    "python",
    {"module": "m", "function": "f", "filename": "f.py", "abs_path": "/a/f.py", "package": "/lib/pkg.so"},
    type="ValueError",
    value="bad thing",
)


@pytest.mark.parametrize(
    ("fingerprint", "kind"),
    [
        (["{{ default }}"], "default"),
        (["{{default}}"], "default"),
        (["{{ default }}", "x"], "hybrid"),
        (["x", "{{  default  }}"], "hybrid"),
        (["x"], "custom"),
        (["{{ type }}"], "custom"),
    ],
)
def test_fingerprint_types(fingerprint: list[str], kind: str) -> None:
    assert fingerprint_type(fingerprint) == kind


def test_variables_resolve_from_the_event() -> None:
    event = normalized({**EVENT, "tags": {"foo": "bar"}, "logger": "app.log", "transaction": "/index"})
    variables = [
        "{{ type }}",
        "{{ error.value }}",
        "{{function}}",
        "{{ stack.module }}",
        "{{ package }}",
        "{{ path }}",
        "{{ stack.filename }}",
        "{{ level }}",
        "{{ logger }}",
        "{{ tags.foo }}",
        "{{ transaction }}",
        "{{ message }}",
        "{{ bogus }}",
        "literal",
    ]
    assert resolve_fingerprint(variables, event) == [
        "ValueError",
        "bad thing",
        "f",
        "m",
        "pkg.so",
        "/a/f.py",
        "f.py",
        "error",
        "app.log",
        "bar",
        "/index",
        "bad thing",
        "{{ bogus }}",  # an unknown variable stays as written (the 2023 config's legacy handling)
        "literal",
    ]


def test_missing_values_get_sentrys_placeholders() -> None:
    event = normalized({"message": "hi"})
    variables = ["{{ type }}", "{{ value }}", "{{ function }}", "{{ module }}", "{{ package }}", "{{ path }}"]
    variables += ["{{ stack.filename }}", "{{ tags.x }}", "{{ transaction }}", "{{ logger }}"]
    assert resolve_fingerprint(variables, event) == [
        "<no-type>",
        "<no-value>",
        "<no-function>",
        "<no-module>",
        "<no-package>",
        "<no-abs-path>",
        "<no-filename>",
        "<no-value-for-tag-x>",
        "<no-transaction>",
        "<no-logger>",
    ]


def test_custom_client_fingerprint_replaces_the_default_grouping() -> None:
    g = grouped({**EVENT, "fingerprint": ["{{ type }}", "checkout"]})
    assert g.hashes == [hash_values(["ValueError", "checkout"])]
    info = g.grouping_info()["variants"]
    assert info["custom_fingerprint"] == {
        "type": "custom_fingerprint",
        "key": "custom_fingerprint",
        "description": "custom fingerprint",
        "hash": hash_values(["ValueError", "checkout"]),
        "hint": None,
        "contributes": True,
        "values": ["ValueError", "checkout"],
        "client_values": ["{{ type }}", "checkout"],
    }
    system = info["system_exception_stacktrace"]
    assert (system["contributes"], system["hash"]) == (False, None)
    assert system["hint"] == "ignored because custom client fingerprint takes precedence"


def test_default_fingerprint_spellings_group_like_no_fingerprint() -> None:
    plain = grouped(EVENT)
    assert grouped({**EVENT, "fingerprint": ["{{default}}"]}).hashes == plain.hashes
    assert grouped({**EVENT, "fingerprint": []}).hashes == plain.hashes


def test_hybrid_fingerprint_salts_the_default_hash() -> None:
    plain = grouped(EVENT)
    g = grouped({**EVENT, "fingerprint": ["{{ default }}", "x"]})
    system = g.variants["system"]
    assert system.contributes
    assert g.hashes == [system.hash]
    assert system.hash not in plain.hashes
    assert grouped({**EVENT, "fingerprint": ["{{ default }}", "y"]}).hashes != g.hashes
    data = g.grouping_info()["variants"]["system_exception_stacktrace_hybrid_fingerprint"]
    assert data["type"] == "salted_component"
    assert data["values"] == ["{{ default }}", "x"]
    assert data["description"] == "exception stacktrace \u2014 all frames and custom fingerprint"
    assert data["component"]["id"] == "system"


def test_numbers_in_client_fingerprints_are_text() -> None:
    assert (
        grouped({**EVENT, "fingerprint": ["a", 1]}).hashes
        == grouped({**EVENT, "fingerprint": ["a", "1"]}).hashes
    )


# --- server-side rules ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "parsed"),
    [
        ("type:x -> a", ['type:"x" -> "a"']),
        ('message:"hello *" -> greeting', ['message:"hello *" -> "greeting"']),
        (
            'logger:"app.*" level:error -> a, {{ default }}',
            ['logger:"app.*" level:"error" -> "a{{ default }}"'],
        ),
        ('!type:x -> a title="T {{ type }}"', ['!type:"x" -> "a" title="T {{ type }}"']),
        ("# comment\n\ntype:x -> a\n", ['type:"x" -> "a"']),
    ],
)
def test_rule_syntax(text: str, parsed: list[str]) -> None:
    assert [rule.text for rule in parse_fingerprinting(text)] == parsed


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("type:x", 'Invalid syntax near "type:x" (line 1, column 1)'),
        ("type:x -> ", 'Invalid syntax near "type:x -> " (line 1, column 1)'),
        ("bogus:1 -> a", "Unknown matcher 'bogus'"),
    ],
)
def test_invalid_rules(text: str, message: str) -> None:
    with pytest.raises(InvalidFingerprinting) as info:
        parse_fingerprinting(text)
    assert isinstance(info.value, ValueError)
    assert str(info.value) == message
    assert validate_rules(fingerprinting=text) == message
    with pytest.raises(InvalidFingerprinting):
        grouped(EVENT, project_fingerprinting=text)


RICH = {
    "platform": "python",
    "logger": "app.db",
    "level": "error",
    "message": "hello world",
    "tags": {"server": "web-1"},
    "release": "1.2",
    "sdk": {"name": "sentry.python", "version": "1"},
    "exception": {
        "values": [
            {
                "type": "x",
                "value": "a timeout here",
                "stacktrace": {"frames": [{"function": "f", "abs_path": "/srv/app/x.py", "in_app": True}]},
            }
        ]
    },
}


@pytest.mark.parametrize(
    ("rule", "matches"),
    [
        ("type:x -> a", True),
        ("type:X -> a", False),
        ("!type:x -> a", False),
        ('message:"hello *" -> a', True),
        ('logger:"app.*" level:error -> a', True),
        ('logger:"APP.*" -> a', False),
        ('tags.server:"web-*" -> a', True),
        ('tags.missing:"*" -> a', False),
        ("sdk:sentry.python -> a", True),
        ('release:"1.*" -> a', True),
        ("app:yes function:f -> a", True),
        ("app:no function:f -> a", False),
        ("path:**/x.py -> a", True),
        ("path:**/X.PY -> a", True),  # paths match case-insensitively
        ('value:"*timeout*" -> a', True),
        ("family:javascript -> a", False),
        ("family:other -> a", True),
    ],
)
def test_rule_matchers(rule: str, matches: bool) -> None:
    assert (match_rules(parse_fingerprinting(rule), normalized(RICH)) is not None) is matches


def test_project_rule_with_title() -> None:
    g = grouped(
        EVENT, project_fingerprinting='error.type:ValueError -> my-group title="Bad: {{ error.value }}"'
    )
    assert g.hashes == [hash_values(["my-group"])]
    assert g.title_override == "Bad: bad thing"
    assert g.event["fingerprint"] == ["my-group"]
    custom = g.grouping_info()["variants"]["custom_fingerprint"]
    assert custom["matched_rule"] == 'type:"ValueError" -> "my-group" title="Bad: {{ error.value }}"'
    assert g.variants["system"].hint == "ignored because custom server fingerprint takes precedence"


def test_project_rule_with_default_is_hybrid() -> None:
    g = grouped(EVENT, project_fingerprinting="error.type:ValueError -> my-group, {{ default }}")
    assert g.title_override is None
    assert g.hashes and g.hashes != grouped(EVENT).hashes
    data = g.grouping_info()["variants"]["system_exception_stacktrace_hybrid_fingerprint"]
    assert data["values"] == ["my-group", "{{ default }}"]


def test_first_matching_rule_wins_and_overrides_the_client() -> None:
    rules = "type:ValueError -> first\ntype:* -> second"
    g = grouped({**EVENT, "fingerprint": ["client"]}, project_fingerprinting=rules)
    assert g.hashes == [hash_values(["first"])]
    assert g.variants["custom_fingerprint"].as_dict()["client_values"] == ["client"]


def test_builtin_chunk_load_rule() -> None:
    event: dict[str, Any] = {
        "platform": "javascript",
        "exception": {"values": [{"type": "ChunkLoadError", "value": "Loading chunk 3 failed"}]},
    }
    g = grouped(event)
    assert g.hashes == [hash_values(["chunkloaderror"])]
    data = g.grouping_info()["variants"]["built_in_fingerprint"]
    assert (data["type"], data["description"]) == ("custom_fingerprint", "Sentry-defined fingerprint")
    assert data["matched_rule"] == 'family:"javascript" type:"ChunkLoadError" -> "chunkloaderror"'
    other = grouped({**event, "platform": "python"})
    assert other.hashes != g.hashes
    # Project rules come first
    assert grouped(event, project_fingerprinting="type:ChunkLoadError -> mine").hashes == [
        hash_values(["mine"])
    ]


def test_builtin_hydration_rule_uses_the_transaction_tag() -> None:
    message = "Text content does not match server-rendered HTML."
    event = {"platform": "javascript", "message": message, "tags": {"transaction": "/page"}}
    assert grouped(event).hashes == [hash_values(["hydrationerror", "/page"])]


# --- checksums and the fallback --------------------------------------------------------------


def test_md5_checksum_is_used_as_is() -> None:
    g = grouped({**EVENT, "checksum": "a" * 32})
    assert g.hashes == ["a" * 32]
    assert list(g.variants) == ["checksum"]


def test_other_checksums_are_hashed() -> None:
    g = grouped({**EVENT, "checksum": "not-a-hash"})
    assert g.hashes == [hash_values(["not-a-hash"])]
    assert g.grouping_info()["variants"]["hashed_checksum"]["raw_checksum"] == "not-a-hash"


def test_fallback_when_nothing_contributes() -> None:
    g = grouped({"platform": "python"})
    assert list(g.variants) == ["fallback"]
    assert g.hashes == [hash_values([])]
