"""The bus seam: RabbitMQ in production, an in-process queue for `cronhook dev`."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Protocol

from app.bus.message import FireMessage


class Requeue(Exception):
    """Raised by a handler: put the message back for another try (e.g. store down)."""


Handler = Callable[[bytes], Awaitable[None]]
"""Consumes one message body. Returning acks it; raising ``Requeue`` requeues it; raising
``PoisonMessage`` dead-letters it; any other exception requeues it (and is logged)."""


class Bus(Protocol):
    async def start(self) -> None:
        """Connect and declare the topology. Raises BusUnavailable."""

    async def publish(self, messages: Sequence[FireMessage]) -> None:
        """Publish every message persistently and wait until the broker confirmed each one.

        Returns only when all are confirmed; raises BusUnavailable if any was not (the
        caller keeps its claim and the time index re-offers the items: at-least-once)."""

    async def consume(self, handler: Handler, *, prefetch: int) -> None:
        """Start delivering messages to ``handler`` concurrently, at most ``prefetch`` at
        once. Returns once consuming has started."""

    async def drain(self, grace_seconds: float) -> int:
        """Stop taking new messages, wait up to ``grace_seconds`` for handlers in flight, then
        requeue what is left. Returns how many handlers were still running."""

    async def depth(self) -> int:
        """Messages ready in the queue (for metrics and tests)."""

    async def dead_letter_depth(self) -> int:
        """Messages in the dead-letter queue (poison, or past the delivery limit)."""

    async def aclose(self) -> None:
        """Close what this bus opened."""
