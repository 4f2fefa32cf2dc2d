"""Building a schedule from API input: every domain rule beyond the JSON schema."""

from __future__ import annotations

from typing import Any

from app import cron
from app.errors import FieldError, QuotaExceeded, ValidationFailed
from app.ids import new_id
from app.models import Misfire, RetrySettings, Schedule, Target, Tenant, parse_rfc3339, to_ms
from dispatcher.ssrf import check_target_url

RESERVED_HEADERS = frozenset(
    {
        "host",
        "content-length",
        "transfer-encoding",
        "connection",
        "idempotency-key",
        "user-agent",
        "te",
        "upgrade",
        "trailer",
        "expect",
        "keep-alive",
        "proxy-authorization",
    }
)
RESERVED_PREFIXES = ("webhook-", "cronhook-")


def _instant(body: dict[str, Any], name: str, errors: list[FieldError]) -> int | None:
    raw = body.get(name)
    if raw is None:
        return None
    try:
        return to_ms(parse_rfc3339(raw))
    except ValueError:
        errors.append(FieldError(name, "must be an RFC 3339 instant with an offset or Z"))
        return None


def target_errors(
    target: dict[str, Any], tenant: Tenant, allow_private: bool, root: str = "target"
) -> list[FieldError]:
    errors: list[FieldError] = []
    reason = check_target_url(
        target["url"], allow_private=allow_private or tenant.limits.allowed_private_targets
    )
    if reason:
        errors.append(FieldError(f"{root}.url", reason))
    for name in target.get("headers") or {}:
        low = name.lower()
        if low in RESERVED_HEADERS or low.startswith(RESERVED_PREFIXES):
            errors.append(
                FieldError(f"{root}.headers.{name}", "is set by cronhook and cannot be overridden")
            )
    body, _ = Target(**target).encoded_body()
    if len(body) > tenant.limits.max_body_bytes:
        errors.append(
            FieldError(
                f"{root}.body",
                f"is {len(body)} bytes; this tenant allows at most {tenant.limits.max_body_bytes}",
            )
        )
    return errors


def timing_errors(
    expr: str, tz: str, seed: str, anchor_ms: int, tenant: Tenant
) -> list[FieldError]:
    from app.models import from_ms

    try:
        timing = cron.parse(expr, tz, seed=seed, anchor=from_ms(anchor_ms))
    except cron.CronError as e:
        return [FieldError(e.field, str(e))]
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


def build_schedule(
    body: dict[str, Any], tenant: Tenant, now_ms: int, *, allow_private: bool
) -> Schedule:
    """A new schedule from a schema-valid body; raises ValidationFailed naming fields."""
    sid = new_id("sch")
    errors: list[FieldError] = []
    start_at = _instant(body, "start_at", errors)
    end_at = _instant(body, "end_at", errors)
    if start_at is not None and end_at is not None and end_at <= start_at:
        errors.append(FieldError("end_at", "must be after start_at"))
    tz = body.get("timezone", "UTC")
    anchor = start_at if start_at is not None else now_ms
    errors += timing_errors(body["cron"], tz, sid, anchor, tenant)
    errors += target_errors(body["target"], tenant, allow_private)
    for name in ("callback_url", "failure_callback_url"):
        url = body.get(name)
        reason = url and check_target_url(
            url, allow_private=allow_private or tenant.limits.allowed_private_targets
        )
        if reason:
            errors.append(FieldError(name, reason))
    retry = RetrySettings(**(body.get("retry") or {}))
    if retry.max_backoff_seconds < retry.min_backoff_seconds:
        errors.append(
            FieldError("retry.max_backoff_seconds", "must be at least retry.min_backoff_seconds")
        )
    if errors:
        raise ValidationFailed(errors)
    return Schedule(
        id=sid,
        tenant_id=tenant.id,
        name=body["name"],
        cron=body["cron"],
        timezone=tz,
        target=Target(**body["target"]),
        retry=retry,
        created_at=now_ms,
        updated_at=now_ms,
        paused=bool(body.get("paused", False)),
        start_at=start_at,
        end_at=end_at,
        misfire=Misfire(**(body.get("misfire") or {})),
        overlap=body.get("overlap", "allow"),
        metadata=dict(body.get("metadata") or {}),
        callback_url=body.get("callback_url"),
        failure_callback_url=body.get("failure_callback_url"),
    )


def check_quota(tenant: Tenant, current: int) -> None:
    if current >= tenant.limits.max_schedules:
        raise QuotaExceeded(
            f"this tenant may have at most {tenant.limits.max_schedules} schedules",
            field="max_schedules",
        )
