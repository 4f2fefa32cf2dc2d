"""Time-index payloads, from tables: what is written reads back, what a newer release adds
is ignored, what cannot be read is None (the dispatcher drops it)."""

from __future__ import annotations

import json

import pytest

from app.bus.message import FireMessage
from app.payloads import ScheduleRef, fire_item_payload, read_payload, schedule_item_payload


def test_a_schedule_item_reads_back_as_its_schedule() -> None:
    assert read_payload(schedule_item_payload("ten_1", "sch_1")) == ScheduleRef("ten_1", "sch_1")


@pytest.mark.parametrize("replay", [False, True])
def test_a_fire_item_reads_back_as_its_message(replay: bool) -> None:
    payload = fire_item_payload("ten_1", "fire_1", 3, 1_795_000_000_000, replay)
    assert read_payload(payload) == FireMessage("fire_1", "ten_1", 3, 1_795_000_000_000, replay)


def test_keys_a_newer_release_adds_are_ignored() -> None:
    data = json.loads(fire_item_payload("ten_1", "fire_1", 1, 5)) | {"prio": 2}
    assert read_payload(json.dumps(data)) == FireMessage("fire_1", "ten_1", 1, 5)
    data = json.loads(schedule_item_payload("ten_1", "sch_1")) | {"shard": 7}
    assert read_payload(json.dumps(data)) == ScheduleRef("ten_1", "sch_1")


@pytest.mark.parametrize(
    "payload",
    [
        "",
        "not json",
        "[1, 2]",
        '"s"',
        "{}",
        '{"k": "x", "t": "ten_1"}',
        '{"k": "s", "t": "ten_1"}',
        '{"k": "f", "t": "ten_1", "f": "fire_1"}',
        '{"k": "f", "t": "ten_1", "f": "fire_1", "a": "one"}',
    ],
)
def test_an_unreadable_payload_is_none(payload: str) -> None:
    assert read_payload(payload) is None
