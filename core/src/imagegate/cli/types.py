"""Option types that hold the library's own bounds (`imagegate.bounds`), so a bad value is
a usage error (exit 2) naming the option, never a traceback or a silent default."""

from __future__ import annotations

import click

__all__ = ["BYTE_SIZE", "SECONDS"]


class Seconds(click.ParamType):
    """A positive, finite number of seconds (`inf`, `nan`, 0 and negatives are refused)."""

    name = "seconds"

    def convert(self, value, param, ctx) -> float:
        from imagegate.bounds import check_timeout

        try:
            return check_timeout(value if isinstance(value, float) else float(value))
        except ValueError:
            self.fail(f"{value!r} is not a positive, finite number of seconds", param, ctx)


class ByteSize(click.ParamType):
    """Bytes: `65536`, `64KB`, `50MB` (1 KB = 1024 bytes)."""

    name = "size"

    def convert(self, value, param, ctx) -> int:
        from imagegate.bounds import parse_byte_size

        if isinstance(value, int):
            return value
        try:
            return parse_byte_size(str(value), "size")
        except ValueError:
            self.fail(f"{value!r} is not a size like 65536, 64KB or 50MB", param, ctx)


SECONDS = Seconds()
BYTE_SIZE = ByteSize()
