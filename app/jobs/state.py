"""A long job's attempt as stored in its hash (see ``job_start.lua`` for the fields), and
the pure rule the timeout watch follows."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

ENDED = frozenset({"succeeded", "failed", "timeout"})
# A job counted as running whose total timeout passed this long ago is a leftover (its
# hash expired with its fire): not counted, and pruned (``job_answer.lua``).
RUNNING_LEFTOVER_MS = 3_600_000


def _int(raw: str | None) -> int | None:
    return int(raw) if raw else None


def _json(raw: str | None) -> Any:
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return None


@dataclass(frozen=True)
class JobState:
    attempt: int
    state: str  # delivering | running | closed | succeeded | failed | timeout
    started_at: int
    deadline: int
    hard: int
    heartbeat_ms: int
    answered: bool
    status_code: int | None
    excerpt: str
    progress: dict[str, Any] | None
    progress_at: int | None
    beats: int
    result: Any
    may_retry: bool  # a failed completion retries with the fire's policy unless False
    ended_at: int | None
    applied: int
    late: list[dict[str, Any]]

    @classmethod
    def from_hash(cls, h: dict[str, str]) -> JobState:
        """Readers tolerate fields they do not know and miss the ones not written yet."""
        get = h.get
        progress = _json(get("progress"))
        late = _json(get("late"))
        return cls(
            attempt=int(get("attempt") or 0),
            state=get("state") or "delivering",
            started_at=int(get("started_at") or 0),
            deadline=int(get("deadline") or 0),
            hard=int(get("hard") or 0),
            heartbeat_ms=int(get("hb") or 0),
            answered=bool(get("answered")),
            status_code=_int(get("code")),
            excerpt=get("excerpt") or "",
            progress=progress if isinstance(progress, dict) else None,
            progress_at=_int(get("progress_at")),
            beats=int(get("beats") or 0),
            result=_json(get("result")),
            may_retry=get("retry") != "0",
            ended_at=_int(get("ended_at")),
            applied=int(get("applied") or 0),
            late=late if isinstance(late, list) else [],
        )

    @property
    def ended(self) -> bool:
        return self.state in ENDED

    @property
    def duration_ms(self) -> int:
        return max(0, (self.ended_at or self.started_at) - self.started_at)


@dataclass(frozen=True)
class WatchStep:
    action: Literal["finish", "retime", "settle"]
    due_ms: int = -1


# The fields of a job hash the dispatcher reads for a watch item (HMGET order).
WATCH_FIELDS = ("attempt", "state", "deadline", "answered", "applied")


def watch_step(fields: Sequence[str | None], attempt: int, now_ms: int) -> WatchStep:
    """What a claimed watch item of ``attempt`` does, from the job's WATCH_FIELDS:
    ``retime`` to a deadline that heartbeats pushed; ``settle`` (publish the job's attempt
    to an invoker, which ends and applies it atomically) when the deadline has passed or
    an outcome waits to be applied; ``finish`` when there is nothing left to watch (another
    attempt, applied already, or a request still in flight: its invoker settles it)."""
    cur, state, deadline, answered, applied = fields
    if int(cur or 0) != attempt or int(applied or 0) >= attempt:
        return WatchStep("finish")
    if state == "running":
        due = int(deadline or 0)
        return WatchStep("retime", due) if due > now_ms else WatchStep("settle")
    if state in ENDED and answered:
        return WatchStep("settle")
    return WatchStep("finish")
