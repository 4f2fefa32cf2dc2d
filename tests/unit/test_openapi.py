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
    # a long job's report: its token is for one job (no 403), a report is idempotent by itself
    job = op.get("security") == [{"jobToken": []}]
    assert {"401", "503"} <= statuses and (job or "403" in statuses)
    if "{" in path:
        assert "404" in statuses
    has_query = any(resolve(p)["in"] == "query" for p in op.get("parameters", []))
    if has_query or "requestBody" in op:
        assert "422" in statuses
    if method == "POST" and job:
        assert {"409", "413"} <= statuses
    elif method == "POST":
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


SCHEMA_KEYWORDS = frozenset(
    {
        "$ref",
        "$defs",
        "type",
        "enum",
        "const",
        "description",
        "title",
        "default",
        "examples",
        "example",
        "format",
        "pattern",
        "minLength",
        "maxLength",
        "minimum",
        "maximum",
        "exclusiveMinimum",
        "exclusiveMaximum",
        "multipleOf",
        "properties",
        "additionalProperties",
        "required",
        "propertyNames",
        "minProperties",
        "maxProperties",
        "items",
        "prefixItems",
        "minItems",
        "maxItems",
        "uniqueItems",
        "contains",
        "oneOf",
        "anyOf",
        "allOf",
        "not",
        "readOnly",
        "writeOnly",
        "deprecated",
        "discriminator",
        "externalDocs",
        "contentMediaType",
        "contentSchema",
        "contentEncoding",
    }
)
_SUBSCHEMA_MAPS = ("properties", "$defs")
_SUBSCHEMA_LISTS = ("oneOf", "anyOf", "allOf", "prefixItems")
_SUBSCHEMAS = ("items", "additionalProperties", "propertyNames", "not", "contains")


def _schemas(node: Any, where: str) -> Any:
    """Every schema object in the contract, with where it is."""
    if not isinstance(node, dict):
        return
    yield where, node
    for key in _SUBSCHEMA_MAPS:
        for name, sub in (node.get(key) or {}).items():
            yield from _schemas(sub, f"{where}.{key}.{name}")
    for key in _SUBSCHEMA_LISTS:
        for i, sub in enumerate(node.get(key) or []):
            yield from _schemas(sub, f"{where}.{key}[{i}]")
    for key in _SUBSCHEMAS:
        yield from _schemas(node.get(key), f"{where}.{key}")


def _all_schemas() -> list[tuple[str, dict[str, Any]]]:
    doc = spec()
    found = []
    for name, s in doc["components"]["schemas"].items():
        found += _schemas(s, f"schemas.{name}")
    for name, p in doc["components"].get("parameters", {}).items():
        found += _schemas(p.get("schema"), f"parameters.{name}")
    for path, item in doc["paths"].items():
        for method, op in item.items():
            if not isinstance(op, dict):
                continue
            for p in op.get("parameters", []):
                found += _schemas(p.get("schema"), f"{method} {path} {p.get('name')}")
            for status, r in op.get("responses", {}).items():
                for media, m in (r.get("content") or {}).items():
                    found += _schemas(m.get("schema"), f"{method} {path} {status} {media}")
    return found


def test_every_schema_key_is_a_keyword() -> None:
    # a comma inside a flow mapping's description cuts it and makes a stray key
    stray = [
        (where, key)
        for where, s in _all_schemas()
        for key in s
        if key not in SCHEMA_KEYWORDS and not key.startswith("x-")
    ]
    assert stray == []


def test_an_enum_is_declared_once_and_never_holds_null() -> None:
    # generators make one class per enum: a nullable field refers to the named enum and
    # allows null beside it (oneOf), instead of repeating the values with a null among them
    enums = [(where, tuple(s["enum"])) for where, s in _all_schemas() if "enum" in s]
    assert [where for where, values in enums if None in values] == []
    seen: dict[tuple[Any, ...], str] = {}
    twice = []
    for where, values in enums:
        key = tuple(sorted(map(str, values)))
        if key in seen:
            twice.append((seen[key], where))
        seen.setdefault(key, where)
    assert twice == []
