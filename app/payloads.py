"""What a time-index item's payload says: written and read here only.

A schedule item names its schedule, ``{"k":"s","t":<tenant id>,"s":<schedule id>}``; a fire
item is a fire message waiting for its moment, ``{"k":"f","t":<tenant id>,"f":<fire id>,
"a":<attempt>,"at":<scheduled ms>,"r":<replay>}``; a long job's watch item (app/jobs/) is
``{"k":"j", ...}`` with the same fields as a fire item, due at the attempt's deadline. A
reader ignores keys it does not know and reads an unreadable payload as ``None`` (the
dispatcher drops such an item).
"""

from __future__ import annotations

import json
from typing import Any, NamedTuple

from app.bus.message import FireMessage

__all__ = [
    "JobWatch",
    "ScheduleRef",
    "fire_item_payload",
    "job_watch_payload",
    "read_payload",
    "schedule_item_payload",
]


class ScheduleRef(NamedTuple):
    """A schedule item: which schedule to plan."""

    tenant_id: str
    schedule_id: str


class JobWatch(NamedTuple):
    """A long job's watch item: attempt ``attempt`` of fire ``fire_id``'s job."""

    tenant_id: str
    fire_id: str
    attempt: int
    scheduled_at_ms: int
    replay: bool

    def settle_message(self) -> FireMessage:
        """The bus message that has an invoker end (or apply) this attempt."""
        return FireMessage(
            self.fire_id, self.tenant_id, self.attempt, self.scheduled_at_ms, self.replay, True
        )


def schedule_item_payload(tenant_id: str, schedule_id: str) -> str:
    return json.dumps({"k": "s", "t": tenant_id, "s": schedule_id}, separators=(",", ":"))


def fire_item_payload(
    tenant_id: str, fire_id: str, attempt: int, scheduled_ms: int, replay: bool = False
) -> str:
    return json.dumps(
        {"k": "f", "t": tenant_id, "f": fire_id, "a": attempt, "at": scheduled_ms, "r": replay},
        separators=(",", ":"),
    )


def job_watch_payload(
    tenant_id: str, fire_id: str, attempt: int, scheduled_ms: int, replay: bool = False
) -> str:
    return json.dumps(
        {"k": "j", "t": tenant_id, "f": fire_id, "a": attempt, "at": scheduled_ms, "r": replay},
        separators=(",", ":"),
    )


def read_payload(payload: str) -> ScheduleRef | FireMessage | JobWatch | None:
    """What the item is: a schedule to plan, a fire message to publish, a long job to
    watch, or None."""
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
        if kind == "j":
            return JobWatch(
                str(data["t"]),
                str(data["f"]),
                int(data["a"]),
                int(data.get("at", 0)),
                bool(data.get("r")),
            )
    except (ValueError, TypeError, KeyError, AttributeError):
        pass
    return None
