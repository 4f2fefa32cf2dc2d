"""Metric names and labels follow the Prometheus conventions and the label rule."""

from __future__ import annotations

import platform
from pathlib import Path

from prometheus_client import CollectorRegistry

from app.metrics import (
    ERROR_CLASSES,
    OTHER_TENANT,
    ApiMetrics,
    DispatcherMetrics,
    InvokerMetrics,
    SystemMetrics,
    exposition,
    new_registry,
)
from app.observe import oldest_due_seconds
from app.version import __version__

# Every label and where its values come from: all closed sets but `tenant`, whose values
# are the operator's CRONHOOK_METRICS_TENANTS list plus "_other".
BOUNDED_LABELS = {
    *("method", "route", "status", "kind", "outcome", "result", "limit", "reason", "role"),
    *("state", "error", "version", "python"),
}
TENANT_LABELLED = {"cronhook_invoker_deliveries", "cronhook_invoker_delivery_lag_seconds"}


def everything() -> CollectorRegistry:
    registry = new_registry(process=True)
    ApiMetrics(registry)
    DispatcherMetrics(registry)
    InvokerMetrics(registry, tenants=["ten_a"])
    SystemMetrics(registry)
    return registry


def test_names_follow_the_prometheus_conventions() -> None:
    for family in everything().collect():
        if family.name.startswith(("process_", "python_")):
            continue  # prometheus_client's standard process collectors
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


def test_attempt_errors_count_by_class_and_unknown_classes_count_as_other() -> None:
    m = InvokerMetrics()
    for error in ("timeout", "connect", "dns", "tls", "ssrf_blocked", "invalid_url", "odd"):
        m.on_attempt("t", "retrying", "retry", 5.0, error)
    m.on_attempt("t", "succeeded", "success", 5.0, None)  # a response: no error class
    counted = {
        s.labels["error"]: s.value
        for f in m.attempt_errors.collect()
        for s in f.samples
        if s.name.endswith("_total")
    }
    assert counted == {
        "timeout": 1,
        "connect": 1,
        "dns": 1,
        "tls": 1,
        "blocked": 1,
        "invalid": 1,
        "other": 1,
    }
    assert set(ERROR_CLASSES.values()) >= {"timeout", "connect", "dns", "tls", "blocked"}


def test_a_serving_registry_names_the_build() -> None:
    registry = new_registry(process=True)
    labels = {"version": __version__, "python": platform.python_version()}
    assert registry.get_sample_value("cronhook_build_info", labels) == 1


def test_the_exposition_has_no_created_series() -> None:
    registry = everything()
    InvokerMetrics(r := new_registry(process=True)).on_attempt("t", "failed", "fail", 1.0, "dns")
    for reg in (registry, r):
        text = exposition(reg).decode()
        assert "cronhook_invoker_attempt_errors_total" in text or reg is registry
        assert "_created" not in text
        assert "_total" in text and "_bucket" in text
    # the registry itself still has them: only what is served drops them
    assert any(s.name.endswith("_created") for f in r.collect() for s in f.samples)


def test_the_oldest_due_age_is_taken_from_the_earliest_shard_head() -> None:
    now = 1_000_000
    assert oldest_due_seconds([[], []], now) == 0
    assert oldest_due_seconds([[("s:a", now + 500.0)]], now) == 0  # not due yet
    firsts = [[("s:a", now - 2_000.0)], [], [("s:b", now - 30_500.0)], [("s:c", now + 9.0)]]
    assert oldest_due_seconds(firsts, now) == 30.5


def test_every_metric_is_in_the_operations_table() -> None:
    table = (Path(__file__).resolve().parents[2] / "docs" / "operations.md").read_text()
    for family in everything().collect():
        if not family.name.startswith("cronhook_"):
            continue
        exposed = f"{family.name}_total" if family.type == "counter" else family.name
        exposed = f"{family.name}_info" if family.type == "info" else exposed
        assert f"| `{exposed}` |" in table, exposed
