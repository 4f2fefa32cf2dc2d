"""Outcome callbacks: a fire's ``callback_url`` hears of its final outcome, whatever it is
(succeeded, or failed for good: dead letter, 410, refused); its ``failure_callback_url`` hears
only of a failure for good. Both come from the schedule (or the one-off message) and are
copied into the fire record when the fire is created.

A callback is itself a fire (kind ``callback``): created with a deterministic id and put in
the time index *before* the outcome is recorded, so a crash cannot lose it and a redelivered
message cannot double it. It then travels the normal pipeline -- signed the same way with
the tenant's secrets, SSRF-guarded, rate-limited, retried with the fire's retry policy --
and its own outcome triggers nothing further.

The body (JSON)::

    {"type": "fire.succeeded" | "fire.failed", "fire_id": ..., "schedule_id": ...,
     "scheduled_at": "<RFC 3339>", "status": "succeeded" | "failed", "attempt": <n>,
     "replay": <bool>,
     "response": {"status_code": <int|null>, "error": <str|null>, "duration_ms": <float>,
                  "body": "<excerpt>"}}

A fan-out parent's (docs/fanout.md) adds ``fanout`` (the gathered counts); its ``attempt``
is the parent's round (1, then one more per replay that reopened it).
"""

from __future__ import annotations

from typing import Any

from app.keys import fire_item
from app.models import Fire, Target, ms_rfc3339
from app.payloads import fire_item_payload
from app.store import Store
from dispatcher.http.client import DeliveryResult

__all__ = ["Callbacks", "callback_body", "callback_fire_id", "callback_urls"]

_FRESH = frozenset({"new", "dispatched"})


def callback_fire_id(fire_id: str, attempt: int, kind: str = "cb") -> str:
    """Deterministic: the outcome of attempt ``attempt`` has one callback per URL kind
    (``cb`` for ``callback_url``, ``fcb`` for ``failure_callback_url``):
    ``<kind>_<fire id's body>o<attempt>``. Fire ids are Crockford base32 (no ``o``; a
    shard's adds ``u<index>``), so the id is one of the contract's ``Id``s and names its
    fire and attempt unambiguously."""
    return f"{kind}_{fire_id.removeprefix('fire_')}o{attempt}"


def callback_urls(fire: Fire, status: str) -> list[tuple[str, str]]:
    """(kind, url) of every callback a final ``status`` of ``fire`` calls for."""
    if fire.kind == "callback":
        return []
    out = []
    if fire.callback_url:
        out.append(("cb", fire.callback_url))
    if status == "failed" and fire.failure_callback_url:
        out.append(("fcb", fire.failure_callback_url))
    return out


def callback_body(
    fire: Fire,
    attempt: int,
    status: str,
    result: DeliveryResult,
    replay: bool = False,
    job: dict[str, Any] | None = None,
    fanout: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """``job``: a long job's outcome (its status and result document), sent as ``job``;
    ``fanout``: a fan-out parent's gathered counts, sent as ``fanout``."""
    body = {
        "type": f"fire.{status}",
        "fire_id": fire.id,
        "schedule_id": fire.schedule_id,
        "scheduled_at": ms_rfc3339(fire.scheduled_at),
        "status": status,
        "attempt": attempt,
        "replay": replay,
        "response": {
            "status_code": result.status_code,
            "error": result.error,
            "duration_ms": round(result.duration_ms, 1),
            "body": result.excerpt,
        },
    }
    if job is not None:
        body["job"] = job
    if fanout is not None:
        body["fanout"] = fanout
    return body


class Callbacks:
    def __init__(self, store: Store) -> None:
        self.store = store

    async def outcome(
        self,
        fire: Fire,
        attempt: int,
        status: str,
        result: DeliveryResult,
        now_ms: int,
        *,
        replay: bool = False,
        job: dict[str, Any] | None = None,
        fanout: dict[str, Any] | None = None,
    ) -> list[str]:
        """Queue the callbacks of a final outcome; returns their fire ids. Idempotent: a
        second call for the same attempt finds the same fires."""
        made = []
        for kind, url in callback_urls(fire, status):
            target = Target(
                url=url,
                method="POST",
                body=callback_body(fire, attempt, status, result, replay, job, fanout),
                timeout_seconds=fire.target.timeout_seconds,
            )
            cb_id = callback_fire_id(fire.id, attempt, kind)
            cb = Fire.new(cb_id, fire.tenant_id, "callback", now_ms, now_ms, target, fire.retry,
                          status="dispatched")  # fmt: skip
            if await self.store.fires.create(cb) in _FRESH:
                await self.store.time.put(
                    fire_item(cb.id, 1), fire_item_payload(cb.tenant_id, cb.id, 1, now_ms), now_ms
                )
            made.append(cb.id)
        return made
