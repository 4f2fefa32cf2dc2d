"""Domain objects as the API shows them (instants in RFC 3339)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from app.cron import Occurrence
from app.jobs import JobState
from app.models import (
    Attempt,
    Fire,
    Schedule,
    SigningSecret,
    Tenant,
    from_ms,
    local_rfc3339,
    rfc3339,
)
from app.store.records import ApiKeyRecord
from app.store.skips import SkipCounts

_NO_SKIPS = SkipCounts()


def instant(ms: int | None) -> str | None:
    return None if ms is None else rfc3339(from_ms(ms))


def tenant_view(t: Tenant, usage: dict[str, int] | None = None) -> dict[str, Any]:
    view = {
        "id": t.id,
        "name": t.name,
        "created_at": instant(t.created_at),
        "updated_at": instant(t.updated_at or t.created_at),
        "limits": asdict(t.limits),
        "metadata": t.metadata,
    }
    if usage is not None:
        view["usage"] = usage
    return view


def secret_view(s: SigningSecret) -> dict[str, Any]:
    return {
        "prefix": s.secret[:10],
        "created_at": instant(s.created_at),
        "expires_at": instant(s.expires_at),
    }


def api_key_view(k: ApiKeyRecord) -> dict[str, Any]:
    return {"id": k.key_id, "prefix": k.prefix, "name": k.name, "created_at": instant(k.created_at)}


def schedule_view(
    s: Schedule, next_fire_ms: int | None, skips: SkipCounts = _NO_SKIPS
) -> dict[str, Any]:
    return {
        "id": s.id,
        "name": s.name,
        "cron": s.cron,
        "timezone": s.timezone,
        "target": asdict(s.target),
        "retry": asdict(s.retry),
        "paused": s.paused,
        "paused_reason": s.paused_reason,
        "start_at": instant(s.start_at),
        "end_at": instant(s.end_at),
        "misfire": asdict(s.misfire),
        "overlap": s.overlap,
        "metadata": s.metadata,
        "callback_url": s.callback_url,
        "failure_callback_url": s.failure_callback_url,
        "fanout": None if s.fanout is None else s.fanout.to_json(),
        "version": s.version,
        "created_at": instant(s.created_at),
        "updated_at": instant(s.updated_at),
        "next_fire_at": instant(None if s.paused else next_fire_ms),
        "skipped": {
            "misfire": skips.misfire,
            "overlap": skips.overlap,
            "last_skipped_at": instant(skips.last_at),
        },
    }


def occurrence_view(o: Occurrence) -> dict[str, Any]:
    return {
        "at": rfc3339(o.utc),
        "local": local_rfc3339(o.local),
        "dst": o.dst,
    }


def attempt_view(a: Attempt) -> dict[str, Any]:
    return {
        "number": a.number,
        "started_at": instant(a.started_at),
        "duration_ms": a.duration_ms,
        "status_code": a.status_code,
        "error": a.error,
        "response_excerpt": a.response_excerpt,
        "outcome": a.outcome,
        "replay": a.replay,
    }


def job_view(j: JobState) -> dict[str, Any]:
    """A long job's current (or last) attempt, as the fire shows it."""
    progress = None
    if j.progress is not None or j.progress_at is not None:
        progress = {**(j.progress or {}), "at": instant(j.progress_at)}
    return {
        "attempt": j.attempt,
        "state": j.state,
        "started_at": instant(j.started_at),
        "deadline_at": instant(j.deadline) if j.state == "running" else None,
        "heartbeats": j.beats,
        "progress": progress,
        "result": j.result,
        "completed_at": instant(j.ended_at),
        "late_completions": [
            {
                "attempt": x.get("attempt"),
                "at": instant(x.get("at")),
                "status": x.get("status"),
                "reason": x.get("reason"),
            }
            for x in j.late
        ],
    }


def fire_view(f: Fire, job: JobState | None = None) -> dict[str, Any]:
    view: dict[str, Any] = {
        "id": f.id,
        "schedule_id": f.schedule_id,
        "kind": f.kind,
        "scheduled_at": instant(f.scheduled_at),
        "status": f.status,
        "created_at": instant(f.created_at),
        "updated_at": instant(f.updated_at),
        "next_attempt_at": instant(f.next_attempt_at),
        "attempt_count": f.attempt_count,
        "deferrals": f.deferrals,
        "attempts": [attempt_view(a) for a in f.attempts],
    }
    if f.target.job is not None:
        view["job"] = None if job is None else job_view(job)
    if f.fanout is not None:
        view["fanout"] = fanout_view(f)
    if f.shard is not None:
        view["shard"] = f.shard.to_json()
    return view


def fanout_view(f: Fire) -> dict[str, Any]:
    """A fan-out parent's shards: how many, how many made so far, their outcomes."""
    assert f.fanout is not None
    made, succeeded, failed = f.gathered
    count = f.fanout.count
    return {
        "shards": count,
        "max_failed_shards": f.fanout.max_failed_shards,
        "made": made,
        "succeeded": succeeded,
        "failed": failed,
        "open": count - succeeded - failed,
    }


def shard_view(f: Fire, job: JobState | None = None) -> dict[str, Any]:
    """One shard in its parent's list: its outcome so far and its last attempt's answer
    (a long job's result under ``job``)."""
    assert f.shard is not None
    last = f.attempts[-1] if f.attempts else None
    view: dict[str, Any] = {
        "id": f.id,
        "index": f.shard.index,
        "status": f.status,
        "attempt_count": f.attempt_count,
        "updated_at": instant(f.updated_at),
        "status_code": last.status_code if last else None,
        "error": last.error if last else None,
        "response_excerpt": last.response_excerpt if last else None,
    }
    if f.target.job is not None:
        view["job"] = None if job is None else {"state": job.state, "result": job.result}
    return view
