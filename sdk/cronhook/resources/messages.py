"""`client.messages`: one-off webhooks, now, at an instant, or after a delay."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from cronhook import _protocol as p
from cronhook._protocol import Call
from cronhook._resource import M, Resource, endpoint
from cronhook.models import Fanout, Fire, RetrySettings, Target

__all__ = ["Messages"]


def _send(
    target: Target | Mapping[str, Any],
    *,
    deliver_at: datetime | None = None,
    delay: float | timedelta | None = None,
    retry: RetrySettings | Mapping[str, Any] | None = None,
    callback_url: str | None = None,
    failure_callback_url: str | None = None,
    fanout: Fanout | Mapping[str, Any] | None = None,
    idempotency_key: str | None = None,
) -> Call[Fire]:
    """Send one webhook: now, at `deliver_at` (an aware datetime; past means now), or after
    `delay` (seconds or a timedelta), not both. Signed, retried and dead-lettered like cron
    fires; returns the fire (kind `message`, no schedule). `fanout`: one call per shard,
    gathered on the fire (docs/fanout.md)."""
    if deliver_at is not None and delay is not None:
        raise ValueError("give deliver_at or delay, not both")
    seconds = delay.total_seconds() if isinstance(delay, timedelta) else delay
    payload = p.body(
        target=target,
        deliver_at=deliver_at,
        delay_seconds=seconds,
        retry=retry,
        callback_url=callback_url,
        failure_callback_url=failure_callback_url,
        fanout=fanout,
    )
    return p.post("/v1/messages", p.model(Fire), payload, idempotency_key=idempotency_key)


class Messages(Resource[M]):
    """One-off webhooks."""

    send = endpoint(_send)
