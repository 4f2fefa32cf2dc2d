"""Stored records: versioned, read tolerantly, and what a stored schedule means does not
change when a default of the domain does."""

from __future__ import annotations

import json
from dataclasses import MISSING, asdict, fields
from typing import Any

import pytest

from app.models import (
    Attempt,
    Fire,
    Misfire,
    RetrySettings,
    Schedule,
    Target,
    Tenant,
    TenantLimits,
)
from app.store import formats
from app.store.formats import dump_schedule, dump_tenant, load_schedule, load_tenant

T0 = 1_795_000_000_000


def schedule(**changes: Any) -> Schedule:
    s = Schedule(
        "sch_1", "ten_1", "n", "* * * * *", "UTC", Target("https://a.example/"),
        RetrySettings(), T0, T0,
    )  # fmt: skip
    return s.evolve(**changes)


def domain_defaults() -> dict[str, Any]:
    """What a schedule record may leave out, as the dataclasses default it today."""
    out: dict[str, Any] = {}
    for f in fields(Schedule):
        if f.default is not MISSING:
            out[f.name] = f.default
        elif f.default_factory is not MISSING:
            out[f.name] = f.default_factory()
    out["misfire"] = asdict(Misfire())
    out["retry"] = asdict(RetrySettings())
    target = asdict(Target("x"))
    del target["url"]
    out["target"] = target
    return out


def test_the_current_version_pins_the_domain_defaults() -> None:
    # A failure here means a default changed: add a record version with the new table,
    # so that the schedules stored before keep the meaning they were written with.
    assert formats.SCHEDULE_DEFAULTS[formats.RECORD_VERSION] == domain_defaults()


def test_a_schedule_reads_back_as_written_and_stores_only_what_differs() -> None:
    plain = schedule()
    custom = schedule(
        target=Target("https://a.example/y", "PUT", {"A": "b"}, {"k": [1]}, "text/x", 3.0),
        retry=RetrySettings(max_attempts=2, retry_on_4xx=False),
        misfire=Misfire("skip", 5.0),
        paused=True,
        metadata={"m": "n"},
    )
    for s in (plain, custom):
        assert load_schedule(dump_schedule(s)) == s
    stored = json.loads(dump_schedule(plain))
    assert stored["v"] == formats.RECORD_VERSION
    assert stored["retry"] == {} and stored["misfire"] == {} and "paused" not in stored


def test_a_record_without_a_version_reads_as_version_one() -> None:
    # given a record as written before versions: defaults left out, no "v"
    raw = json.dumps({
        "id": "sch_1", "tenant_id": "ten_1", "name": "n", "cron": "* * * * *",
        "timezone": "UTC", "target": {"url": "https://a.example/"}, "retry": {},
        "created_at": T0, "updated_at": T0,
    })  # fmt: skip
    # then it means what version 1's defaults say
    assert load_schedule(raw) == schedule()


def test_a_changed_default_does_not_change_a_stored_schedule(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # given a schedule stored in version 1 with the default retry settings
    old = dump_schedule(schedule())
    # when a release changes the default number of attempts (a new version, 2)
    v2 = json.loads(json.dumps(formats.SCHEDULE_DEFAULTS[1]))
    v2["retry"]["max_attempts"] = 3
    monkeypatch.setitem(formats.SCHEDULE_DEFAULTS, 2, v2)
    monkeypatch.setattr(formats, "RECORD_VERSION", 2)
    # then the stored schedule keeps its 8 attempts, written out now that they differ
    s = load_schedule(old)
    assert s.retry.max_attempts == 8
    again = json.loads(dump_schedule(s))
    assert again["v"] == 2 and again["retry"] == {"max_attempts": 8}
    assert load_schedule(json.dumps(again)).retry.max_attempts == 8
    # and a schedule written with version 2's default reads as 3
    fresh = json.loads(dump_schedule(schedule(retry=RetrySettings(max_attempts=3))))
    assert fresh["retry"] == {} and load_schedule(json.dumps(fresh)).retry.max_attempts == 3


def test_unknown_keys_of_a_newer_release_are_ignored() -> None:
    # given a record a newer release wrote, with fields this one does not know
    data = json.loads(dump_schedule(schedule(retry=RetrySettings(max_attempts=4))))
    data |= {"v": 99, "colour": "red"}
    data["retry"]["jitter"] = "full"
    data["target"]["proxy"] = "none"
    data["misfire"] = {"policy": "skip", "later": 1}
    # then it reads, with what it knows
    s = load_schedule(json.dumps(data))
    assert s.retry == RetrySettings(max_attempts=4)
    assert s.misfire == Misfire("skip") and s.target == Target("https://a.example/")
    assert RetrySettings.from_json({"max_attempts": 2, "jitter": "full"}).max_attempts == 2


def test_a_fire_record_with_unknown_fields_reads() -> None:
    target = Target("https://a.example/")
    fire = Fire("fire_1", "ten_1", "sch_1", "cron", T0, "dispatched", T0, T0, target,
                RetrySettings())  # fmt: skip
    assert fire.to_record()["v"] == "1"
    rec = fire.to_record() | {"shard": "3", "v": "2"}  # written by a newer release
    rec["retry"] = json.dumps(asdict(RetrySettings(max_attempts=5)) | {"jitter": "full"})
    rec["target"] = json.dumps(asdict(target) | {"proxy": "none"})
    attempt = asdict(Attempt(1, T0, 1.0, 200, None, "", "success")) | {"region": "eu"}
    read = Fire.from_record(rec, [attempt])
    assert read.retry == RetrySettings(max_attempts=5) and read.target == target
    assert read.attempts[0].status_code == 200


def test_tenant_records_are_versioned_and_read_tolerantly() -> None:
    tenant = Tenant("ten_1", "t", T0, TenantLimits(max_schedules=5), ())
    stored = json.loads(dump_tenant(tenant))
    assert stored["v"] == formats.RECORD_VERSION
    assert load_tenant(json.dumps(stored)) == tenant
    stored |= {"plan": "gold"}
    stored["limits"] |= {"max_fanout": 9}
    stored["limits"]["rate_limit"] = {"per_second": 2, "burst": 3, "window": 1}
    stored["secrets"] = [{"secret": "whsec_x", "created_at": T0, "algorithm": "v1"}]
    read = load_tenant(json.dumps(stored))
    assert read.limits.max_schedules == 5 and read.limits.rate_limit.burst == 3
    assert read.secrets[0].secret == "whsec_x"
