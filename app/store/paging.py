"""Keyset pagination over a sorted set, newest (highest score) first.

A cursor names the last member of the previous page and its score, base64url-encoded so
clients treat it as opaque. The next page starts right after that member's current rank;
if the member is gone meanwhile, where it was. Members added meanwhile with a lower
score are still reached; none is returned twice.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from typing import Any

from app.errors import FieldError, ValidationFailed

_CURSOR = re.compile(r"^(-?\d{1,16}):([A-Za-z0-9_.:-]{1,120})$")


@dataclass(frozen=True)
class Page:
    items: list[str]
    next_cursor: str | None


def encode_cursor(score: float, member: str) -> str:
    return base64.urlsafe_b64encode(f"{int(score)}:{member}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[int, str]:
    """(score, member); ValidationFailed naming ``cursor`` when it is not one of ours."""
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, ValueError):
        text = ""
    m = _CURSOR.match(text)
    if not m:
        raise ValidationFailed([FieldError("cursor", "is not a cursor this API returned")])
    return int(m.group(1)), m.group(2)


async def zpage_desc(r: Any, key: str, limit: int, cursor: str | None) -> Page:
    """One page of ``key``'s members, highest score first."""
    if cursor is None:
        rows = await r.zrevrange(key, 0, limit, withscores=True)
    else:
        score, member = decode_cursor(cursor)
        rank = await r.zrevrank(key, member)
        if rank is not None:
            rows = await r.zrevrange(key, rank + 1, rank + limit + 1, withscores=True)
        else:
            # the member is gone: continue after where it was (ties on its score are in
            # descending member order, as Redis keeps them)
            ties = await r.zrevrangebyscore(key, score, score, withscores=True)
            rows = [(m, s) for m, s in ties if m < member][: limit + 1]
            rows += await r.zrevrangebyscore(
                key, f"({score}", "-inf", start=0, num=limit + 1, withscores=True
            )
    page = rows[:limit]
    more = len(rows) > limit
    nxt = encode_cursor(page[-1][1], page[-1][0]) if more and page else None
    return Page([m for m, _ in page], nxt)


async def cursor_at(r: Any, key: str, member: str) -> str | None:
    """The cursor that continues right after ``member``."""
    score = await r.zscore(key, member)
    return None if score is None else encode_cursor(score, member)


async def zpage_window(
    r: Any, key: str, limit: int, cursor: str | None, after: int | None, upto: int | None
) -> Page:
    """One page of ``key``'s members, highest score first, scores in (after, upto]:
    O(log n + page) however many members lie outside the window or before the cursor."""
    top: Any = "+inf" if upto is None else upto
    low: Any = "-inf" if after is None else f"({after}"
    skip: set[str] = set()
    if cursor is not None:
        score, member = decode_cursor(cursor)
        top = score if upto is None else min(score, upto)
        # members tied with the cursor's score come in descending member order: those
        # not below the cursor's member were on earlier pages
        ties = await r.zrevrangebyscore(key, score, score)
        skip = {m for m in ties if m >= member}
    rows = await r.zrevrangebyscore(
        key, top, low, start=0, num=limit + 1 + len(skip), withscores=True
    )
    rows = [(m, s) for m, s in rows if m not in skip]
    page = rows[:limit]
    more = len(rows) > limit
    nxt = encode_cursor(page[-1][1], page[-1][0]) if more and page else None
    return Page([m for m, _ in page], nxt)
