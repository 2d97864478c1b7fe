"""How an `imagegate serve` process logs: uvicorn's configuration with our loggers and a
formatter that makes uvicorn's lines without copying each record, and log records that skip
what no line prints. Only the serving process loads this (uvicorn imports the formatter by
name); an app mounted in another server keeps its host's logging, and `logs.py` (the
request log middleware every app has) imports nothing of uvicorn's.
"""

from __future__ import annotations

import logging

from uvicorn.config import LOGGING_CONFIG
from uvicorn.logging import DefaultFormatter

__all__ = ["LineFormatter", "lean_records", "log_config"]


class LineFormatter(DefaultFormatter):
    """uvicorn's default formatter (`INFO:     message`), without its copy of every record.

    uvicorn copies each record so that colouring its level cannot touch the original; with
    colours off (a log file, a pipe, a container's stdout) there is nothing to protect, and
    the copy was about an eighth of the request log line's cost. The lines are the same."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        if self.use_colors:
            return super().formatMessage(record)
        levelname = record.levelname
        record.__dict__["levelprefix"] = levelname + ":" + " " * (8 - len(levelname))
        return self._style.format(record)


def log_config(level: str) -> dict:
    """uvicorn's logging configuration, our formatter for its default lines, and the
    `imagegate.server` and `imagegate.state` (Redis lost and back) loggers at `level`."""
    config = {**LOGGING_CONFIG, "loggers": dict(LOGGING_CONFIG["loggers"])}
    default = {**LOGGING_CONFIG["formatters"]["default"], "()": f"{__name__}.LineFormatter"}
    config["formatters"] = {**LOGGING_CONFIG["formatters"], "default": default}
    for name in ("imagegate.server", "imagegate.state"):
        config["loggers"][name] = {
            "handlers": ["default"],
            "level": level.upper(),
            "propagate": False,
        }
    return config


def lean_records() -> None:
    """Skip what a log record would gather that no line of `imagegate serve` prints: the
    caller's file and line (a walk up the stack per record), thread, process and process
    name. The logging HOWTO's "Optimization" section names these switches; together they
    are about a third of the per-request log line's cost."""
    logging._srcfile = None  # type: ignore[attr-defined]
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
