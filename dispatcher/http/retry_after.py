"""The ``Retry-After`` response header (RFC 9110 section 10.2.3), read as seconds."""

from __future__ import annotations

import re
import time
from datetime import UTC
from email.utils import parsedate_to_datetime

__all__ = ["parse_retry_after"]

_DELAY_SECONDS = re.compile(r"\d{1,12}(?:\.\d{1,6})?")


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """A ``Retry-After`` header as seconds from ``now`` (epoch; default: the clock).

    Accepts delay-seconds (a decimal fraction is tolerated) and an HTTP date (a date in
    the past gives 0). Absent, negative, or garbage values give ``None``.
    """
    if value is None:
        return None
    value = value.strip()
    if not value or len(value) > 64:
        return None
    if _DELAY_SECONDS.fullmatch(value):
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when is None:
        return None  # type: ignore[unreachable]  # older Pythons return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    current = time.time() if now is None else now
    return max(0.0, when.timestamp() - current)
