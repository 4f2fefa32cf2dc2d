"""The dispatcher's publish order is round-robin across tenants."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from app.bus.message import FireMessage
from dispatcher.dispatch.fairness import interleave_by_tenant


def _m(tenant: str, n: int) -> FireMessage:
    return FireMessage(f"fire_{tenant}{n}", tenant, 1, n)


def test_a_flooding_tenant_does_not_go_all_first() -> None:
    batch = [_m("big", i) for i in range(1000)] + [_m("small", 0), _m("other", 0)]
    order = interleave_by_tenant(batch)
    assert [m.tenant_id for m in order[:3]] == ["big", "small", "other"]


def test_one_tenant_keeps_its_order() -> None:
    batch = [_m("a", i) for i in range(5)]
    assert interleave_by_tenant(batch) == batch


@given(st.lists(st.tuples(st.sampled_from("abcd"), st.integers(0, 50)), max_size=60))
def test_interleaving_is_a_permutation_keeping_each_tenants_order(
    pairs: list[tuple[str, int]],
) -> None:
    batch = [_m(t, i) for i, (t, _) in enumerate(pairs)]
    out = interleave_by_tenant(batch)
    assert sorted(out, key=lambda m: m.scheduled_at_ms) == batch
    for tenant in "abcd":
        assert [m for m in out if m.tenant_id == tenant] == [
            m for m in batch if m.tenant_id == tenant
        ]
