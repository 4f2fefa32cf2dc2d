"""Which work queue a fire goes to, queue names, the prefetch share, and broker URLs."""

from __future__ import annotations

import pytest

from app.bus import queues as q
from app.bus.brokers import broker_urls


def test_one_queue_keeps_the_base_name_and_every_fire() -> None:
    assert q.queue_names("cronhook.fires", 1) == ["cronhook.fires"]
    assert {q.queue_index(f"fire_{i}", 1) for i in range(100)} == {0}


def test_more_queues_are_numbered_after_the_base_and_share_one_dead_letter_queue() -> None:
    assert q.queue_names("f", 3) == ["f", "f.1", "f.2"]
    assert q.dead_letter_name("f") == "f.dlq"
    assert next(q.leftover_names("f", 3)) == "f.3"


def test_a_fire_always_goes_to_the_same_queue_and_a_herd_spreads_evenly() -> None:
    ids = [f"fire_{i}" for i in range(30_000)]
    first = [q.queue_index(i, 3) for i in ids]
    assert first == [q.queue_index(i, 3) for i in ids]
    counts = [first.count(n) for n in range(3)]
    assert min(counts) > 9_500, counts  # 10,000 each, within 5 %


def test_split_keeps_the_order_within_each_queue() -> None:
    ids = [f"fire_{i}" for i in range(50)]
    groups = q.split(ids, 4)
    assert sorted(p for ps in groups.values() for p in ps) == list(range(50))
    for index, positions in groups.items():
        assert positions == sorted(positions)
        assert all(q.queue_index(ids[p], 4) == index for p in positions)


@pytest.mark.parametrize(
    ("prefetch", "consumers", "share"), [(64, 1, 64), (64, 3, 22), (1, 3, 1), (10, 4, 3)]
)
def test_an_invokers_prefetch_is_shared_over_its_consumers(
    prefetch: int, consumers: int, share: int
) -> None:
    assert q.per_consumer_prefetch(prefetch, consumers) == share


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("amqp://guest:guest@127.0.0.1:5672/", ["amqp://guest:guest@127.0.0.1:5672/"]),
        (
            "amqp://u:p@a:5701,b:5702, c/vh?heartbeat=5",
            [
                "amqp://u:p@a:5701/vh?heartbeat=5",
                "amqp://u:p@b:5702/vh?heartbeat=5",
                "amqp://u:p@c/vh?heartbeat=5",
            ],
        ),
        ("amqps://h1,h2", ["amqps://h1", "amqps://h2"]),
    ],
)
def test_an_amqp_url_may_name_every_node_of_a_cluster(url: str, expected: list[str]) -> None:
    assert broker_urls(url) == expected


def test_an_empty_host_in_the_list_is_refused() -> None:
    with pytest.raises(ValueError, match="empty host"):
        broker_urls("amqp://u:p@a:5701,,b/")
