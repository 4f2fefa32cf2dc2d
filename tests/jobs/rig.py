"""A long-job test rig: one-off job fires into a world, the job's side of the protocol
(reading the delivery's headers, reporting to the API), and waits on the fire's state."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

import httpx

from app.ids import api_key_hash, new_api_key, new_id
from app.keys import fire_item
from app.models import Fire, JobSettings, RetrySettings, Target, Tenant
from app.payloads import fire_item_payload
from app.store.records import ApiKeyRecord
from tests.delivery.world import FAST_RETRY, World, now_ms
from tests.receiver import Receiver, RecordedRequest, Reply


@dataclass(frozen=True)
class Delivery:
    """What the job's endpoint received: enough to report as the job."""

    fire_id: str
    attempt: int
    url: str
    token: str
    request: RecordedRequest

    @classmethod
    def of(cls, r: RecordedRequest) -> Delivery:
        h = r.headers
        return cls(
            h["webhook-id"],
            int(h["cronhook-attempt"]),
            h["cronhook-job-url"],
            h["cronhook-job-token"],
            r,
        )


@dataclass
class JobRig:
    w: World
    receiver: Receiver
    api: httpx.AsyncClient
    keys: dict[str, str] = field(default_factory=dict)

    async def job_fire(
        self,
        tenant: Tenant,
        *,
        path: str = "/job",
        job_timeout: float = 10.0,
        heartbeat: float | None = None,
        retry: RetrySettings = FAST_RETRY,
        replies: tuple[Reply, ...] = (Reply(202, b"accepted"),) * 5,
    ) -> Fire:
        """A one-off fire of a job target, due now."""
        self.receiver.script(path, *replies)
        due = now_ms()
        fire = Fire(
            id=new_id("fire"),
            tenant_id=tenant.id,
            schedule_id=None,
            kind="message",
            scheduled_at=due,
            status="scheduled",
            created_at=due,
            updated_at=due,
            target=Target(
                url=self.receiver.url(path),
                body={"job": True},
                timeout_seconds=5,
                job=JobSettings(job_timeout, heartbeat),
            ),
            retry=retry,
        )
        await self.w.store.fires.create(fire)
        payload = fire_item_payload(tenant.id, fire.id, 1, due)
        await self.w.store.time.put(fire_item(fire.id), payload, due)
        return fire

    async def delivery(self, n: int, *, path: str = "/job", within: float = 10.0) -> Delivery:
        """The ``n``-th delivery (1-based) to ``path``."""
        hits = await self.receiver.wait_for(n, path=path, within=within)
        return Delivery.of(hits[n - 1])

    async def report(
        self, d: Delivery, kind: str, body: Any = None, *, token: str | None = None
    ) -> httpx.Response:
        path = httpx.URL(d.url).path + "/" + kind
        headers = {"Authorization": f"Bearer {token or d.token}"}
        if body is None:
            return await self.api.post(path, headers=headers)
        return await self.api.post(path, headers=headers, json=body)

    async def tenant(self, **limits: Any) -> Tenant:
        """A tenant of the world, with an API key for GET /v1/fires (``self.keys``)."""
        t = await self.w.tenant(**limits)
        key = new_api_key()
        record = ApiKeyRecord(new_id("key"), t.id, key[:8], now_ms())
        await self.w.store.records.add_api_key(record, api_key_hash(key))
        self.keys[t.id] = key
        return t

    async def view(self, tenant: Tenant, fire_id: str) -> dict[str, Any]:
        """GET /v1/fires/{id} with the tenant's API key."""
        headers = {"Authorization": f"Bearer {self.keys[tenant.id]}"}
        r = await self.api.get(f"/v1/fires/{fire_id}", headers=headers)
        assert r.status_code == 200, r.text
        data: dict[str, Any] = r.json()
        return data

    async def status(
        self, tenant: Tenant, fire_id: str, wanted: str, *, within: float = 15.0
    ) -> Fire:
        deadline = time.monotonic() + within
        while True:
            fire = await self.w.fire(tenant.id, fire_id)
            if fire.status == wanted:
                return fire
            if time.monotonic() > deadline:
                raise AssertionError(f"{fire_id} is {fire.status}, not {wanted}, after {within}s")
            await asyncio.sleep(0.02)
