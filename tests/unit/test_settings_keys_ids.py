"""Settings from the environment, key naming (Cluster slots) and identifiers."""

from __future__ import annotations

import pytest
from redis.crc import key_slot

from app.errors import ConfigError
from app.ids import cron_fire_id, new_id
from app.keys import Keys, fire_item, schedule_item
from app.settings import ENV_TABLE, Settings, from_env


def test_defaults_are_valid_and_every_variable_is_documented() -> None:
    s = from_env({})
    assert s == Settings()
    assert {f for _, f, *_ in ENV_TABLE} == set(Settings.__dataclass_fields__)


def test_environment_values_are_converted() -> None:
    s = from_env(
        {
            "CRONHOOK_SHARDS": "8",
            "CRONHOOK_ALLOW_PRIVATE_TARGETS": "yes",
            "CRONHOOK_LEASE_SECONDS": "12.5",
        }
    )
    assert (s.shards, s.allow_private_targets, s.lease_seconds) == (8, True, 12.5)


@pytest.mark.parametrize(
    ("env", "needle"),
    [
        ({"CRONHOOK_SHARDS": "many"}, "CRONHOOK_SHARDS must be a int"),
        ({"CRONHOOK_SHARDS": "0"}, "CRONHOOK_SHARDS must be positive"),
        ({"CRONHOOK_ALLOW_PRIVATE_TARGETS": "perhaps"}, "must be true or false"),
        ({"CRONHOOK_REDIS_URL": "http://x"}, "CRONHOOK_REDIS_URL must start with"),
        ({"CRONHOOK_AMQP_URL": "redis://x"}, "CRONHOOK_AMQP_URL must start with"),
        ({"CRONHOOK_LEASE_SECONDS": "2"}, "must exceed CRONHOOK_REDIS_TIMEOUT"),
        ({"CRONHOOK_PORT": "70000"}, "CRONHOOK_PORT"),
        ({"CRONHOOK_PREFIX": "a{b}"}, "CRONHOOK_PREFIX"),
        ({"CRONHOOK_LOG_FORMAT": "xml"}, "CRONHOOK_LOG_FORMAT"),
        ({"CRONHOOK_HERD_LOOKAHEAD_SECONDS": "61"}, "CRONHOOK_HERD_LOOKAHEAD_SECONDS must be"),
        ({"CRONHOOK_HERD_LOOKAHEAD_SECONDS": "-1"}, "CRONHOOK_HERD_LOOKAHEAD_SECONDS must be"),
        ({"CRONHOOK_HERD_SIZE": "0"}, "CRONHOOK_HERD_SIZE must be positive"),
    ],
)
def test_bad_configuration_names_the_variable(env: dict[str, str], needle: str) -> None:
    with pytest.raises(ConfigError, match=needle):
        from_env(env)


def test_every_shard_and_every_tenant_lives_in_one_cluster_slot() -> None:
    k = Keys("cronhook", 16)
    for n in range(16):
        assert len({key_slot(x.encode()) for x in k.shard(n).all()}) == 1
    tenant_keys = [
        k.tenant("ten_a"),
        k.tenant_api_keys("ten_a"),
        k.schedules("ten_a"),
        k.schedule("ten_a", "sch_b"),
        k.fire("ten_a", "f"),
        k.attempts("ten_a", "f"),
        k.inflight("ten_a", "f"),
        k.schedule_fires("ten_a", "sch_b"),
        k.dead_letters("ten_a"),
    ]
    assert len({key_slot(x.encode()) for x in tenant_keys}) == 1


def test_items_spread_over_shards() -> None:
    k = Keys("cronhook", 16)
    used = {k.shard_of(schedule_item(f"sch_{i}")) for i in range(500)}
    used |= {k.shard_of(fire_item(f"fire_{i}")) for i in range(500)}
    assert used == set(range(16))


def test_cron_fire_ids_are_deterministic_and_distinct() -> None:
    assert cron_fire_id("sch_a", 1000) == cron_fire_id("sch_a", 1000)
    ids = {cron_fire_id(s, t) for s in ("sch_a", "sch_b") for t in range(0, 100_000, 1000)}
    assert len(ids) == 200
    assert all(i.startswith("fire_") and len(i) == 29 for i in ids)


def test_new_ids_sort_by_creation() -> None:
    import time

    a = new_id("sch")
    time.sleep(0.002)
    b = new_id("sch")
    assert a < b and a.startswith("sch_")


def test_cron_fire_ids_keep_their_digits_on_the_fast_encoding() -> None:
    import hashlib

    from app.ids import _ALPHABET

    def slow(data: bytes) -> str:  # the digit-by-digit reference
        n, out = int.from_bytes(data, "big"), ""
        for _ in range((len(data) * 8 + 4) // 5):
            out, n = _ALPHABET[n & 31] + out, n >> 5
        return out

    for i in range(2000):
        digest = hashlib.sha256(f"sch_{i}:{1_700_000_000_000 + i}".encode()).digest()[:15]
        assert cron_fire_id(f"sch_{i}", 1_700_000_000_000 + i) == f"fire_{slow(digest)}"
