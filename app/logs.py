"""Logging: one JSON object per line in production, a readable line in `cronhook dev`."""

from __future__ import annotations

import json
import logging
import sys
import time
from collections.abc import Callable
from json.encoder import encode_basestring_ascii
from typing import Any

_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}
_OWN = frozenset({"ts", "level", "logger", "msg", "exc"})  # the JSON line's own fields


def _encoder() -> Callable[[Any], str]:
    """``json.JSONEncoder(default=str).encode``, its C encoder built once, not per line.

    No circular-reference bookkeeping: a self-containing extra ends in ``RecursionError``
    instead of ``ValueError``, either one reported by the handler's ``handleError``.
    """
    make = getattr(json.encoder, "c_make_encoder", None)  # _json's; not in typeshed
    if make is None:
        return json.JSONEncoder(default=str).encode
    encode = make(None, str, encode_basestring_ascii, None, ": ", ", ", False, False, True)

    def encoded(value: Any) -> str:
        if isinstance(value, str):
            return encode_basestring_ascii(value)
        return "".join(encode(value, 0))

    return encoded


class JsonFormatter(logging.Formatter):
    """``{"ts", "level", "logger", "msg", <extras>, "exc"}``, as ``json.dumps(default=str)``
    writes that dict, with the parts that repeat (the second, the level and logger) kept."""

    def __init__(self) -> None:
        super().__init__()
        self._encode = _encoder()
        self._second = (-1, "")  # the last whole second formatted, and its text
        self._heads: dict[tuple[str, str], str] = {}  # (levelname, logger) -> their fields

    def _timestamp(self, record: logging.LogRecord) -> str:
        second = int(record.created)
        if second != self._second[0]:
            self._second = (second, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second)))
        return f"{self._second[1]}.{int(record.msecs):03d}Z"

    def _head(self, record: logging.LogRecord) -> str:
        key = (record.levelname, record.name)
        head = self._heads.get(key)
        if head is None:
            level, name = self._encode(key[0].lower()), self._encode(key[1])
            head = self._heads[key] = f'"level": {level}, "logger": {name}, "msg": '
        return head

    def format(self, record: logging.LogRecord) -> str:
        extra = {k: v for k, v in vars(record).items() if k not in _STANDARD}
        if record.exc_info or not _OWN.isdisjoint(extra):
            return self._slow(record, extra)
        line = f'{{"ts": "{self._timestamp(record)}", {self._head(record)}'
        line += self._encode(record.getMessage())
        if extra:
            return f"{line}, {self._encode(extra)[1:]}"
        return line + "}"

    def _slow(self, record: logging.LogRecord, extra: dict[str, Any]) -> str:
        """The same line built as a dict: extras named like the line's own fields replace
        them in place, and a traceback goes last."""
        out: dict[str, Any] = {
            "ts": self._timestamp(record),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        out.update(extra)
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return self._encode(out)


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
