"""Request body Content-Encoding (Relay `RequestDecompressionLayer`; PROTOCOL.md §6, §7)."""

from __future__ import annotations

import functools
import gzip
import zlib
from collections.abc import Callable

import brotli
import orjson
import pytest
import zstandard

from bughound.ingest.decode import decode_body, is_legacy_python_client, repair_python_json
from bughound.ingest.errors import IngestError

DATA = b'{"event_id":"9ec79c33ec9942ab8353589fcb2e04dc","message":"hello"}\n' * 200
LIMIT = 1024 * 1024
BOMB_SIZE = 50 * 1024 * 1024


def _raw_deflate(data: bytes) -> bytes:
    compressor = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    return compressor.compress(data) + compressor.flush()


COMPRESSORS: dict[str, Callable[[bytes], bytes]] = {
    "gzip": gzip.compress,
    "deflate": zlib.compress,
    "br": lambda data: brotli.compress(data, quality=4),
    "zstd": lambda data: zstandard.ZstdCompressor().compress(data),
}


def _error(data: bytes, encoding: str, limit: int = LIMIT) -> IngestError:
    with pytest.raises(IngestError) as info:
        decode_body(data, encoding, limit)
    return info.value


@pytest.mark.parametrize("encoding", sorted(COMPRESSORS))
def test_round_trip(encoding: str) -> None:
    assert decode_body(COMPRESSORS[encoding](DATA), encoding, LIMIT) == DATA


@pytest.mark.parametrize("encoding", ["GZIP", " gzip ", "x-gzip"])
def test_gzip_spellings(encoding: str) -> None:
    assert decode_body(gzip.compress(DATA), encoding, LIMIT) == DATA


def test_raw_deflate_is_accepted_too() -> None:
    assert decode_body(_raw_deflate(DATA), "deflate", LIMIT) == DATA


@pytest.mark.parametrize("encoding", ["", "identity", "utf-8", "UTF-8"])
def test_ignored_encodings_pass_the_body_through(encoding: str) -> None:
    assert decode_body(DATA, encoding, LIMIT) == DATA


def test_stacked_encodings_are_undone_in_reverse() -> None:
    body = brotli.compress(gzip.compress(DATA))
    assert decode_body(body, "gzip, br", LIMIT) == DATA


def test_empty_payloads() -> None:
    assert decode_body(b"", "identity", LIMIT) == b""
    assert decode_body(gzip.compress(b""), "gzip", LIMIT) == b""


@pytest.mark.parametrize("encoding", sorted(COMPRESSORS))
@pytest.mark.parametrize("keep", [0.5, 0.9])
def test_truncated_stream_is_a_bad_request(encoding: str, keep: float) -> None:
    body = COMPRESSORS[encoding](DATA)
    error = _error(body[: int(len(body) * keep)], encoding)
    assert (error.status, error.detail) == (400, "invalid compression format")


@pytest.mark.parametrize("encoding", sorted(COMPRESSORS))
def test_stream_missing_its_last_byte_is_a_bad_request(encoding: str) -> None:
    error = _error(COMPRESSORS[encoding](DATA)[:-1], encoding)
    assert (error.status, error.detail) == (400, "invalid compression format")


@pytest.mark.parametrize("encoding", sorted(COMPRESSORS))
def test_garbage_is_a_bad_request(encoding: str) -> None:
    error = _error(b"this is not compressed at all" * 3, encoding)
    assert (error.status, error.detail) == (400, "invalid compression format")


def test_unknown_encoding_is_unsupported_media_type() -> None:
    # Relay's tower-http decompression layer answers 415 for an encoding it does not know.
    error = _error(DATA, "compress")
    assert error.status == 415
    assert "compress" in error.detail


def test_several_zstd_frames_are_all_decoded() -> None:
    compressor = zstandard.ZstdCompressor()
    body = compressor.compress(b"a" * 1000) + compressor.compress(b"b" * 1000)
    assert decode_body(body, "zstd", 10_000) == b"a" * 1000 + b"b" * 1000


def test_truncated_zstd_is_a_bad_request() -> None:
    body = zstandard.ZstdCompressor().compress(bytes(range(256)) * 400)[:-20]
    error = _error(body, "zstd")
    assert (error.status, error.detail) == (400, "invalid compression format")


@pytest.mark.parametrize("encoding", sorted(COMPRESSORS))
def test_output_over_the_limit_is_too_large(encoding: str) -> None:
    error = _error(COMPRESSORS[encoding](DATA), encoding, limit=len(DATA) - 1)
    assert (error.status, error.detail) == (413, "request content exceeded size limits")


@pytest.mark.parametrize("encoding", sorted(COMPRESSORS))
def test_output_exactly_at_the_limit_is_accepted(encoding: str) -> None:
    assert decode_body(COMPRESSORS[encoding](DATA), encoding, limit=len(DATA)) == DATA


def test_identity_body_over_the_limit_is_too_large() -> None:
    assert _error(DATA, "identity", limit=10).status == 413


@functools.cache
def _bomb(encoding: str) -> bytes:
    """50 MB of zeros, compressed in chunks (the plain 50 MB are never held in memory)."""
    chunk = bytes(1024 * 1024)
    chunks = BOMB_SIZE // len(chunk)
    if encoding in ("gzip", "deflate"):
        compressor = zlib.compressobj(
            9, zlib.DEFLATED, 16 + zlib.MAX_WBITS if encoding == "gzip" else zlib.MAX_WBITS
        )
        return b"".join(compressor.compress(chunk) for _ in range(chunks)) + compressor.flush()
    if encoding == "br":
        br = brotli.Compressor(quality=4)
        return b"".join(br.process(chunk) for _ in range(chunks)) + br.finish()
    zstd = zstandard.ZstdCompressor().compressobj()
    return b"".join(zstd.compress(chunk) for _ in range(chunks)) + zstd.flush()


@pytest.mark.parametrize("encoding", sorted(COMPRESSORS))
def test_decompression_bomb_is_too_large(encoding: str) -> None:
    bomb = _bomb(encoding)
    assert len(bomb) < LIMIT  # small on the wire
    error = _error(bomb, encoding, limit=LIMIT)
    assert (error.status, error.detail) == (413, "request content exceeded size limits")


def test_concatenated_gzip_members_are_all_decoded() -> None:
    # RFC 1952 §2.2: a gzip file is a series of members. Relay's tower-http GzipDecoder is
    # created with `multiple_members(true)` (decompression/body.rs), so every member is decoded.
    body = gzip.compress(b"first member;") + gzip.compress(b"second member")
    assert decode_body(body, "gzip", LIMIT) == b"first member;second member"


# --- NaN and Infinity from old Python clients (Relay `endpoints/store.rs`, json-forensics) ----------


@pytest.mark.parametrize(
    ("body", "repaired"),
    [
        # json-forensics' own cases: same length, tokens become 0 and the minus stays.
        (b'{"nan":NaN,"inf":Infinity,"-inf":-Infinity}', b'{"nan":0  ,"inf":0       ,"-inf":-0       }'),
        (
            b'{"nan":"nan","Infinity":"-Infinity","other":NaN}',
            b'{"nan":"nan","Infinity":"-Infinity","other":0  }',
        ),
        (rb'["NaN\"NaN\"NaN",NaN]', rb'["NaN\"NaN\"NaN",0  ]'),
        (b'{"x":[NaN, 1.5, -2, 3e10]}', b'{"x":[0  , 1.5, -2, 3e10]}'),
        # Integers beyond 64 bits become 0 as well; floats and the largest u64 are kept.
        (
            b"[NaN,18446744073709551616,-99999999999999999999,18446744073709551615,1.5e300]",
            b"[0  ,0                   ,-0                   ,18446744073709551615,1.5e300]",
        ),
    ],
)
def test_repair_python_json(body: bytes, repaired: bytes) -> None:
    out = repair_python_json(body)
    assert out == repaired
    assert len(out) == len(body)
    orjson.loads(out)


@pytest.mark.parametrize(
    "body",
    [b'{"message":"NaN and Infinity are fine in strings"}', b'{"a":1}', b"{broken", b"", b'"NaN'],
)
def test_nothing_to_repair(body: bytes) -> None:
    assert repair_python_json(body) is None


def test_repair_of_a_huge_digit_run_does_not_convert_it() -> None:
    body = b"[NaN," + b"9" * 100_000 + b"]"
    out = repair_python_json(body)
    assert out is not None
    assert orjson.loads(out) == [0, 0]


@pytest.mark.parametrize(
    ("client", "legacy"),
    [
        ("raven-python/6.0.0", True),
        ("sentry-python/0.1", True),
        ("sentry.python/2.75.0", False),  # the modern SDK sends envelopes; Relay does not repair
        ("raven-js/3.0", False),
        ("raven-python", False),
        (None, False),
    ],
)
def test_legacy_python_clients(client: str | None, legacy: bool) -> None:
    assert is_legacy_python_client(client) is legacy
