"""Pure: the signed request of one attempt, as the webhook endpoint receives it.

DESIGN.md "What the webhook endpoint receives": the tenant's method, URL, headers and body;
Standard Webhooks ``webhook-id`` (the fire id, the same on every retry and replay),
``webhook-timestamp`` (this attempt) and ``webhook-signature`` (one ``v1,`` signature per
active secret: two during a rotation); ``Idempotency-Key``; ``cronhook-schedule-id``,
``cronhook-scheduled-at`` and ``cronhook-attempt``. The User-Agent is set by the client.
"""

from __future__ import annotations

from app.models import Fire, Tenant, from_ms, rfc3339
from dispatcher.http_client import OutboundRequest
from dispatcher.signing import signature_header


def build_request(fire: Fire, tenant: Tenant, attempt: int, now_ms: int) -> OutboundRequest:
    """Attempt ``attempt`` of ``fire``, signed at ``now_ms`` (``webhook-timestamp`` is its
    unix second) with every secret of ``tenant`` active at that very millisecond."""
    now_s = now_ms // 1000
    body, content_type = fire.target.encoded_body()
    headers = dict(fire.target.headers)
    if content_type:
        headers["Content-Type"] = content_type
    headers.update(
        {
            "webhook-id": fire.id,
            "webhook-timestamp": str(now_s),
            "webhook-signature": signature_header(
                tenant.active_secrets(now_ms), fire.id, now_s, body
            ),
            "Idempotency-Key": fire.id,
            "cronhook-scheduled-at": rfc3339(from_ms(fire.scheduled_at)) or "",
            "cronhook-attempt": str(attempt),
        }
    )
    if fire.schedule_id:
        headers["cronhook-schedule-id"] = fire.schedule_id
    return OutboundRequest(
        method=fire.target.method,
        url=fire.target.url,
        headers=headers,
        body=body,
        timeout_seconds=fire.target.timeout_seconds,
    )
