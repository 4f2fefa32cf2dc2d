"""What a time-index item's payload says: written and read here only.

A schedule item names its schedule, ``{"k":"s","t":<tenant id>,"s":<schedule id>}``; a fire
item is a fire message waiting for its moment, ``{"k":"f","t":<tenant id>,"f":<fire id>,
"a":<attempt>,"at":<scheduled ms>,"r":<replay>}``. A reader ignores keys it does not know
and reads an unreadable payload as ``None`` (the dispatcher drops such an item).
"""

from __future__ import annotations

import json
from typing import Any, NamedTuple

from app.bus.message import FireMessage

__all__ = ["ScheduleRef", "fire_item_payload", "read_payload", "schedule_item_payload"]


class ScheduleRef(NamedTuple):
    """A schedule item: which schedule to plan."""

    tenant_id: str
    schedule_id: str


def schedule_item_payload(tenant_id: str, schedule_id: str) -> str:
    return json.dumps({"k": "s", "t": tenant_id, "s": schedule_id}, separators=(",", ":"))


def fire_item_payload(
    tenant_id: str, fire_id: str, attempt: int, scheduled_ms: int, replay: bool = False
) -> str:
    return json.dumps(
        {"k": "f", "t": tenant_id, "f": fire_id, "a": attempt, "at": scheduled_ms, "r": replay},
        separators=(",", ":"),
    )


def read_payload(payload: str) -> ScheduleRef | FireMessage | None:
    """What the item is: a schedule to plan, a fire message to publish, or None."""
    try:
        data: Any = json.loads(payload)
        kind = data.get("k")
        if kind == "s":
            return ScheduleRef(str(data["t"]), str(data["s"]))
        if kind == "f":
            return FireMessage(
                fire_id=str(data["f"]),
                tenant_id=str(data["t"]),
                attempt=int(data["a"]),
                scheduled_at_ms=int(data.get("at", 0)),
                replay=bool(data.get("r")),
            )
    except (ValueError, TypeError, KeyError, AttributeError):
        pass
    return None
