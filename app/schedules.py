"""Building a schedule from API input: every domain rule beyond the JSON schema."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from app import cron
from app.errors import FieldError, ValidationFailed
from app.fanout import FanoutSettings, fanout_errors, fanout_input
from app.headers import header_error, value_error
from app.ids import new_id
from app.models import (
    Misfire,
    RetrySettings,
    Schedule,
    Target,
    Tenant,
    from_ms,
    parse_rfc3339,
    rfc3339,
    to_ms,
)
from app.ssrf import check_target_url

CALLBACKS = ("callback_url", "failure_callback_url")


# Every rule below looks only at fields of the right JSON type: a field of another type is
# the schema's to report, so a body that breaks the schema still gets every rule's verdict.


def instant_field(body: dict[str, Any], name: str, errors: list[FieldError]) -> int | None:
    raw = body.get(name)
    if not isinstance(raw, str):
        return None
    try:
        return to_ms(parse_rfc3339(raw))
    except (ValueError, OverflowError):
        errors.append(FieldError(name, "must be an RFC 3339 instant with an offset or Z"))
        return None


def _allow_private(tenant: Tenant, allow_private: bool) -> bool:
    return allow_private or tenant.limits.allowed_private_targets


def target_errors(
    target: dict[str, Any], tenant: Tenant, allow_private: bool, root: str = "target"
) -> list[FieldError]:
    errors: list[FieldError] = []
    url = target.get("url")
    reason = isinstance(url, str) and check_target_url(
        url, allow_private=_allow_private(tenant, allow_private)
    )
    if reason:
        errors.append(FieldError(f"{root}.url", reason))
    headers = target.get("headers")
    for name, value in (headers if isinstance(headers, dict) else {}).items():
        reason = isinstance(value, str) and header_error(name, value)
        if reason:
            errors.append(FieldError(f"{root}.headers.{name}", reason))
    content_type = target.get("content_type")
    reason = isinstance(content_type, str) and value_error(content_type)
    if reason:
        errors.append(FieldError(f"{root}.content_type", reason))
    job = target.get("job")
    if isinstance(job, dict):
        beat, total = job.get("heartbeat_seconds"), job.get("timeout_seconds")
        numbers = all(isinstance(v, int | float) for v in (beat, total))
        if beat is not None and numbers and beat > total:
            errors.append(
                FieldError(
                    f"{root}.job.heartbeat_seconds", f"must be at most {root}.job.timeout_seconds"
                )
            )
    body, _ = Target(url="", body=target.get("body")).encoded_body()
    if len(body) > tenant.limits.max_body_bytes:
        errors.append(
            FieldError(
                f"{root}.body",
                f"is {len(body)} bytes; this tenant allows at most {tenant.limits.max_body_bytes}",
            )
        )
    return errors


def fanout_field_errors(body: dict[str, Any], tenant: Tenant) -> list[FieldError]:
    """A schedule's or message's ``fanout`` against the tenant's limits (docs/fanout.md)."""
    limits = tenant.limits
    found = fanout_errors(body.get("fanout"), limits.max_fanout_shards, limits.max_body_bytes)
    return [FieldError(name, message) for name, message in found]


def callback_errors(body: dict[str, Any], tenant: Tenant, allow_private: bool) -> list[FieldError]:
    errors = []
    for name in CALLBACKS:
        url = body.get(name)
        reason = isinstance(url, str) and check_target_url(
            url, allow_private=_allow_private(tenant, allow_private)
        )
        if reason:
            errors.append(FieldError(name, reason))
    return errors


def retry_errors(retry: RetrySettings, root: str = "retry") -> list[FieldError]:
    if retry.max_backoff_seconds < retry.min_backoff_seconds:
        return [
            FieldError(
                f"{root}.max_backoff_seconds", f"must be at least {root}.min_backoff_seconds"
            )
        ]
    return []


def timing_errors(
    expr: str, tz: str, seed: str, anchor_ms: int, tenant: Tenant, after_ms: int | None = None
) -> list[FieldError]:
    """Why the cron cannot be used: a syntax or range fault, an instant that can never come,
    no instant left after ``after_ms`` (None: not checked), or more often than the tenant
    allows."""
    try:
        timing = cron.parse(expr, tz, seed=seed, anchor=from_ms(anchor_ms))
    except cron.CronError as e:
        if e.field == "timezone" and tz != "UTC":  # the cron's own errors, in UTC
            rest = timing_errors(expr, "UTC", seed, anchor_ms, tenant)
            return [FieldError(e.field, str(e)), *rest]
        return [FieldError(e.field, str(e))]
    if after_ms is not None and timing.next_after(from_ms(after_ms)) is None:
        after = rfc3339(from_ms(after_ms))
        return [FieldError("cron", f"can never fire again: it has no instant after {after}")]
    gap = timing.min_gap_seconds()
    if gap < tenant.limits.min_interval_seconds:
        return [
            FieldError(
                "cron",
                f"fires every {gap:g}s; this tenant's minimum interval is "
                f"{tenant.limits.min_interval_seconds:g}s",
            )
        ]
    return []


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def raw_retry_errors(raw: Any, root: str = "retry") -> list[FieldError]:
    """``retry_errors`` on a body's ``retry`` when its backoffs are numbers."""
    if not isinstance(raw, dict):
        return []
    low, high = raw.get("min_backoff_seconds", 5.0), raw.get("max_backoff_seconds", 36_000.0)
    if not (_number(low) and _number(high)):
        return []
    return retry_errors(RetrySettings(min_backoff_seconds=low, max_backoff_seconds=high), root)


def schedule_errors(
    body: dict[str, Any],
    tenant: Tenant,
    now_ms: int,
    *,
    allow_private: bool,
    sid: str,
    base: Schedule | None = None,
) -> list[FieldError]:
    """Every domain rule's verdict on a schedule body (a new one, or ``base`` changed); any
    body: fields of the wrong type are skipped, the schema reports them."""
    errors: list[FieldError] = []
    start_at = instant_field(body, "start_at", errors)
    end_at = instant_field(body, "end_at", errors)
    if start_at is not None and end_at is not None and end_at <= start_at:
        errors.append(FieldError("end_at", "must be after start_at"))
    expr, tz = body.get("cron"), body.get("timezone") or "UTC"
    anchor = start_at if start_at is not None else (base.created_at if base else now_ms)
    # A new timing must fire again; an unchanged one may have run its course (an `at`).
    changed = base is None or (base.cron, base.timezone, base.start_at) != (expr, tz, start_at)
    after = max(now_ms, start_at - 1 if start_at is not None else now_ms)
    if isinstance(expr, str) and isinstance(tz, str):
        errors += timing_errors(expr, tz, sid, anchor, tenant, after if changed else None)
    if isinstance(body.get("target"), dict):
        errors += target_errors(body["target"], tenant, allow_private)
    errors += callback_errors(body, tenant, allow_private) + fanout_field_errors(body, tenant)
    return errors + raw_retry_errors(body.get("retry"))


def build_schedule(
    body: dict[str, Any],
    tenant: Tenant,
    now_ms: int,
    *,
    allow_private: bool,
    base: Schedule | None = None,
) -> Schedule:
    """A schedule from a schema-valid body (a new one, or ``base`` changed: same id and
    creation time, next version); raises ValidationFailed naming every bad field."""
    sid = base.id if base else new_id("sch")
    created = base.created_at if base else now_ms
    errors = schedule_errors(body, tenant, now_ms, allow_private=allow_private, sid=sid, base=base)
    if errors:
        raise ValidationFailed(errors)
    start_at = instant_field(body, "start_at", errors)
    end_at = instant_field(body, "end_at", errors)
    tz = body.get("timezone") or "UTC"
    retry = RetrySettings.from_json(body.get("retry") or {})
    paused = bool(body.get("paused", False))
    return Schedule(
        id=sid,
        tenant_id=tenant.id,
        name=body["name"],
        cron=body["cron"],
        timezone=tz,
        target=Target(**body["target"]),
        retry=retry,
        created_at=created,
        updated_at=now_ms,
        version=base.version + 1 if base else 1,
        paused=paused,
        paused_reason=base.paused_reason if base and paused else None,
        start_at=start_at,
        end_at=end_at,
        misfire=Misfire(**(body.get("misfire") or {})),
        overlap=body.get("overlap") or "allow",
        metadata=dict(body.get("metadata") or {}),
        callback_url=body.get("callback_url"),
        failure_callback_url=body.get("failure_callback_url"),
        fanout=FanoutSettings.from_json(body.get("fanout")),
    )


def schedule_input(s: Schedule) -> dict[str, Any]:
    """The writable fields of a schedule as the API takes them (what a PATCH merges into)."""
    target = {k: v for k, v in asdict(s.target).items() if v is not None}
    if not target.get("headers"):
        target.pop("headers", None)
    out: dict[str, Any] = {
        "name": s.name,
        "cron": s.cron,
        "timezone": s.timezone,
        "target": target,
        "retry": asdict(s.retry),
        "paused": s.paused,
        "misfire": asdict(s.misfire),
        "overlap": s.overlap,
        "metadata": dict(s.metadata),
    }
    for name, ms in (("start_at", s.start_at), ("end_at", s.end_at)):
        if ms is not None:
            out[name] = rfc3339(from_ms(ms))
    for name in CALLBACKS:
        if getattr(s, name):
            out[name] = getattr(s, name)
    if s.fanout is not None:
        out["fanout"] = fanout_input(s.fanout)
    return out
