"""Pure: the order a dispatcher publishes one claim batch in, fair between tenants.

RabbitMQ's queue is first in, first out. A tenant with ten thousand fires due at the same
instant would otherwise put all of them ahead of another tenant's one fire of that instant,
and every invoker would work through (defer) them first. Round-robin across tenants puts
each tenant's first fire of the batch near the front, while keeping every tenant's own
order.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence

from app.bus.message import FireMessage

__all__ = ["interleave_by_tenant"]


def interleave_by_tenant(messages: Sequence[FireMessage]) -> list[FireMessage]:
    """One message of each tenant in turn (tenants in order of first appearance)."""
    queues: dict[str, deque[FireMessage]] = {}
    for m in messages:
        queues.setdefault(m.tenant_id, deque()).append(m)
    if len(queues) <= 1:
        return list(messages)
    out: list[FireMessage] = []
    while queues:
        for tenant_id in list(queues):
            q = queues[tenant_id]
            out.append(q.popleft())
            if not q:
                del queues[tenant_id]
    return out
