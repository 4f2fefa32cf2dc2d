"""Logging: one JSON object per line in production, a readable line in `cronhook dev`."""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import Any

_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__()
        self._encoder = json.JSONEncoder(default=str)
        self._second = (-1, "")  # the last whole second formatted, and its text

    def _timestamp(self, record: logging.LogRecord) -> str:
        second = int(record.created)
        if second != self._second[0]:
            self._second = (second, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second)))
        return f"{self._second[1]}.{int(record.msecs):03d}Z"

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": self._timestamp(record),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        out.update({k: v for k, v in vars(record).items() if k not in _STANDARD})
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return self._encoder.encode(out)


class ConsoleFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        extra = {k: v for k, v in vars(record).items() if k not in _STANDARD}
        tail = " ".join(f"{k}={v}" for k, v in extra.items())
        line = (
            f"{time.strftime('%H:%M:%S', time.localtime(record.created))} "
            f"{record.levelname:<7} {record.name:<20} {record.getMessage()}"
        )
        if tail:
            line += f"  {tail}"
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


def fire_fields(
    fire_id: str, tenant_id: str, attempt: int | None = None, schedule_id: str | None = None
) -> dict[str, Any]:
    """The fields every log line about one fire carries (``extra=``)."""
    out: dict[str, Any] = {"fire_id": fire_id, "tenant_id": tenant_id}
    if schedule_id:
        out["schedule_id"] = schedule_id
    if attempt is not None:
        out["attempt"] = attempt
    return out


def setup(fmt: str, level: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else ConsoleFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # no formatter here prints them: not looked up for every record
    logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False
    for noisy in ("aiormq", "aio_pika", "hypercorn.access"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
