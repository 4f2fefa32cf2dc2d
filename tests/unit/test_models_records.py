"""A fire's Redis record read back (``Fire.from_record``) and instants as RFC 3339 text."""

from __future__ import annotations

import dataclasses
import json
import random
from typing import Any

import pytest

from app.models import (
    Attempt,
    Fire,
    InstanceMemo,
    RetrySettings,
    Target,
    from_ms,
    ms_rfc3339,
    rfc3339,
)

T0 = 1_795_000_000_123

ATTEMPT = Attempt(1, T0, 12.5, 503, None, "busy", "retry", False, "invoker-1")


def fires() -> list[Fire]:
    target = Target("https://example.com/h", headers={"X-A": "b"}, body={"k": [1, "é"]})
    return [
        Fire("fire_1", "ten_1", "sch_1", "cron", T0, "dispatched", T0, T0, target, RetrySettings(),
             schedule_stamp="3:1700000000123"),
        Fire(
            "fire_2", "ten_1", None, "message", T0, "scheduled", T0 - 5, T0 + 7,
            Target("http://10.0.0.1:8080/x?y=1", "PUT", body="text", timeout_seconds=2.5),
            RetrySettings(3, 1.0, 60.0, 600.0, False),
            next_attempt_at=T0 + 1000,
            callback_url="https://example.com/cb",
            failure_callback_url="https://example.com/dead",
        ),
    ]  # fmt: skip


def by_init(rec: dict[str, str], attempts: list[dict[str, Any]]) -> Fire:
    """The record read through the dataclass constructor (the reference)."""

    def opt_int(name: str) -> int | None:
        v = rec.get(name)
        return int(v) if v else None

    return Fire(
        id=rec["id"],
        tenant_id=rec["tenant_id"],
        schedule_id=rec.get("schedule_id") or None,
        kind=rec["kind"],  # type: ignore[arg-type]
        scheduled_at=int(rec["scheduled_at"]),
        status=rec["status"],  # type: ignore[arg-type]
        created_at=int(rec["created_at"]),
        updated_at=int(rec["updated_at"]),
        target=Target(**json.loads(rec["target"])),
        retry=RetrySettings(**json.loads(rec["retry"])),
        attempt_count=int(rec.get("attempt_count") or 0),
        first_attempt_at=opt_int("first_attempt_at"),
        next_attempt_at=opt_int("next_attempt_at"),
        attempts=tuple(Attempt(**a) for a in attempts),
        callback_url=rec.get("callback_url") or None,
        failure_callback_url=rec.get("failure_callback_url") or None,
        deferrals=int(rec.get("deferrals") or 0),
        retry_base=int(rec.get("retry_base") or 0),
        schedule_stamp=rec.get("ss") or None,
    )


@pytest.mark.parametrize("fire", fires(), ids=lambda f: f.id)
def test_a_new_record_reads_back_as_the_fire(fire: Fire) -> None:
    back = Fire.from_record(fire.to_record(), [])
    assert back == fire
    assert set(vars(back)) == set(Fire.__dataclass_fields__)  # every field set
    assert dataclasses.replace(back, status="failed").status == "failed"


@pytest.mark.parametrize("fire", fires(), ids=lambda f: f.id)
def test_fields_the_scripts_write_are_read(fire: Fire) -> None:
    rec = fire.to_record() | {
        "status": "retrying",
        "attempt_count": "3",
        "first_attempt_at": str(T0 + 1),
        "next_attempt_at": str(T0 + 60_000),
        "deferrals": "2",
        "retry_base": "1",
        "updated_at": str(T0 + 9),
    }
    attempts = [ATTEMPT.to_json(), {**ATTEMPT.to_json(), "number": 2, "replay": True}]
    back = Fire.from_record(rec, attempts)
    assert back == by_init(rec, attempts)
    assert (back.attempt_count, back.first_attempt_at, back.deferrals) == (3, T0 + 1, 2)
    assert back.attempts[1].replay and back.attempts[0] == ATTEMPT
    assert set(vars(back)) == set(Fire.__dataclass_fields__)


def test_empty_optional_fields_read_as_none() -> None:
    rec = fires()[0].to_record() | {"first_attempt_at": "", "next_attempt_at": "", "deferrals": ""}
    back = Fire.from_record(rec, [])
    assert back == by_init(rec, [])
    assert (back.first_attempt_at, back.next_attempt_at, back.deferrals) == (None, None, 0)


@pytest.mark.parametrize(
    ("ms", "text"),
    [
        (0, "1970-01-01T00:00:00.000Z"),
        (-1, "1969-12-31T23:59:59.999Z"),
        (T0, "2026-11-18T11:06:40.123Z"),
        (T0 + 0.9, "2026-11-18T11:06:40.123Z"),  # a float: its whole milliseconds
        (4_102_444_800_000, "2100-01-01T00:00:00.000Z"),
    ],
)
def test_ms_rfc3339_from_a_table(ms: int, text: str) -> None:
    assert ms_rfc3339(ms) == text == rfc3339(from_ms(ms))


def test_ms_rfc3339_is_rfc3339_of_from_ms() -> None:
    rng = random.Random(7)
    samples = [rng.randrange(-2_000_000_000_000, 4_000_000_000_000) for _ in range(5000)]
    samples += [T0 + i for i in range(0, 3000, 7)]  # many in one second, then the next
    assert [ms_rfc3339(ms) for ms in samples] == [rfc3339(from_ms(ms)) for ms in samples]


def test_ms_rfc3339_stays_exact_where_float_seconds_do_not() -> None:
    # from_ms divides into float seconds: past ~2^33 s (year 2242) a millisecond can round
    assert ms_rfc3339(253_402_300_799_999) == "9999-12-31T23:59:59.999Z"


def test_an_instance_memo_makes_once_per_instance_and_keeps_the_newest() -> None:
    made: list[Target] = []

    def make(t: Target) -> str:
        made.append(t)
        return t.url

    memo: InstanceMemo[Target, str] = InstanceMemo(make, 2)
    a, a_twin, b = Target("https://a.example/"), Target("https://a.example/"), Target("https://b/")
    # the same instance is made once; an equal one of its own is made again
    assert [memo(a), memo(a), memo(a_twin)] == ["https://a.example/"] * 3
    assert [m is a for m in made] == [True, False] and made[1] is a_twin
    # past the bound of two the oldest goes: b pushes a out, so a is made again, b is kept
    assert memo(b) == "https://b/" and memo(a) == "https://a.example/" and memo(b) == "https://b/"
    assert [id(m) for m in made] == [id(a), id(a_twin), id(b), id(a)]
