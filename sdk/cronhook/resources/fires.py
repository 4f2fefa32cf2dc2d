"""`client.fires` and `client.dead_letters`: fires with every attempt, replays, failures."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from cronhook import _protocol as p
from cronhook._protocol import Call, PageQuery
from cronhook._resource import M, Resource, endpoint, paginated
from cronhook.models import Fire, Shard

__all__ = ["DeadLetters", "Fires"]


def _get(fire_id: str) -> Call[Fire]:
    """One fire with every attempt (start, duration, status code or error, excerpt)."""
    return p.get(p.path("/v1/fires/{}", fire_id), p.model(Fire))


def _replay(fire_id: str, *, idempotency_key: str | None = None) -> Call[Fire]:
    """Deliver a finished fire (succeeded, or failed: a dead letter) again at once, with the
    same fire id; `ConflictError` while it is still in progress."""
    path = p.path("/v1/fires/{}/replay", fire_id)
    return p.post(path, p.model(Fire), idempotency_key=idempotency_key)


def _shards(fire_id: str, *, limit: int | None = None) -> PageQuery[Shard]:
    """The shards of a fan-out fire made so far, lowest index first, each with its status
    and last answer (docs/fanout.md); `NotFoundError` for a fire that is not a fan-out."""
    return PageQuery(p.path("/v1/fires/{}/shards", fire_id), Shard, p.query(limit=limit))


FireStatus = Literal[
    "scheduled",
    "dispatched",
    "delivering",
    "running",
    "succeeded",
    "retrying",
    "failed",
    "skipped",
]
FireKind = Literal["cron", "manual", "message", "replay", "callback"]


def _list(
    *,
    status: FireStatus | None = None,
    kind: FireKind | None = None,
    schedule_id: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int | None = None,
) -> PageQuery[Fire]:
    """Every fire of the tenant (one-off messages too), newest scheduled first. `since`
    (excluded) and `until` (included) bound `scheduled_at`; `status`, `kind` and
    `schedule_id` keep only the fires that have them."""
    params = p.query(
        status=status,
        kind=kind,
        schedule_id=schedule_id,
        since=since,
        until=until,
        limit=limit,
    )
    return PageQuery("/v1/fires", Fire, params)


def _dead_letters(*, limit: int | None = None) -> PageQuery[Fire]:
    """Fires that failed for good, newest failure first; `fires.replay` sends one again."""
    return PageQuery("/v1/dead-letters", Fire, p.query(limit=limit))


class Fires(Resource[M]):
    """List the tenant's fires, read one, replay one, list a fan-out's shards."""

    list = paginated(_list)
    get = endpoint(_get)
    replay = endpoint(_replay)
    shards = paginated(_shards)


class DeadLetters(Resource[M]):
    """Fires that failed for good."""

    list = paginated(_dead_letters)
