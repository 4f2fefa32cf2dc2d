"""Fast paths of the hot encodings produce what json.dumps produces: FireMessage.encode,
Fire.to_record (target and retry JSON), and Schedule.from_json's shared defaults."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

import pytest

from app.bus.message import FireMessage
from app.errors import PoisonMessage
from app.models import Fire, Misfire, RetrySettings, Schedule, Target


def _reference_message(m: FireMessage) -> bytes:
    data = {
        "v": 1,
        "fire_id": m.fire_id,
        "tenant_id": m.tenant_id,
        "attempt": m.attempt,
        "scheduled_at_ms": m.scheduled_at_ms,
        "replay": m.replay,
    }
    if m.not_before_ms:
        data["not_before_ms"] = m.not_before_ms
    if m.schedule_id:
        data["schedule_id"] = m.schedule_id
    return json.dumps(data, separators=(",", ":")).encode()


@pytest.mark.parametrize(
    "message",
    [
        FireMessage(
            "fire_bt8twdkm3tjfe2xbzm136wbt", "ten_bench0000000000000000000", 1, 17 * 10**11
        ),
        FireMessage("f", "t", 7, 0, replay=True),
        FireMessage('q"uote\\back\nline\u2028é\U0001f600', "t\x00", 2, -5),  # escapes
        FireMessage("f", "t", 1.0, 5.5, 1),  # type: ignore[arg-type]  # other types: json.dumps
        FireMessage("f", "t", 1, 17 * 10**11, not_before_ms=17 * 10**11 + 5),  # published ahead
        FireMessage("f", "t", 1, 5, not_before_ms=7.5),  # type: ignore[arg-type]
        FireMessage("f", "t", 1, 5, not_before_ms=9, schedule_id="sch_1"),  # a cron fire
        FireMessage("f", "t", 1, 5, schedule_id='s"\u00e9'),  # escapes
    ],
)
def test_a_message_encodes_as_json_dumps_does(message: FireMessage) -> None:
    assert message.encode() == _reference_message(message)


def test_a_message_published_ahead_decodes_with_its_instant_and_old_ones_without() -> None:
    ahead = FireMessage("f", "t", 2, 1000, not_before_ms=1500)
    assert FireMessage.decode(ahead.encode()) == ahead
    old = b'{"v":1,"fire_id":"f","tenant_id":"t","attempt":1,"scheduled_at_ms":9,"replay":false}'
    assert FireMessage.decode(old).not_before_ms == 0
    assert b"not_before_ms" not in FireMessage("f", "t", 1, 9).encode()


def test_a_cron_fire_message_decodes_with_its_schedule_and_others_without() -> None:
    cron = FireMessage("f", "t", 1, 1000, not_before_ms=1000, schedule_id="sch_1")
    assert FireMessage.decode(cron.encode()) == cron
    old = b'{"v":1,"fire_id":"f","tenant_id":"t","attempt":1,"scheduled_at_ms":9,"replay":false}'
    assert FireMessage.decode(old).schedule_id == ""
    assert b"schedule_id" not in FireMessage("f", "t", 1, 9).encode()
    bad = old[:-1] + b',"schedule_id":7}'
    with pytest.raises(PoisonMessage, match="schedule_id"):
        FireMessage.decode(bad)


@pytest.mark.parametrize("bad", ['"soon"', "true", "1.5", "null"])
def test_a_message_with_a_bad_hold_instant_is_poison(bad: str) -> None:
    body = (
        '{"v":1,"fire_id":"f","tenant_id":"t","attempt":1,"scheduled_at_ms":9,'
        f'"replay":false,"not_before_ms":{bad}}}'
    )
    with pytest.raises(PoisonMessage, match="not_before_ms"):
        FireMessage.decode(body.encode())


def _fire(target: Target, retry: RetrySettings) -> Fire:
    return Fire("fir_1", "ten_1", "sch_1", "cron", 5, "dispatched", 5, 5, target, retry)


TARGETS = [
    Target(url="https://a.example/x", body={"job": "report", "n": 1, "ü": [1.5, None]}),
    Target(
        url="https://a.example/y",
        method="PUT",
        headers={"X-A": "é"},
        body="raw",
        content_type="text/x",
    ),
    Target(url="https://a.example/z", timeout_seconds=5),  # an int where a float is usual
]
RETRIES = [
    RetrySettings(),
    RetrySettings(max_attempts=3, min_backoff_seconds=1, retry_on_4xx=False),
]


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("retry", RETRIES)
def test_a_fire_records_its_target_and_retry_as_json_dumps_of_their_fields(
    target: Target, retry: RetrySettings
) -> None:
    for _ in range(2):  # computed, then remembered
        rec = _fire(target, retry).to_record()
        assert rec["target"] == json.dumps(asdict(target))
        assert rec["retry"] == json.dumps(asdict(retry))


def test_equal_settings_of_other_types_keep_their_own_json() -> None:
    a, b = RetrySettings(min_backoff_seconds=5), RetrySettings(min_backoff_seconds=5.0)
    assert a == b
    assert _fire(TARGETS[0], a).to_record()["retry"] != _fire(TARGETS[0], b).to_record()["retry"]
    assert '"min_backoff_seconds": 5,' in _fire(TARGETS[0], a).to_record()["retry"]


def _schedule_json(**extra: Any) -> dict[str, Any]:
    return {
        "id": "sch_1",
        "tenant_id": "ten_1",
        "name": "n",
        "cron": "* * * * *",
        "timezone": "UTC",
        "target": {"url": "https://a.example/"},
        "retry": {},
        "created_at": 1,
        "updated_at": 1,
    } | extra


def test_schedules_stored_with_default_settings_read_back_as_the_defaults() -> None:
    s = Schedule.from_json(_schedule_json())
    assert s.retry == RetrySettings() and s.misfire == Misfire()
    assert vars(s.retry) == vars(RetrySettings()) and vars(s.misfire) == vars(Misfire())
    other = Schedule.from_json(
        _schedule_json(retry={"max_attempts": 2}, misfire={"policy": "skip"})
    )
    assert other.retry == RetrySettings(max_attempts=2)
    assert other.misfire == Misfire(policy="skip")
    assert Schedule.from_json(s.to_json()) == s
