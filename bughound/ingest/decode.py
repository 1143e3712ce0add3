"""Request bodies: Content-Encoding (gzip, deflate, br, zstd) with bounded output, and the JSON
that old Python clients write.

Decompression never produces more than `limit` bytes, so a small bomb cannot take the memory.
"""

from __future__ import annotations

import io
import re
import zlib

import brotli
import zstandard

from bughound.ingest.errors import IngestError, bad_request, too_large

IGNORED_ENCODINGS = frozenset({"", "identity", "utf-8"})  # sentry-ruby sends "", old Java "UTF-8"


def _bad_compression() -> Exception:
    return bad_request("invalid compression format")


def _zlib(data: bytes, limit: int, wbits: int) -> bytes:
    chunks: list[bytes] = []
    total = 0
    while True:
        d = zlib.decompressobj(wbits)
        try:
            out = d.decompress(data, limit + 1 - total)
        except zlib.error:
            raise _bad_compression() from None
        total += len(out)
        if total > limit:
            raise too_large()
        if not d.eof:
            raise _bad_compression()  # truncated stream
        chunks.append(out)
        data = d.unused_data
        # gzip bodies may hold several members (RFC 1952), all decoded, as Relay does.
        if not data or wbits <= zlib.MAX_WBITS:
            return b"".join(chunks)


def _brotli(data: bytes, limit: int) -> bytes:
    d = brotli.Decompressor()
    chunks: list[bytes] = []
    total = 0
    try:
        chunk = d.process(data, output_buffer_limit=limit + 1)
        while True:
            chunks.append(chunk)
            total += len(chunk)
            if total > limit:
                raise too_large()
            if d.is_finished() or d.can_accept_more_data():
                break
            chunk = d.process(b"", output_buffer_limit=limit + 1 - total)
    except brotli.error:
        raise _bad_compression() from None
    if not d.is_finished():
        raise _bad_compression()
    return b"".join(chunks)


def _zstd(data: bytes, limit: int) -> bytes:
    dctx = zstandard.ZstdDecompressor()
    try:
        # First a bounded pass (stream_reader never yields more than asked), so that a bomb
        # stops at the limit; then decompressobj, which reports a truncated last frame.
        total = 0
        with dctx.stream_reader(io.BytesIO(data), read_across_frames=True) as reader:
            while chunk := reader.read(min(1 << 20, limit + 1 - total)):
                total += len(chunk)
                if total > limit:
                    raise too_large()
        out = []
        while data:
            d = dctx.decompressobj()
            out.append(d.decompress(data))
            if not d.eof:
                raise _bad_compression()
            data = d.unused_data
    except zstandard.ZstdError:
        raise _bad_compression() from None
    return b"".join(out)


def decode_body(data: bytes, content_encoding: str, limit: int) -> bytes:
    """Undo each `Content-Encoding` (applied in order, so undone in reverse)."""
    encodings = [e.strip().lower() for e in content_encoding.split(",")]
    for encoding in reversed(encodings):
        if encoding in IGNORED_ENCODINGS:
            continue
        if encoding in ("gzip", "x-gzip"):
            data = _zlib(data, limit, 16 + zlib.MAX_WBITS)
        elif encoding == "deflate":
            # RFC 1950 (zlib) as Relay expects; raw deflate too, as some clients send it.
            try:
                data = _zlib(data, limit, zlib.MAX_WBITS)
            except IngestError as error:
                if error.status != 400:
                    raise
                data = _zlib(data, limit, -zlib.MAX_WBITS)
        elif encoding == "br":
            data = _brotli(data, limit)
        elif encoding == "zstd":
            data = _zstd(data, limit)
        else:  # as Relay's decompression layer answers
            raise IngestError(415, f"unsupported content encoding {encoding!r}")
    if len(data) > limit:
        raise too_large()
    return data


# Old Python clients (`json.dumps` with its default allow_nan) write the non-JSON tokens `NaN`,
# `Infinity` and `-Infinity`. Relay's store endpoint rewrites them for clients whose
# `sentry_client` starts with one of these (`endpoints/store.rs`, with getsentry/json-forensics).
LEGACY_PYTHON_CLIENTS = ("raven-python/", "sentry-python/")
_U64_MAX = b"18446744073709551615"
# A string (left as it is, also one still open at the end), a number, or a bare NaN/Infinity;
# scanned left to right, so text inside strings is never taken for a token.
_PYTHON_JSON_TOKENS = re.compile(
    rb'"[^"\\]*(?:\\.[^"\\]*)*(?:"|\Z)|(-?)(\d+)(\.\d+)?([eE][+-]?\d+)?|NaN|Infinity', re.DOTALL
)
_BIG_INTEGER = re.compile(rb"\d{20}")


def is_legacy_python_client(client: str | None) -> bool:
    return client is not None and client.startswith(LEGACY_PYTHON_CLIENTS)


def _replace_token(m: re.Match[bytes]) -> bytes:
    token = m.group(0)
    if token[:1] == b'"':
        return token
    if m.group(2) is None:  # NaN or Infinity (a minus before Infinity stays: -0)
        return b"0".ljust(len(token))
    digits = m.group(2)
    if m.group(3) is None and m.group(4) is None and _beyond_u64(digits):
        return m.group(1) + b"0".ljust(len(digits))
    return token


def _beyond_u64(digits: bytes) -> bool:
    significant = digits.lstrip(b"0")  # compared as text: no int() of a megabyte of digits
    return (len(significant), significant) > (len(_U64_MAX), _U64_MAX)


def repair_python_json(body: bytes) -> bytes | None:
    """`body` with NaN/Infinity made `0` (and integers beyond 64 bits made `0`) as json-forensics
    does, keeping every other byte where it was; None when there is nothing to repair.

    The caller tries it only on a body that failed to parse, so the common case costs nothing;
    unlike Relay, which rewrites every body of these clients, a valid body keeps its big integers
    (as floats), and digits after a decimal point are never touched (json-forensics zeroes a
    fraction of more than 20 digits).
    """
    if b"NaN" not in body and b"Infinity" not in body and not _BIG_INTEGER.search(body):
        return None
    repaired = _PYTHON_JSON_TOKENS.sub(_replace_token, body)
    return repaired if repaired != body else None
