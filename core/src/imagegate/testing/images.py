"""Real, complete images for tests, made without an imaging library."""

from __future__ import annotations

import struct
import zlib

__all__ = ["png"]


def png(width: int = 64, height: int = 64, shade: int = 0) -> bytes:
    """A complete greyscale PNG of `width` x `height`, filled with one shade (0-255)."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(kind + body))
        return struct.pack(">I", len(body)) + kind + body + crc

    rows = b"".join(b"\x00" + bytes([shade % 256]) * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )
