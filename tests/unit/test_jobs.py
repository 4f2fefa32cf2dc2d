"""Long jobs' pure pieces, from tables: tokens, identities, the watch's rule, the settle
message, a running attempt's first deadline and what an ended attempt means."""

from __future__ import annotations

import pytest

from app.bus.message import FireMessage
from app.jobs import JobRef, JobState, mint_token, parse_token, token_hash, watch_step
from app.models import JobSettings, Target
from dispatcher.invoke.jobs import deadline_ms, job_outcome, job_result


def test_a_minted_token_parses_back_to_its_tenant_attempt_and_hash() -> None:
    token = mint_token("ten_abc123", 7)
    parsed = parse_token(token)
    assert parsed is not None
    assert (parsed.tenant_id, parsed.attempt, parsed.hash) == ("ten_abc123", 7, token_hash(token))
    assert mint_token("ten_abc123", 7) != token  # a fresh secret every time


@pytest.mark.parametrize(
    "token",
    [
        "",
        "chk_somekey",
        "cjt.ten_a.1",
        "cjt.ten_a.0." + "x" * 32,  # attempts start at 1
        "cjt.TEN_A.1." + "x" * 32,
        "cjt.ten_a.1." + "x" * 31,
        "cjt.ten_a.1." + "x" * 32 + ".more",
        "cjt.ten_a.1." + "x" * 31 + "=",
    ],
)
def test_anything_else_is_not_a_job_token(token: str) -> None:
    assert parse_token(token) is None


@pytest.mark.parametrize(
    ("ref", "job_id", "path"),
    [
        (JobRef("fire_a"), "fire_a", "/v1/fires/fire_a/job"),
        # a fan-out's shard is a fire of its own: its job hangs below its own id
        (JobRef("fire_au3"), "fire_au3", "/v1/fires/fire_au3/job"),
    ],
)
def test_a_job_is_named_by_its_fire(ref: JobRef, job_id: str, path: str) -> None:
    assert ref.id == job_id
    assert ref.path == path
    assert ref.url("https://api.example.com/") == "https://api.example.com" + path


NOW = 10_000


@pytest.mark.parametrize(
    ("fields", "attempt", "action", "due"),
    [
        (["1", "running", "20000", "1", "0"], 1, "retime", 20000),  # heartbeats pushed it
        (["1", "running", "10000", "1", "0"], 1, "settle", -1),  # the deadline is now
        (["1", "running", "9000", "1", "0"], 1, "settle", -1),
        (["1", "succeeded", "20000", "1", "0"], 1, "settle", -1),  # a completion waits
        (["1", "timeout", "20000", "1", "0"], 1, "settle", -1),
        (["1", "succeeded", "20000", None, "0"], 1, "finish", -1),  # its request is in flight
        (["1", "delivering", "20000", None, "0"], 1, "finish", -1),
        (["1", "closed", "20000", "1", "0"], 1, "finish", -1),
        (["2", "running", "20000", "1", "1"], 1, "finish", -1),  # another attempt now
        (["1", "running", "9000", "1", "1"], 1, "finish", -1),  # applied already
        ([None, None, None, None, None], 1, "finish", -1),  # the job is gone
    ],
)
def test_the_watch_step(fields: list[str | None], attempt: int, action: str, due: int) -> None:
    step = watch_step(fields, attempt, NOW)
    assert (step.action, step.due_ms) == (action, due)


def test_a_settle_message_round_trips_and_a_delivery_keeps_its_bytes() -> None:
    settle = FireMessage("fire_a", "ten_a", 2, 5, replay=True, settle=True)
    assert FireMessage.decode(settle.encode()) == settle
    plain = FireMessage("fire_a", "ten_a", 2, 5)
    assert b"settle" not in plain.encode()
    assert FireMessage.decode(plain.encode()).settle is False


@pytest.mark.parametrize(
    ("job", "started", "now", "deadline"),
    [
        (JobSettings(60), 1000, 2000, 61_000),  # no heartbeat: the total timeout
        (JobSettings(60, 10), 1000, 2000, 12_000),  # the next heartbeat due
        (JobSettings(60, 10), 1000, 55_000, 61_000),  # never past the total
    ],
)
def test_a_running_attempts_first_deadline(
    job: JobSettings, started: int, now: int, deadline: int
) -> None:
    assert deadline_ms(job, started, now) == deadline


def _state(state: str, retry: str = "1") -> JobState:
    return JobState.from_hash(
        {"attempt": "1", "state": state, "started_at": "1000", "ended_at": "4000",
         "code": "202", "excerpt": "ok", "retry": retry}
    )  # fmt: skip


@pytest.mark.parametrize(
    ("state", "outcome", "error"),
    [
        (_state("succeeded"), "success", None),
        (_state("failed"), "retry", "job_failed"),
        (_state("failed", "0"), "fail", "job_failed"),
        (_state("timeout"), "retry", "job_timeout"),
    ],
)
def test_what_an_ended_attempt_means(state: JobState, outcome: str, error: str | None) -> None:
    assert job_outcome(state) == outcome
    result = job_result(state)
    assert (result.status_code, result.error, result.duration_ms) == (202, error, 3000.0)


def test_a_target_reads_its_job_from_stored_json() -> None:
    t = Target(url="https://x.example/", job={"timeout_seconds": 5, "heartbeat_seconds": 2})  # type: ignore[arg-type]
    assert t.job == JobSettings(5, 2)
    assert (t.job.timeout_ms, t.job.heartbeat_ms) == (5000, 2000)
    assert Target(url="https://x.example/").job is None
