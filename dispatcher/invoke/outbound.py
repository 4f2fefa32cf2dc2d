"""Pure: the signed request of one attempt, as the webhook endpoint receives it.

What the webhook endpoint receives (docs/architecture.md): the tenant's method, URL, headers
and body; Standard Webhooks ``webhook-id`` (the fire id, the same on every retry and replay),
``webhook-timestamp`` (this attempt) and ``webhook-signature`` (one ``v1,`` signature per
active secret: two during a rotation); ``Idempotency-Key``; ``cronhook-schedule-id``,
``cronhook-scheduled-at`` and ``cronhook-attempt``. The User-Agent is set by the client.

A target without a body sends, whatever its method, a JSON document describing the fire
(:func:`default_body`), so the official Standard Webhooks libraries, which parse the payload
as JSON, verify every such delivery with their defaults. A target that wants no content
(a GET to an endpoint that refuses content, say) sets its body to the empty string.

A shard of a fan-out (docs/fanout.md) has its own ``webhook-id`` (``<parent id>u<index>``),
the header ``cronhook-shard: <index>/<count>``, and a JSON-object body (the default document
or the tenant's object) with ``shard`` and, with params, ``params`` added
(:func:`app.fanout.shard_body`): both signed.
"""

from __future__ import annotations

import json

from app.fanout import shard_body
from app.jobs.tokens import signed_content
from app.models import Fire, InstanceMemo, Target, Tenant, ms_rfc3339
from dispatcher.http.client import OutboundRequest
from dispatcher.invoke.signing import signature_header

_encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def default_body(fire: Fire) -> bytes:
    """The JSON document a target without a body sends: the same on every attempt and
    replay of one fire."""
    return _encode(_default_document(fire)).encode()


def _default_document(fire: Fire) -> dict[str, object]:
    return {
        "type": "cronhook.fire",
        "fire_id": fire.id,
        "schedule_id": fire.schedule_id,
        "kind": fire.kind,
        "scheduled_at": ms_rfc3339(fire.scheduled_at),
    }


def _shard_body(fire: Fire, prepared: bytes | None) -> bytes | None:
    """A shard's body: its target's JSON object, or the default document, with the shard's
    part merged in (``app.fanout.shard_body``); any other body as the target has it."""
    assert fire.shard is not None
    if prepared is None:
        return _encode(shard_body(_default_document(fire), fire.shard)).encode()
    if isinstance(fire.target.body, dict):
        return _encode(shard_body(fire.target.body, fire.shard)).encode()
    return prepared


def _prepare(target: Target) -> tuple[bytes | None, dict[str, str]]:
    """The target's body (None: :func:`default_body`) and its headers with Content-Type."""
    headers = dict(target.headers)
    if target.body is None:
        headers["Content-Type"] = target.content_type or "application/json"
        return None, headers
    body, content_type = target.encoded_body()
    if content_type:
        headers["Content-Type"] = content_type
    return body, headers


# The fires of one schedule share one Target instance (``app.models`` parses each record's
# JSON text once), so its body is encoded once, not per attempt.
_prepared: InstanceMemo[Target, tuple[bytes | None, dict[str, str]]] = InstanceMemo(_prepare, 4096)


def build_request(
    fire: Fire,
    tenant: Tenant,
    attempt: int,
    now_ms: int,
    job: tuple[str, str] | None = None,
) -> OutboundRequest:
    """Attempt ``attempt`` of ``fire``, signed at ``now_ms`` (``webhook-timestamp`` is its
    unix second) with every secret of ``tenant`` active at that very millisecond. ``job``:
    a long job's URL and this attempt's token, sent as ``cronhook-job-url`` and
    ``cronhook-job-token`` with ``cronhook-job-signature`` over both (docs/jobs.md)."""
    now_s = now_ms // 1000
    body, tenant_headers = _prepared(fire.target)
    if fire.shard is not None:
        body = _shard_body(fire, body)
    if body is None:
        body = default_body(fire)
    headers = tenant_headers.copy()
    headers.update(
        {
            "webhook-id": fire.id,
            "webhook-timestamp": str(now_s),
            "webhook-signature": signature_header(
                tenant.active_secrets(now_ms), fire.id, now_s, body
            ),
            "Idempotency-Key": fire.id,
            "cronhook-scheduled-at": ms_rfc3339(fire.scheduled_at),
            "cronhook-attempt": str(attempt),
        }
    )
    if fire.schedule_id:
        headers["cronhook-schedule-id"] = fire.schedule_id
    if fire.shard is not None:
        headers["cronhook-shard"] = fire.shard.header()
    if job is not None:
        url, token = job
        headers["cronhook-job-url"] = url
        headers["cronhook-job-token"] = token
        headers["cronhook-job-signature"] = signature_header(
            tenant.active_secrets(now_ms), fire.id, now_s, signed_content(url, token)
        )
    return OutboundRequest(
        method=fire.target.method,
        url=fire.target.url,
        headers=headers,
        body=body,
        timeout_seconds=fire.target.timeout_seconds,
    )
