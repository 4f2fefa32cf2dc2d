"""The contract itself: every route of the API documented, examples that obey their
schemas, the same problem statuses everywhere."""

from __future__ import annotations

from typing import Any

import pytest

from app.api.contract import spec
from tests.spec import operations, resolve, schema_errors

DESIGN_ROUTES = {
    ("POST", "/v1/tenants"),
    ("GET", "/v1/tenants"),
    ("GET", "/v1/tenants/{tenant_id}"),
    ("PATCH", "/v1/tenants/{tenant_id}"),
    ("DELETE", "/v1/tenants/{tenant_id}"),
    ("POST", "/v1/tenants/{tenant_id}/api-keys"),
    ("DELETE", "/v1/tenants/{tenant_id}/api-keys/{key_id}"),
    ("GET", "/v1/tenant"),
    ("POST", "/v1/schedules"),
    ("GET", "/v1/schedules"),
    ("GET", "/v1/schedules/{schedule_id}"),
    ("PATCH", "/v1/schedules/{schedule_id}"),
    ("DELETE", "/v1/schedules/{schedule_id}"),
    ("POST", "/v1/schedules/{schedule_id}/pause"),
    ("POST", "/v1/schedules/{schedule_id}/resume"),
    ("POST", "/v1/schedules/{schedule_id}/trigger"),
    ("GET", "/v1/schedules/{schedule_id}/preview"),
    ("GET", "/v1/schedules/{schedule_id}/fires"),
    ("GET", "/v1/fires/{fire_id}"),
    ("POST", "/v1/fires/{fire_id}/replay"),
    ("GET", "/v1/dead-letters"),
    ("POST", "/v1/messages"),
    ("POST", "/v1/signing-secret/rotate"),
    ("GET", "/healthz"),
    ("GET", "/readyz"),
    ("GET", "/metrics"),
    ("GET", "/openapi.yaml"),
    # issue 3's additions
    ("GET", "/v1/events"),
    ("GET", "/v1/forecast"),
    ("GET", "/v1/admin/forecast"),
}


def test_every_route_of_the_design_is_in_the_contract() -> None:
    documented = {(m, p) for m, p, _ in operations()}
    assert documented >= DESIGN_ROUTES, sorted(DESIGN_ROUTES - documented)


def test_operation_ids_are_unique_and_present() -> None:
    ids = [op.get("operationId") for _, _, op in operations()]
    assert None not in ids
    assert len(ids) == len(set(ids))


def _examples(media: dict[str, Any]) -> list[Any]:
    found = [media["example"]] if "example" in media else []
    found += [resolve(e)["value"] for e in (media.get("examples") or {}).values()]
    return found


def test_every_example_obeys_its_schema() -> None:
    checked = 0
    for method, path, op in operations():
        body = op.get("requestBody", {}).get("content", {})
        pairs = [(m, f"{method} {path} request") for m in body.values()]
        for status, resp in op["responses"].items():
            for ctype, media in (resolve(resp).get("content") or {}).items():
                if "json" in ctype:
                    pairs.append((media, f"{method} {path} {status}"))
        for media, where in pairs:
            for example in _examples(media):
                assert schema_errors(media["schema"], example) == [], where
                checked += 1
    assert checked >= 20


@pytest.mark.parametrize(("method", "path", "op"), operations(), ids=lambda x: str(x)[:40])
def test_every_authenticated_operation_documents_its_problems(
    method: str, path: str, op: dict[str, Any]
) -> None:
    if op.get("security") == []:
        return
    statuses = set(op["responses"])
    assert {"401", "403", "503"} <= statuses
    if "{" in path:
        assert "404" in statuses
    has_query = any(resolve(p)["in"] == "query" for p in op.get("parameters", []))
    if has_query or "requestBody" in op:
        assert "422" in statuses
    if method == "POST":
        names = {resolve(p)["name"] for p in op.get("parameters", [])}
        assert "Idempotency-Key" in names
        assert {"409", "413"} <= statuses
    if "requestBody" in op:
        assert {"400", "413", "415", "422"} <= statuses


def test_input_schemas_reject_unknown_fields() -> None:
    schemas = spec()["components"]["schemas"]
    for name in (
        "TenantCreate",
        "TenantUpdate",
        "ScheduleCreate",
        "SchedulePatch",
        "Target",
        "MessageCreate",
        "RetrySettings",
        "Misfire",
        "TenantLimits",
        "RotateSecret",
        "ApiKeyCreate",
    ):
        assert schemas[name].get("additionalProperties") is False, name
