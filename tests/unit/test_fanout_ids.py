"""A shard's identity is its fire id, ``<parent id>u<index>``: the server's parse
(``app.fanout.parent_of``) and the SDK's (``VerifiedWebhook.shard``, from the signed id)
agree on every kind of id, and the shard body merge keeps the tenant's other keys."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from app.fanout import ShardRef, parent_of, shard_body, shard_id
from app.ids import cron_fire_id, new_id
from cronhook.webhooks import VerifiedWebhook
from dispatcher.invoke.callbacks import callback_fire_id

PARENT = new_id("fire")
IDS = [
    shard_id(PARENT, 0),
    shard_id(PARENT, 99_999),
    shard_id(cron_fire_id("sch_1", 1_000), 7),
    PARENT,
    cron_fire_id("sch_1", 1_000),
    "cb_01abco1",
    "cb_01abcu3o2",
    "fire_u1",
    "fire_abcu",
    "fire_abcux",
]


@pytest.mark.parametrize("fire_id", IDS)
def test_server_and_sdk_read_a_shard_id_alike(fire_id: str) -> None:
    verified = VerifiedWebhook(fire_id, datetime.now(UTC), b"{}")
    assert verified.shard == parent_of(fire_id)


def test_a_shard_id_names_its_parent_and_index() -> None:
    assert parent_of(shard_id(PARENT, 12)) == (PARENT, 12)
    assert parent_of(PARENT) is None and "u" not in PARENT.removeprefix("fire_")


def test_the_shard_part_is_merged_into_an_object_body_only() -> None:
    ref = ShardRef(PARENT, 2, 3, {"region": "eu"})
    merged = shard_body({"a": 1, "shard": "theirs", "params": 0}, ref)
    assert merged == {"a": 1, "shard": {"index": 2, "count": 3, "parent_id": PARENT},
                      "params": {"region": "eu"}}  # fmt: skip
    assert shard_body(["a"], ref) == ["a"] and shard_body("text", ref) == "text"
    no_params = shard_body({}, ShardRef(PARENT, 0, 1))
    assert no_params == {"shard": {"index": 0, "count": 1, "parent_id": PARENT}}


def test_callback_fire_ids_are_ids_of_the_contract() -> None:
    # a callback is a fire of its own: GET /v1/fires/{id} and its events take its id
    contract = yaml.safe_load((Path(__file__).parents[2] / "openapi.yaml").read_text())
    id_schema = contract["components"]["schemas"]["Id"]
    fires = [PARENT, shard_id(PARENT, 99_999), cron_fire_id("sch_1", 1_000)]
    made = {callback_fire_id(f, n, kind) for f in fires for n in (1, 12) for kind in ("cb", "fcb")}
    assert len(made) == 12
    for cb in made:
        assert re.fullmatch(id_schema["pattern"], cb) and len(cb) <= id_schema["maxLength"], cb
        assert parent_of(cb) is None
