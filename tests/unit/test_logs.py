"""The JSON log line: the fields and bytes ``json.dumps(default=str)`` writes for the dict
``{"ts", "level", "logger", "msg", <extras>, "exc"}``, whichever path the formatter takes."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from app.logs import JsonFormatter, fire_fields

_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


def reference(record: logging.LogRecord) -> str:
    """The line as a plain dict through the standard encoder (what the formatter promises)."""
    created = datetime.fromtimestamp(int(record.created), tz=UTC)
    out: dict[str, Any] = {
        "ts": f"{created:%Y-%m-%dT%H:%M:%S}.{int(record.msecs):03d}Z",
        "level": record.levelname.lower(),
        "logger": record.name,
        "msg": record.getMessage(),
    }
    out.update({k: v for k, v in vars(record).items() if k not in _STANDARD})
    if record.exc_info:
        out["exc"] = logging.Formatter().formatException(record.exc_info)
    return json.dumps(out, default=str)


def record(
    msg: str = "attempt %s of %s: %s",
    args: tuple[Any, ...] = (1, "fire_x", "succeeded"),
    extra: dict[str, Any] | None = None,
    *,
    level: int = logging.INFO,
    name: str = "cronhook.invoker",
    exc_info: Any = None,
) -> logging.LogRecord:
    logger = logging.getLogger(name)
    return logger.makeRecord(name, level, __file__, 1, msg, args, exc_info, extra=extra)


ATTEMPT = {
    **fire_fields("fire_x", "ten_y", 2, "sch_z"),
    "outcome": "retrying",
    "status_code": None,
    "error": "timeout",
    "duration_ms": 10000.4,
}


@pytest.mark.parametrize(
    "rec",
    [
        record(extra=ATTEMPT),
        record("no extras", ()),
        record('ünïcode ☃ and "quotes" \n\t', (), {"note": "é ☃ \x00", "n": -0.0}),
        record("odd values", (), {"when": datetime(2026, 1, 2, tzinfo=UTC), "d": Decimal("1.5")}),
        record("nested", (), {"deep": {"a": [1, 2.5, None, True, {"b": "c"}]}, "t": (1, "x")}),
        record("floats", (), {"nan": float("nan"), "inf": float("-inf"), "big": 10**30}),
        record("levels", (), {"x": 1}, level=logging.WARNING, name="cronhook.api"),
        record("custom level", (), level=25, name="ä.b"),
        # extras named like the line's own fields take their place, as in the dict
        record("collide", (), {"level": "mine", "ts": 1, "z": 2}),
        record("collide exc", (), {"exc": "mine"}),
    ],
)
def test_the_line_is_the_dict_the_encoder_writes(rec: logging.LogRecord) -> None:
    line = JsonFormatter().format(rec)
    assert line == reference(rec)
    parsed = json.loads(line)
    assert parsed["msg"] == rec.getMessage() and parsed["logger"] == rec.name


def test_a_traceback_goes_last() -> None:
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        rec = record("failed %s", ("x",), {"fire_id": "f"}, exc_info=sys.exc_info())
    line = JsonFormatter().format(rec)
    assert line == reference(rec)
    parsed = json.loads(line)
    assert list(parsed)[-2:] == ["fire_id", "exc"] and "RuntimeError: boom" in parsed["exc"]


def test_lines_of_one_formatter_share_no_state_but_the_second() -> None:
    fmt = JsonFormatter()
    first = record(extra=ATTEMPT)
    second = record("other", (), {"x": 1}, level=logging.ERROR, name="cronhook.dispatcher")
    second.created, second.msecs = first.created + 1, 5.0
    assert [fmt.format(r) for r in (first, second, first)] == [
        reference(first),
        reference(second),
        reference(first),
    ]
