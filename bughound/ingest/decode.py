"""Request bodies: Content-Encoding (gzip, deflate, br, zstd) with bounded output.

Decompression never produces more than `limit` bytes, so a small bomb cannot take the memory.
"""

from __future__ import annotations

import io
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
