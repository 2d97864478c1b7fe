"""The bounds every surface shares: timeouts, image sizes, tokens per request.

One rule each, so `timeout=0` or an oversized image means the same to the library, the CLI
and the server: a timeout is a positive, finite number of seconds (0 is not "no limit");
an image larger than `max_image_bytes` is refused, whether downloaded or handed back by a
plugin; one request brings at most `MAX_TOKENS` tokens.
"""

from __future__ import annotations

import math
import os
import re

__all__ = [
    "DEFAULT_MAX_IMAGE_BYTES",
    "MAX_TOKENS",
    "check_byte_size",
    "check_timeout",
    "describe_size",
    "max_image_bytes",
    "parse_byte_size",
]

DEFAULT_MAX_IMAGE_BYTES = 50 * 1024 * 1024
"""A 2048x2048 PNG is ~12 MB at worst; anything past this is not an image we asked for."""

MAX_IMAGE_ENV = "IMAGEGATE_MAX_IMAGE_BYTES"

MAX_TOKENS = 16
"""Tokens one request may bring (each can cost one upstream call when it rotates)."""

_UNITS = {"": 1, "b": 1, "kb": 1024, "k": 1024, "mb": 1024**2, "m": 1024**2, "gb": 1024**3}
_SIZE = re.compile(r"^\s*(\d+)\s*([a-z]*)\s*$", re.IGNORECASE)


def check_timeout(value: object, name: str = "timeout") -> float:
    """`value` as seconds, or ValueError unless it is a positive, finite number."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{name} must be a number of seconds, not {type(value).__name__}")
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a positive, finite number of seconds (got {value!r})")
    return float(value)


def check_byte_size(value: object, name: str) -> int:
    """`value` as a byte count, or ValueError unless it is a positive integer."""
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"{name} must be a positive number of bytes (got {value!r})")
    return value


def parse_byte_size(text: str, name: str) -> int:
    """`65536`, `64KB`, `50MB` (1 KB = 1024 bytes) as bytes; ValueError for anything else."""
    found = _SIZE.match(text)
    unit = found.group(2).lower() if found else None
    if found is None or unit not in _UNITS:
        raise ValueError(f"{name} must be a size like 65536, 64KB or 50MB (got {text!r})")
    return check_byte_size(int(found.group(1)) * _UNITS[unit], name)


def describe_size(size: int) -> str:
    """`52428800` -> `50 MB`, for messages that state a limit."""
    for unit, factor in (("GB", 1024**3), ("MB", 1024**2), ("KB", 1024)):
        if size >= factor:
            return f"{size / factor:.4g} {unit}"
    return f"{size} bytes"


def max_image_bytes(value: int | None) -> int:
    """The image size cap: `value`, else `IMAGEGATE_MAX_IMAGE_BYTES`, else 50 MB."""
    if value is not None:
        return check_byte_size(value, "max_image_bytes")
    configured = os.environ.get(MAX_IMAGE_ENV, "").strip()
    if configured:
        return parse_byte_size(configured, MAX_IMAGE_ENV)
    return DEFAULT_MAX_IMAGE_BYTES
