"""Pure: what a claimed time-index item turns into (fires to publish, the next instant)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from app import cron
from app.bus.message import FireMessage
from app.ids import cron_fire_id
from app.misfire import plan_misfire
from app.models import Fire, Schedule, from_ms, to_ms


@dataclass(frozen=True)
class ItemPlan:
    fires: tuple[Fire, ...]  # new fire records to create, then publish
    next_due_ms: int  # -1 = the item is finished
    skipped: int = 0


def parse_payload(payload: str) -> dict[str, Any]:
    try:
        data = json.loads(payload)
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def fire_item_payload(
    tenant_id: str, fire_id: str, attempt: int, scheduled_ms: int, replay: bool = False
) -> str:
    return json.dumps(
        {"k": "f", "t": tenant_id, "f": fire_id, "a": attempt, "at": scheduled_ms, "r": replay},
        separators=(",", ":"),
    )


def fire_message(data: dict[str, Any]) -> FireMessage:
    return FireMessage(
        fire_id=data["f"],
        tenant_id=data["t"],
        attempt=int(data["a"]),
        scheduled_at_ms=int(data.get("at", 0)),
        replay=bool(data.get("r")),
    )


def timing_of(s: Schedule) -> cron.Timing:
    anchor = from_ms(s.start_at if s.start_at is not None else s.created_at)
    return cron.parse(s.cron, s.timezone, seed=s.id, anchor=anchor)


def first_due_ms(s: Schedule, now_ms: int) -> int | None:
    """The first instant a new (or resumed, or edited) schedule fires, strictly after now."""
    after = now_ms if s.start_at is None else max(now_ms, s.start_at - 1)
    nxt = timing_of(s).next_after(from_ms(after))
    if nxt is None:
        return None
    ms = to_ms(nxt)
    if s.end_at is not None and ms > s.end_at:
        return None
    return ms


def plan_schedule(s: Schedule, due_ms: int, now_ms: int) -> ItemPlan:
    """Fires for a schedule item claimed at ``now_ms`` that was due at ``due_ms``."""
    timing = timing_of(s)
    plan = plan_misfire(
        timing,
        from_ms(due_ms),
        from_ms(now_ms),
        policy=s.misfire.policy,
        grace_seconds=s.misfire.grace_seconds,
    )
    fires = []
    for at in plan.fires:
        ms = to_ms(at)
        if s.end_at is not None and ms > s.end_at:
            continue
        fires.append(
            Fire(
                id=cron_fire_id(s.id, ms),
                tenant_id=s.tenant_id,
                schedule_id=s.id,
                kind="cron",
                scheduled_at=ms,
                status="dispatched",
                created_at=now_ms,
                updated_at=now_ms,
                target=s.target,
                retry=s.retry,
                callback_url=s.callback_url,
                failure_callback_url=s.failure_callback_url,
            )
        )
    nxt = -1 if plan.next_at is None else to_ms(plan.next_at)
    if s.end_at is not None and nxt > s.end_at:
        nxt = -1
    return ItemPlan(tuple(fires), nxt, plan.skipped)
