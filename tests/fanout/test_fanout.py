"""Fan-out end to end on the real Redis and RabbitMQ (docs/fanout.md): a message with
``fanout`` through the API, its shards delivered by the invoker to a loopback receiver,
their outcomes gathered on the parent."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from typing import Any

import pytest
from standardwebhooks.webhooks import Webhook

from app import events
from app.errors import StoreUnavailable
from app.fanout import FanoutSettings, parent_of
from app.models import Tenant
from dispatcher.invoke import fanout as fanout_side
from tests.jobs.rig import JobRig
from tests.receiver import RecordedRequest, Reply

pytestmark = pytest.mark.external_service

FAST = {"max_attempts": 4, "min_backoff_seconds": 0.2, "max_backoff_seconds": 0.4}
ONE_TRY = {"max_attempts": 1}


def auth(rig: JobRig, tenant: Tenant) -> dict[str, str]:
    return {"Authorization": f"Bearer {rig.keys[tenant.id]}"}


async def send(rig: JobRig, tenant: Tenant, path: str, **body: Any) -> str:
    """POST /v1/messages to ``path`` of the receiver; the parent's id."""
    doc = {"target": {"url": rig.receiver.url(path)}, "retry": FAST, **body}
    r = await rig.api.post("/v1/messages", json=doc, headers=auth(rig, tenant))
    assert r.status_code == 202, r.text
    fid: str = r.json()["id"]
    return fid


async def shards(rig: JobRig, tenant: Tenant, fid: str, limit: int = 100) -> list[dict[str, Any]]:
    """Every shard of ``fid`` through GET /v1/fires/{id}/shards, page by page."""
    out: list[dict[str, Any]] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": limit} | ({"cursor": cursor} if cursor else {})
        r = await rig.api.get(f"/v1/fires/{fid}/shards", params=params, headers=auth(rig, tenant))
        assert r.status_code == 200, r.text
        out += r.json()["items"]
        cursor = r.json()["next_cursor"]
        if cursor is None:
            return out


def ids_by_shard(hits: list[RecordedRequest]) -> dict[int, set[str]]:
    """Shard index (from the cronhook-shard header) -> the webhook-ids it arrived with."""
    out: dict[int, set[str]] = {}
    for h in hits:
        index = int(h.headers["cronhook-shard"].split("/")[0])
        out.setdefault(index, set()).add(h.headers["webhook-id"])
    return out


async def test_one_shard_is_delivered_signed_and_gathered(rig: JobRig) -> None:
    tenant = await rig.tenant()
    fid = await send(rig, tenant, "/one", fanout={"shards": 1})

    await rig.status(tenant, fid, "succeeded")
    [hit] = rig.receiver.requests_to("/one")
    # the shard's identity: webhook-id, header and body, under the signature
    assert hit.headers["webhook-id"] == f"{fid}u0" and parent_of(f"{fid}u0") == (fid, 0)
    assert hit.headers["cronhook-shard"] == "0/1"
    Webhook(tenant.secrets[0].secret).verify(hit.body, dict(hit.headers))
    body = json.loads(hit.body)
    assert body["fire_id"] == f"{fid}u0"
    assert body["shard"] == {"index": 0, "count": 1, "parent_id": fid}
    view = await rig.view(tenant, fid)
    assert view["fanout"] == {"shards": 1, "max_failed_shards": 0, "made": 1, "succeeded": 1,
                              "failed": 0, "open": 0}  # fmt: skip
    assert view["attempts"] == []
    shard = await rig.view(tenant, f"{fid}u0")
    assert shard["shard"] == {"parent_id": fid, "index": 0, "count": 1, "params": None}
    [listed] = await shards(rig, tenant, fid)
    assert listed["id"] == f"{fid}u0" and listed["status"] == "succeeded"
    assert listed["status_code"] == 200 and listed["response_excerpt"] == "ok"


async def test_64_shards_with_3_failing_then_succeeding_all_arrive_once(rig: JobRig) -> None:
    tenant = await rig.tenant()
    # the first three requests (three different shards) fail, every other succeeds
    rig.receiver.script("/many", Reply(503), Reply(503), Reply(503))
    fid = await send(rig, tenant, "/many", fanout={"shards": 64})

    await rig.status(tenant, fid, "succeeded", within=30)
    hits = rig.receiver.requests_to("/many")
    seen = ids_by_shard(hits)
    assert sorted(seen) == list(range(64))
    assert all(ids == {f"{fid}u{i}"} for i, ids in seen.items())  # one webhook-id each
    assert len(hits) == 64 + 3
    tries = Counter(int(h.headers["cronhook-shard"].split("/")[0]) for h in hits)
    retried = [i for i, n in tries.items() if n == 2]
    assert len(retried) == 3
    listed = await shards(rig, tenant, fid, limit=25)
    assert [s["index"] for s in listed] == list(range(64))
    assert {s["status"] for s in listed} == {"succeeded"}
    assert sorted(s["index"] for s in listed if s["attempt_count"] == 2) == sorted(retried)
    view = await rig.view(tenant, fid)
    assert (view["fanout"]["succeeded"], view["fanout"]["failed"], view["fanout"]["open"]) == (
        64,
        0,
        0,
    )


async def test_a_shard_failing_for_good_fails_the_parent_with_one_callback(
    rig: JobRig,
) -> None:
    tenant = await rig.tenant()
    rig.receiver.script("/bad", Reply(500))
    fid = await send(
        rig,
        tenant,
        "/bad",
        retry=ONE_TRY,
        fanout={"shards": 4},
        callback_url=rig.receiver.url("/cb"),
    )

    await rig.status(tenant, fid, "failed")
    [cb] = await rig.receiver.wait_for(1, path="/cb")
    body = json.loads(cb.body)
    assert body["type"] == "fire.failed" and body["fire_id"] == fid
    assert body["fanout"] == {"shards": 4, "max_failed_shards": 0, "made": 4, "succeeded": 3,
                              "failed": 1, "open": 0}  # fmt: skip
    failed = [s for s in await shards(rig, tenant, fid) if s["status"] == "failed"]
    assert len(failed) == 1 and failed[0]["status_code"] == 500
    dead = await rig.api.get("/v1/dead-letters", headers=auth(rig, tenant))
    assert fid in [f["id"] for f in dead.json()["items"]]
    await asyncio.sleep(0.5)
    assert len(rig.receiver.requests_to("/cb")) == 1  # shards send no callbacks of their own


async def test_max_failed_shards_lets_the_parent_succeed(rig: JobRig) -> None:
    tenant = await rig.tenant()
    rig.receiver.script("/some", Reply(500), Reply(500))
    fan = {"shards": 5, "max_failed_shards": 2}
    fid = await send(rig, tenant, "/some", retry=ONE_TRY, fanout=fan)

    await rig.status(tenant, fid, "succeeded")
    view = await rig.view(tenant, fid)
    assert (view["fanout"]["succeeded"], view["fanout"]["failed"]) == (3, 2)


async def test_each_shard_gets_its_params_merged_into_the_body(rig: JobRig) -> None:
    tenant = await rig.tenant()
    params = [{"region": r} for r in ("eu", "us", "ap")]
    doc = {"url": rig.receiver.url("/p"), "body": {"report": "nightly", "shard": "mine"}}
    r = await rig.api.post(
        "/v1/messages",
        json={"target": doc, "fanout": {"params": params}},
        headers=auth(rig, tenant),
    )
    assert r.status_code == 202, r.text
    fid = r.json()["id"]

    await rig.status(tenant, fid, "succeeded")
    bodies = {}
    for hit in rig.receiver.requests_to("/p"):
        Webhook(tenant.secrets[0].secret).verify(hit.body, dict(hit.headers))
        bodies[hit.headers["webhook-id"]] = json.loads(hit.body)
    assert bodies == {
        f"{fid}u{i}": {
            "report": "nightly",
            "shard": {"index": i, "count": 3, "parent_id": fid},
            "params": params[i],
        }
        for i in range(3)
    }


async def test_a_long_job_shard_completes_through_its_job_url(rig: JobRig) -> None:
    tenant = await rig.tenant()
    rig.receiver.script("/job", Reply(202, b"accepted"), Reply(202, b"accepted"))
    target = {"url": rig.receiver.url("/job"), "job": {"timeout_seconds": 30}}
    r = await rig.api.post(
        "/v1/messages", json={"target": target, "fanout": {"shards": 2}}, headers=auth(rig, tenant)
    )
    assert r.status_code == 202, r.text
    fid = r.json()["id"]

    for n in (1, 2):
        d = await rig.delivery(n)
        assert d.url.endswith(f"/v1/fires/{d.fire_id}/job") and parent_of(d.fire_id)
        await rig.status(tenant, d.fire_id, "running")
    assert (await rig.view(tenant, fid))["status"] == "running"
    for n in (1, 2):
        d = await rig.delivery(n)
        index = parent_of(d.fire_id)[1]  # type: ignore[index]
        done = await rig.report(d, "complete", {"status": "succeeded", "result": {"i": index}})
        assert done.status_code == 200, done.text

    await rig.status(tenant, fid, "succeeded")
    listed = await shards(rig, tenant, fid)
    assert [(s["status"], s["status_code"], s["job"]) for s in listed] == [
        ("succeeded", 202, {"state": "succeeded", "result": {"i": i}}) for i in range(2)
    ]


async def test_replay_of_a_parent_replays_its_failed_shards_only(rig: JobRig) -> None:
    tenant = await rig.tenant()
    rig.receiver.script("/r", Reply(500), Reply(500))
    fid = await send(rig, tenant, "/r", retry=ONE_TRY, fanout={"shards": 6})
    await rig.status(tenant, fid, "failed")
    failed = {s["id"] for s in await shards(rig, tenant, fid) if s["status"] == "failed"}
    assert len(failed) == 2

    r = await rig.api.post(f"/v1/fires/{fid}/replay", headers=auth(rig, tenant))
    assert r.status_code == 202, r.text
    assert r.json()["status"] == "running" and r.json()["fanout"]["failed"] == 0

    await rig.status(tenant, fid, "succeeded")
    hits = rig.receiver.requests_to("/r")
    assert len(hits) == 6 + 2
    assert {h.headers["webhook-id"] for h in hits[6:]} == failed  # the failed, same ids
    assert all(h.headers["cronhook-attempt"] == "2" for h in hits[6:])
    again = await rig.api.post(f"/v1/fires/{fid}/replay", headers=auth(rig, tenant))
    assert again.status_code == 409  # nothing failed any more


async def test_replay_of_one_shard_reopens_the_parent_until_it_ends(rig: JobRig) -> None:
    tenant = await rig.tenant()
    fid = await send(rig, tenant, "/one-again", fanout={"shards": 3})
    await rig.status(tenant, fid, "succeeded")

    r = await rig.api.post(f"/v1/fires/{fid}u1/replay", headers=auth(rig, tenant))
    assert r.status_code == 202, r.text
    await rig.receiver.wait_for(4, path="/one-again")
    await rig.status(tenant, fid, "succeeded")
    hits = rig.receiver.requests_to("/one-again")
    assert hits[-1].headers["webhook-id"] == f"{fid}u1"
    assert hits[-1].headers["cronhook-attempt"] == "2"
    view = await rig.view(tenant, fid)
    assert (view["fanout"]["succeeded"], view["fanout"]["failed"]) == (3, 0)
    assert len(hits) == 4


async def test_overlap_forbid_counts_the_parent_as_running_until_it_ends(rig: JobRig) -> None:
    # given a schedule firing every second whose shards take 2 s to answer
    tenant = await rig.tenant()
    rig.receiver.script("/slow", *[Reply(200, delay=2.0)] * 3)
    s = await rig.w.schedule(
        tenant, rig.receiver.url("/slow"), overlap="forbid", fanout=FanoutSettings(shards=3)
    )
    # when it has fired for a while
    await rig.receiver.wait_for(4, path="/slow", within=15)
    await rig.w.store.records.put_schedule(s.evolve(paused=True), None)
    await asyncio.sleep(1.5)

    # then the instants while the first parent ran were skipped, naming it
    page = await rig.w.store.fires.list_for_schedule(tenant.id, s.id, 100, None)
    fires = sorted(await rig.w.store.fires.get_many(tenant.id, page.items),
                   key=lambda f: f.scheduled_at)  # fmt: skip
    first = fires[0]
    assert first.fanout is not None and first.status == "succeeded"
    skipped = [f for f in fires if f.status == "skipped"]
    assert skipped, [(f.id, f.status) for f in fires]
    for f in skipped:
        named = await rig.w.store.client.hget(rig.w.store.keys.fire(tenant.id, f.id),
                                              "overlapped_fire")  # fmt: skip
        assert named in {p.id for p in fires if p.status != "skipped"}
    # and no shard of a later parent arrived before the first parent's last shard answered
    hits = rig.receiver.requests_to("/slow")
    firsts = [h for h in hits if parent_of(h.headers["webhook-id"])[0] == first.id]  # type: ignore[index]
    later = [h for h in hits if h not in firsts]
    assert len(firsts) == 3 and later
    assert min(h.arrived_monotonic for h in later) > max(h.arrived_monotonic for h in firsts) + 1.5


def _cut_first_gather(rig: JobRig) -> list[str]:
    """The invoker's first gather fails as if it crashed right after recording the shard's
    outcome (the message is requeued); the calls are listed."""
    side = rig.w.invoker.fanout
    real, calls = side.gather, []

    async def gather(tenant: Tenant, fire_id: str) -> None:
        calls.append(fire_id)
        if len(calls) == 1:
            raise StoreUnavailable("cut off after the record")
        await real(tenant, fire_id)

    side.gather = gather  # type: ignore[method-assign]
    return calls


async def test_an_outcome_recorded_but_not_gathered_is_gathered_by_its_redelivery(
    rig: JobRig,
) -> None:
    tenant = await rig.tenant()
    calls = _cut_first_gather(rig)
    fid = await send(
        rig, tenant, "/cut", fanout={"shards": 1}, callback_url=rig.receiver.url("/cb")
    )

    await rig.status(tenant, fid, "succeeded")
    assert calls[:2] == [f"{fid}u0", f"{fid}u0"]  # the redelivered copy gathered it
    assert len(rig.receiver.requests_to("/cut")) == 1  # and was not delivered again
    await rig.receiver.wait_for(1, path="/cb")
    await asyncio.sleep(0.3)
    assert len(rig.receiver.requests_to("/cb")) == 1


async def test_a_job_shard_completed_but_not_gathered_is_gathered_by_its_watch(
    rig: JobRig,
) -> None:
    tenant = await rig.tenant()
    calls = _cut_first_gather(rig)
    rig.receiver.script("/job", Reply(202, b"accepted"))
    target = {"url": rig.receiver.url("/job"), "job": {"timeout_seconds": 30}}
    body = {"target": target, "fanout": {"shards": 1}}
    r = await rig.api.post("/v1/messages", json=body, headers=auth(rig, tenant))
    fid = r.json()["id"]
    d = await rig.delivery(1)
    await rig.status(tenant, d.fire_id, "running")

    done = await rig.report(d, "complete", {"status": "succeeded"})
    assert done.status_code == 200, done.text
    await rig.status(tenant, fid, "succeeded")
    assert calls[:2] == [d.fire_id, d.fire_id]


async def test_a_job_shard_timing_out_for_good_fails_the_parent(rig: JobRig) -> None:
    tenant = await rig.tenant()
    rig.receiver.script("/job", Reply(202, b"accepted"), Reply(202, b"accepted"))
    target = {"url": rig.receiver.url("/job"), "job": {"timeout_seconds": 1}}
    body = {"target": target, "retry": ONE_TRY, "fanout": {"shards": 2}}
    r = await rig.api.post("/v1/messages", json=body, headers=auth(rig, tenant))
    fid = r.json()["id"]
    first = await rig.delivery(1)
    await rig.report(first, "complete", {"status": "succeeded"})

    await rig.status(tenant, fid, "failed", within=20)
    listed = await shards(rig, tenant, fid)
    assert sorted(s["status"] for s in listed) == ["failed", "succeeded"]
    assert [s["error"] for s in listed if s["status"] == "failed"] == ["job_timeout"]


async def test_a_step_cut_off_after_its_cursor_moved_is_published_by_a_later_look(
    rig: JobRig, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given an invoker whose first publish of a step's shards fails as if it crashed there
    # (the cursor has moved: the range is only noted as pending)
    monkeypatch.setattr(fanout_side, "PUBLISH_WINDOW_MS", 1000)
    side = rig.w.invoker.fanout
    real, cut = side._publish, []

    async def publish(parent: Any, tenant: Tenant, start: int, end: int, first: Any) -> None:
        if start < end and not cut:
            cut.append((start, end))
            raise StoreUnavailable("cut off before publishing")
        await real(parent, tenant, start, end, first)

    monkeypatch.setattr(side, "_publish", publish)
    tenant = await rig.tenant()
    fid = await send(rig, tenant, "/late", fanout={"shards": 6})

    # then a later step publishes the range once its deadline passed, and all arrive once
    await rig.status(tenant, fid, "succeeded", within=15)
    assert cut == [(0, 6)]
    seen = ids_by_shard(rig.receiver.requests_to("/late"))
    assert seen == {i: {f"{fid}u{i}"} for i in range(6)}
    assert await rig.w.store.fanout.pending(tenant.id, fid) == []


async def test_shard_calls_count_against_the_tenants_rate_limit(rig: JobRig) -> None:
    # given a tenant allowed 5 calls a second, no burst
    tenant = await rig.tenant(per_second=5, burst=1)
    fid = await send(rig, tenant, "/paced", fanout={"shards": 6})

    await rig.status(tenant, fid, "succeeded", within=20)
    arrivals = sorted(h.arrived_monotonic for h in rig.receiver.requests_to("/paced"))
    assert len(arrivals) == 6
    assert arrivals[-1] - arrivals[0] >= 0.9  # 6 calls at 5/s: at least a second apart
    listed = await shards(rig, tenant, fid)
    deferred = [await rig.view(tenant, s["id"]) for s in listed]
    assert sum(d["deferrals"] for d in deferred) > 0


async def test_shards_have_their_events_and_the_parent_one_final_event(rig: JobRig) -> None:
    tenant = await rig.tenant()
    store = rig.w.store
    stream = store.client.pubsub()
    await stream.subscribe(store.keys.events(tenant.id))
    try:
        await asyncio.sleep(events.LISTENERS_TTL_S + 0.2)  # the producers see the stream
        fid = await send(rig, tenant, "/ev", fanout={"shards": 2})
        await rig.status(tenant, fid, "succeeded")
        got: list[dict[str, Any]] = []
        deadline = asyncio.get_running_loop().time() + 0.8
        while asyncio.get_running_loop().time() < deadline:
            msg = await stream.get_message(ignore_subscribe_messages=True, timeout=0.05)
            if msg is not None:
                got.append(json.loads(msg["data"]))
    finally:
        await stream.aclose()
    ends = ("fire.succeeded", "fire.failed")
    final = [e for e in got if e["fire_id"] == fid and e["type"] in ends]
    assert len(final) == 1 and final[0]["fanout"]["succeeded"] == 2
    finished = [e for e in got if e["type"] == "attempt.finished"]
    assert sorted(e["shard"]["index"] for e in finished) == [0, 1]
    assert {e["shard"]["parent_id"] for e in finished} == {fid}
