"""`client.schedules`: a tenant's cron schedules (`/v1/schedules`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Literal

from cronhook import _protocol as p
from cronhook._codec import encode
from cronhook._protocol import UNSET, Call, PageQuery, Unset
from cronhook._resource import M, Resource, endpoint, paginated
from cronhook.models import (
    BulkResult,
    Fanout,
    Fire,
    Misfire,
    Preview,
    RetrySettings,
    Schedule,
    Target,
)

__all__ = ["Schedules"]

JSONObject = Mapping[str, Any]
Overlap = Literal["allow", "forbid"]


def _create(
    name: str,
    cron: str,
    target: Target | JSONObject,
    *,
    timezone: str | None = None,
    retry: RetrySettings | JSONObject | None = None,
    paused: bool | None = None,
    start_at: datetime | None = None,
    end_at: datetime | None = None,
    misfire: Misfire | JSONObject | None = None,
    overlap: Overlap | None = None,
    metadata: Mapping[str, str] | None = None,
    callback_url: str | None = None,
    failure_callback_url: str | None = None,
    fanout: Fanout | JSONObject | None = None,
    idempotency_key: str | None = None,
) -> Call[Schedule]:
    """Create a schedule. `cron`: 5 fields (minute first), 6 (seconds first), 7 (plus year),
    a macro (`@hourly`), `every 90s` or `at <RFC 3339>`; `timezone` an IANA name (default
    UTC). Options left None take the server's defaults; `fanout` makes every fire call the
    target once per shard (docs/fanout.md). Raises `ValidationError` naming each bad field
    (`cron`, `target.url`, `fanout.shards`, ...)."""
    fields = dict(locals())  # the arguments: each one a field of the body
    del fields["idempotency_key"]
    payload = p.body(**fields)
    return p.post("/v1/schedules", p.model(Schedule), payload, idempotency_key=idempotency_key)


def _create_many(
    items: Sequence[JSONObject], *, idempotency_key: str | None = None
) -> Call[BulkResult]:
    """Create up to 1,000 schedules in one request, each given as the JSON body `create`
    sends (`{"name", "cron", "target", ...}`). Each is checked on its own: the result says,
    per item in order, the created schedule or the problem with its fields named
    `items.<index>.<field>`; one bad item does not stop the others."""
    payload = {"items": [encode(dict(item)) for item in items]}
    return p.post(
        "/v1/schedules:bulk", p.model(BulkResult), payload, idempotency_key=idempotency_key
    )


def _list(
    *, paused: bool | None = None, name_prefix: str | None = None, limit: int | None = None
) -> PageQuery[Schedule]:
    """Every schedule, newest first (`limit` is the page size). `paused=True` keeps only
    paused ones, `False` only active ones; `name_prefix` filters by name."""
    params = p.query(paused=paused, name_prefix=name_prefix, limit=limit)
    return PageQuery("/v1/schedules", Schedule, params)


def _get(schedule_id: str) -> Call[Schedule]:
    """One schedule; `NotFoundError` if it is not this tenant's."""
    return p.get(p.path("/v1/schedules/{}", schedule_id), p.model(Schedule))


def _update(
    schedule_id: str,
    *,
    name: str | Unset = UNSET,
    cron: str | Unset = UNSET,
    timezone: str | Unset | None = UNSET,
    target: Target | JSONObject | Unset = UNSET,
    retry: RetrySettings | JSONObject | Unset | None = UNSET,
    paused: bool | Unset = UNSET,
    start_at: datetime | Unset | None = UNSET,
    end_at: datetime | Unset | None = UNSET,
    misfire: Misfire | JSONObject | Unset | None = UNSET,
    overlap: Overlap | Unset | None = UNSET,
    metadata: Mapping[str, str | None] | Unset | None = UNSET,
    callback_url: str | Unset | None = UNSET,
    failure_callback_url: str | Unset | None = UNSET,
    fanout: Fanout | JSONObject | Unset | None = UNSET,
) -> Call[Schedule]:
    """Change the fields given (a JSON merge patch): objects merge field by field, None
    resets a field to its default (or removes a header or metadata key inside a dict), the
    rest replaces. Applies from the schedule's next instant; `version` goes up by one."""
    fields = dict(locals())  # the arguments: each one a field of the patch
    del fields["schedule_id"]
    patch = p.merge_patch(**fields)
    if not patch:
        raise ValueError("update needs at least one field to change")
    return p.patch(p.path("/v1/schedules/{}", schedule_id), p.model(Schedule), patch)


def _delete(schedule_id: str) -> Call[None]:
    """Remove the schedule; its fires stay readable until they expire."""
    return p.delete(p.path("/v1/schedules/{}", schedule_id))


def _pause(schedule_id: str, *, idempotency_key: str | None = None) -> Call[Schedule]:
    """No fires until resumed (idempotent)."""
    path = p.path("/v1/schedules/{}/pause", schedule_id)
    return p.post(path, p.model(Schedule), idempotency_key=idempotency_key)


def _resume(schedule_id: str, *, idempotency_key: str | None = None) -> Call[Schedule]:
    """Fire again from the next instant after now (missed instants are not caught up)."""
    path = p.path("/v1/schedules/{}/resume", schedule_id)
    return p.post(path, p.model(Schedule), idempotency_key=idempotency_key)


def _trigger(schedule_id: str, *, idempotency_key: str | None = None) -> Call[Fire]:
    """Fire now, once, besides the cron (also while paused): a `manual` fire, fresh id."""
    path = p.path("/v1/schedules/{}/trigger", schedule_id)
    return p.post(path, p.model(Fire), idempotency_key=idempotency_key)


def _preview(
    schedule_id: str, *, count: int | None = None, after: datetime | None = None
) -> Call[Preview]:
    """The next `count` instants (default 10, at most 100) strictly after `after` (default
    now), in UTC and on the schedule's wall clock, with the DST rule that placed each."""
    path = p.path("/v1/schedules/{}/preview", schedule_id)
    return p.get(path, p.model(Preview), p.query(count=count, after=after))


def _fires(
    schedule_id: str, *, status: str | None = None, limit: int | None = None
) -> PageQuery[Fire]:
    """The schedule's fires, newest first, each with every attempt; `status` keeps only
    the fires in that status (`failed`, `succeeded`, ...)."""
    path = p.path("/v1/schedules/{}/fires", schedule_id)
    return PageQuery(path, Fire, p.query(status=status, limit=limit))


class Schedules(Resource[M]):
    """Create, read, change, pause, trigger and preview schedules."""

    create = endpoint(_create)
    create_many = endpoint(_create_many)
    list = paginated(_list)
    get = endpoint(_get)
    update = endpoint(_update)
    delete = endpoint(_delete)
    pause = endpoint(_pause)
    resume = endpoint(_resume)
    trigger = endpoint(_trigger)
    preview = endpoint(_preview)
    fires = paginated(_fires)
