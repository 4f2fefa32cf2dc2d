"""The job state machine (app/store/jobs.py and job_*.lua) on the embedded store and the
real Redis: exactly one outcome per attempt, tokens scoped to their attempt, deadlines."""

from __future__ import annotations

from app.jobs import JobRef, mint_token, parse_token, token_hash
from app.models import JobSettings
from app.store import Store

T, REF = "ten_a", JobRef("fire_a")


async def _started(store: Store, attempt: int = 1, now: int = 1000) -> str:
    await store.client.hset(store.keys.fire(T, REF.fire_id), mapping={"status": "delivering"})
    token = mint_token(T, attempt)
    answer = await store.jobs.start(T, REF, attempt, token_hash(token), now, JobSettings(10, 2))
    assert answer == "go"
    return token


async def _complete(store: Store, token: str, status: str, now: int, digest: str) -> str:
    parsed = parse_token(token)
    assert parsed is not None
    r = await store.jobs.report(REF, parsed, "complete", now, "{}", status=status, digest=digest)
    return r.answer


async def test_a_202_runs_with_a_heartbeat_deadline_and_counts_the_attempt(store: Store) -> None:
    await _started(store)
    answer = await store.jobs.answer(T, REF, 1, "owner", 202, "accepted", 1500)
    assert answer == ("running", 3500)  # now + heartbeat, below start + timeout
    fire = await store.client.hmget(store.keys.fire(T, REF.fire_id), "status", "attempt_count")
    assert fire == ["running", "1"]


async def test_progress_pushes_the_deadline_up_to_the_total_timeout(store: Store) -> None:
    token = await _started(store)
    await store.jobs.answer(T, REF, 1, "owner", 202, "", 1500)
    parsed = parse_token(token)
    assert parsed is not None
    ok = await store.jobs.report(REF, parsed, "progress", 3000, "{}")
    assert (ok.answer, ok.at_ms) == ("ok", 5000)
    ok = await store.jobs.report(REF, parsed, "progress", 4900, "{}")
    assert ok.at_ms == 6900
    ok = await store.jobs.report(REF, parsed, "progress", 9900, "{}")
    assert (ok.answer, ok.at_ms) == ("late", None)  # 9900 is past 6900: timed out
    assert ok.timed_out


async def test_the_first_outcome_wins_and_the_same_one_again_answers_the_same(
    store: Store,
) -> None:
    token = await _started(store)
    await store.jobs.answer(T, REF, 1, "owner", 202, "", 1500)
    assert await _complete(store, token, "succeeded", 2000, "d1") == "ended"
    assert await _complete(store, token, "succeeded", 2100, "d1") == "same"
    assert await _complete(store, token, "failed", 2200, "d2") == "late"
    answer, _, state = await store.jobs.check(T, REF, 1, 2300)
    assert answer == "ended" and state is not None and state.state == "succeeded"
    assert [x["status"] for x in state.late] == ["failed"]


async def test_a_timeout_wins_over_a_later_completion(store: Store) -> None:
    token = await _started(store)
    await store.jobs.answer(T, REF, 1, "owner", 202, "", 1500)
    assert (await store.jobs.check(T, REF, 1, 3000))[:2] == ("wait", 3500)
    answer, _, state = await store.jobs.check(T, REF, 1, 3600)
    assert answer == "ended" and state is not None and state.state == "timeout"
    assert await _complete(store, token, "succeeded", 3700, "d") == "late"


async def test_an_old_attempts_token_is_late_and_another_attempts_is_unknown(
    store: Store,
) -> None:
    old = await _started(store, 1)
    await store.jobs.answer(T, REF, 1, "owner", 202, "", 1500)
    new = mint_token(T, 2)
    assert await store.jobs.start(T, REF, 2, token_hash(new), 5000, JobSettings(10)) == "go"
    assert await _complete(store, old, "succeeded", 5100, "d") == "late"
    forged = mint_token(T, 2)  # the right attempt, not its secret
    assert await _complete(store, forged, "succeeded", 5100, "d") == "unknown"
    other_tenant = parse_token(mint_token("ten_b", 2))
    assert other_tenant is not None
    r = await store.jobs.report(REF, other_tenant, "progress", 5100, "{}")
    assert r.answer == "unknown"


async def test_an_outcome_is_applied_to_the_fire_once(store: Store) -> None:
    token = await _started(store)
    await store.jobs.answer(T, REF, 1, "owner", 202, "", 1500)
    await _complete(store, token, "succeeded", 2000, "d")
    args = (T, REF, 1, '{"number": 1}', "succeeded", 2100, None, None)
    assert await store.jobs.settle(*args) == "succeeded"
    assert await store.jobs.settle(*args) == "done"
    attempts = await store.client.lrange(store.keys.attempts(T, REF.fire_id), 0, -1)
    assert len(attempts) == 1
    assert (await store.jobs.check(T, REF, 1, 2200))[0] == "done"


async def test_a_completion_before_the_answer_stands_and_a_copy_does_not_send(
    store: Store,
) -> None:
    token = await _started(store)
    assert await _complete(store, token, "failed", 1200, "d") == "ended"
    assert (await store.jobs.check(T, REF, 1, 1300))[0] == "done"  # its request is in flight
    assert (await store.jobs.answer(T, REF, 1, "owner", 500, "", 1400))[0] == "ended"
    again = token_hash(mint_token(T, 1))
    assert await store.jobs.start(T, REF, 1, again, 1500, JobSettings(10)) == "ended"


async def test_a_non_202_answer_closes_the_attempt_for_reports(store: Store) -> None:
    token = await _started(store)
    assert (await store.jobs.answer(T, REF, 1, "owner", 200, "ok", 1500))[0] == "closed"
    assert await _complete(store, token, "succeeded", 1600, "d") == "late"


async def test_a_job_counts_as_running_from_its_202_until_its_outcome_or_next_attempt(
    store: Store,
) -> None:
    jobs, other = store.jobs, JobRef("fire_b")
    # a 202 counts the job; progress keeps it counted; its completion ends the count
    token = await _started(store)
    assert await jobs.running(1400) == 0  # delivering is not running
    await jobs.answer(T, REF, 1, "owner", 202, "", 1500)
    assert await jobs.running(1600) == 1
    parsed = parse_token(token)
    assert parsed is not None
    assert (await jobs.report(REF, parsed, "progress", 2000, "{}")).answer == "ok"
    assert await jobs.running(2100) == 1
    assert await _complete(store, token, "succeeded", 2200, "d") == "ended"
    assert await _complete(store, token, "succeeded", 2300, "d") == "same"
    assert await jobs.running(2400) == 0
    # another fire's job, of another tenant: counted apart, ended by its watch's timeout
    await store.client.hset(store.keys.fire("ten_b", other.fire_id), "status", "delivering")
    tb = mint_token("ten_b", 1)
    assert await jobs.start("ten_b", other, 1, token_hash(tb), 3000, JobSettings(10, 2)) == "go"
    await jobs.answer("ten_b", other, 1, "owner", 202, "", 3000)
    assert await jobs.running(3100) == 1
    assert (await jobs.check("ten_b", other, 1, 5100))[0] == "ended"  # past 3000 + 2 s
    assert await jobs.running(5200) == 0


async def test_a_report_that_times_a_job_out_or_a_new_attempt_ends_its_count(
    store: Store,
) -> None:
    jobs = store.jobs
    token = await _started(store)
    await jobs.answer(T, REF, 1, "owner", 202, "", 1500)
    parsed = parse_token(token)
    assert parsed is not None
    late = await jobs.report(REF, parsed, "progress", 3600, "{}")  # past 1500 + 2 s
    assert (late.answer, late.timed_out) == ("late", True)
    assert await jobs.running(3700) == 0
    # the next attempt runs: counted once, not beside the old one
    t2 = token_hash(mint_token(T, 2))
    assert await jobs.start(T, REF, 2, t2, 4000, JobSettings(10, 2)) == "go"
    await jobs.answer(T, REF, 2, "owner", 202, "", 4100)
    assert await jobs.running(4200) == 1
    # the same attempt delivered again (its invoker died): delivering, not running, until
    # its 202; another answer to it then (a stalled first invoker's) closes it, uncounted
    again = token_hash(mint_token(T, 2))
    assert await jobs.start(T, REF, 2, again, 4300, JobSettings(10, 2)) == "go"
    assert await jobs.running(4400) == 0
    await jobs.answer(T, REF, 2, "owner", 202, "", 4500)
    assert await jobs.running(4600) == 1
    assert (await jobs.answer(T, REF, 2, "owner", 500, "", 4700))[0] == "closed"
    assert await jobs.running(4800) == 0


async def test_a_job_that_completes_before_its_202_never_counts(store: Store) -> None:
    token = await _started(store)
    assert await _complete(store, token, "succeeded", 1200, "d") == "ended"
    assert (await store.jobs.answer(T, REF, 1, "owner", 202, "", 1300))[0] == "ended"
    assert await store.jobs.running(1400) == 0
