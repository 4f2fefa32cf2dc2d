"""Metric names and labels follow the Prometheus conventions and the label rule."""

from __future__ import annotations

from prometheus_client import CollectorRegistry

from app.metrics import (
    OTHER_TENANT,
    ApiMetrics,
    DispatcherMetrics,
    InvokerMetrics,
    SystemMetrics,
    new_registry,
)

# Every label and where its values come from: all closed sets but `tenant`, whose values
# are the operator's CRONHOOK_METRICS_TENANTS list plus "_other".
BOUNDED_LABELS = {
    *("method", "route", "status", "kind", "outcome", "result", "limit", "reason", "role"),
    "state",
}
TENANT_LABELLED = {"cronhook_invoker_deliveries", "cronhook_invoker_delivery_lag_seconds"}


def everything() -> CollectorRegistry:
    registry = new_registry()
    ApiMetrics(registry)
    DispatcherMetrics(registry)
    InvokerMetrics(registry, tenants=["ten_a"])
    SystemMetrics(registry)
    return registry


def test_names_follow_the_prometheus_conventions() -> None:
    for family in everything().collect():
        assert family.name.startswith("cronhook_"), family.name
        assert family.documentation, family.name
        if family.type == "histogram":
            assert family.name.endswith("_seconds"), family.name
        if family.type == "gauge":
            assert not family.name.endswith("_total"), family.name


def test_counters_are_exposed_with_the_total_suffix() -> None:
    registry = everything()
    counters = [f for f in registry.collect() if f.type == "counter"]
    assert counters
    DispatcherMetrics(r := new_registry()).published.inc()
    assert r.get_sample_value("cronhook_dispatcher_published_total") == 1


def test_every_label_is_bounded_and_only_delivery_series_carry_a_tenant() -> None:
    m = InvokerMetrics(registry := new_registry(), tenants=["ten_a"])
    m.on_attempt("ten_a", "succeeded", "success", 12.0)
    m.on_attempt("ten_b", "succeeded", "success", 12.0)
    m.on_start("ten_c", 1, False, 0)
    ApiMetrics(registry).request("GET", "/healthz", 200, 0.001)
    for family in registry.collect():
        for sample in family.samples:
            labels = set(sample.labels) - {"le"}
            if family.name in TENANT_LABELLED:
                assert "tenant" in labels
                assert sample.labels["tenant"] in {"ten_a", OTHER_TENANT}
                labels.discard("tenant")
            assert labels <= BOUNDED_LABELS, (family.name, labels)


def test_lag_is_observed_for_first_attempts_only() -> None:
    m = InvokerMetrics()
    m.on_start("t", 1, False, 0)
    m.on_start("t", 2, False, 0)  # a retry: its lag is the backoff, not lateness
    m.on_start("t", 1, True, 0)  # a replay of an old fire
    assert m.delivery_lag.labels(OTHER_TENANT)._sum.get() > 0
    samples = {s.name: s.value for f in m.delivery_lag.collect() for s in f.samples}
    assert samples["cronhook_invoker_delivery_lag_seconds_count"] == 1


def test_skip_reasons_drop_the_detail_after_the_colon() -> None:
    m = InvokerMetrics()
    m.on_skip("busy:1200")
    assert m.skipped.labels("busy")._value.get() == 1
