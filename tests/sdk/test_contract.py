"""The SDK against `openapi.yaml`: every operation of the contract has an SDK method that
sends its method and path, and every example response in the contract parses into the
SDK's model for it. A new operation in the contract fails here until the SDK has it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

import cronhook
from cronhook._protocol import Call, PageQuery
from cronhook._resource import Resource
from cronhook.resources import (
    AdminConsole,
    AdminFleet,
    AdminForecast,
    ApiKeys,
    DeadLetters,
    Events,
    Fires,
    ForecastResource,
    Messages,
    Portal,
    Schedules,
    SigningSecret,
    System,
    TenantResource,
    Tenants,
)

SPEC = yaml.safe_load((Path(__file__).resolve().parents[2] / "openapi.yaml").read_text())
IDS = {"tenant_id": "ten_1", "key_id": "key_1", "schedule_id": "sch_1", "fire_id": "fire_1"}
TARGET = {"url": "https://example.com/hook"}

# operationId -> (resource class, method name, arguments, the model of its 2xx answer)
OPERATIONS: dict[str, tuple[type[Resource[Any]], str, tuple[Any, ...], Any]] = {
    "healthz": (System, "health", (), cronhook.Health),
    "readyz": (System, "ready", (), cronhook.Health),
    "metrics": (System, "metrics", (), str),
    "openapi": (System, "openapi", (), str),
    "createTenant": (Tenants, "create", ("acme",), cronhook.TenantCreated),
    "listTenants": (Tenants, "list", (), cronhook.Tenant),
    "getTenant": (Tenants, "get", ("ten_1",), cronhook.Tenant),
    "updateTenant": (Tenants, "update", ("ten_1",), cronhook.Tenant),
    "deleteTenant": (Tenants, "delete", ("ten_1",), None),
    "createApiKey": (ApiKeys, "create", ("ten_1",), cronhook.ApiKeyCreated),
    "listApiKeys": (ApiKeys, "list", ("ten_1",), cronhook.ApiKey),
    "revokeApiKey": (ApiKeys, "revoke", ("ten_1", "key_1"), None),
    "adminForecast": (AdminForecast, "get", (), cronhook.Forecast),
    "getFleet": (AdminFleet, "get", (), cronhook.Fleet),
    "createTenantPortalLink": (Tenants, "portal_link", ("ten_1",), cronhook.SignInLink),
    "createConsoleLink": (AdminConsole, "link", (), cronhook.SignInLink),
    "createPortalLink": (Portal, "link", (), cronhook.SignInLink),
    "getCurrentTenant": (TenantResource, "get", (), cronhook.CurrentTenant),
    "rotateSigningSecret": (SigningSecret, "rotate", (), cronhook.RotatedSecret),
    "createSchedule": (Schedules, "create", ("n", "* * * * *", TARGET), cronhook.Schedule),
    "createSchedulesInBulk": (Schedules, "create_many", ([{"name": "n"}],), cronhook.BulkResult),
    "listSchedules": (Schedules, "list", (), cronhook.Schedule),
    "getSchedule": (Schedules, "get", ("sch_1",), cronhook.Schedule),
    "updateSchedule": (Schedules, "update", ("sch_1",), cronhook.Schedule),
    "deleteSchedule": (Schedules, "delete", ("sch_1",), None),
    "pauseSchedule": (Schedules, "pause", ("sch_1",), cronhook.Schedule),
    "resumeSchedule": (Schedules, "resume", ("sch_1",), cronhook.Schedule),
    "triggerSchedule": (Schedules, "trigger", ("sch_1",), cronhook.Fire),
    "previewSchedule": (Schedules, "preview", ("sch_1",), cronhook.Preview),
    "listScheduleFires": (Schedules, "fires", ("sch_1",), cronhook.Fire),
    "listFires": (Fires, "list", (), cronhook.Fire),
    "getFire": (Fires, "get", ("fire_1",), cronhook.Fire),
    "replayFire": (Fires, "replay", ("fire_1",), cronhook.Fire),
    "listFireShards": (Fires, "shards", ("fire_1",), cronhook.Shard),
    "listDeadLetters": (DeadLetters, "list", (), cronhook.Fire),
    "createMessage": (Messages, "send", (TARGET,), cronhook.Fire),
    "streamEvents": (Events, "stream", (), cronhook.Event),
    "forecast": (ForecastResource, "get", (), cronhook.Forecast),
}
KWARGS = {"updateTenant": {"name": "x"}, "updateSchedule": {"name": "x"}}


def spec_operations() -> dict[str, tuple[str, str, dict[str, Any]]]:
    found = {}
    for path, item in SPEC["paths"].items():
        for method, op in item.items():
            if isinstance(op, dict) and "operationId" in op:
                found[op["operationId"]] = (method.upper(), path, op)
    return found


def built(operation: str) -> Call[Any]:
    resource, name, args, _ = OPERATIONS[operation]
    request = vars(resource)[name]._build(*args, **KWARGS.get(operation, {}))
    return request.call(None) if isinstance(request, PageQuery) else request


# Operations a webhook receiver calls, with the job token of a delivery, not an API key:
# `cronhook.jobs` (tests/sdk/test_jobs.py holds it to these paths).
RECEIVER_OPERATIONS = {
    "reportJobProgress": "/v1/fires/{fire_id}/job/progress",
    "completeJob": "/v1/fires/{fire_id}/job/complete",
}


def test_every_operation_of_the_contract_has_an_sdk_method() -> None:
    assert sorted(spec_operations()) == sorted([*OPERATIONS, *RECEIVER_OPERATIONS])
    for operation, path in RECEIVER_OPERATIONS.items():
        assert spec_operations()[operation][:2] == ("POST", path)


@pytest.mark.parametrize("operation", sorted(OPERATIONS))
def test_each_sdk_method_sends_the_contracts_method_and_path(operation: str) -> None:
    method, template, op = spec_operations()[operation]

    call = built(operation)

    assert (call.method, call.path) == (method, template.format(**IDS))
    if method == "POST":
        assert call.idempotency_key is not None
    if op["responses"].get("200", {}).get("content", {}).get("text/event-stream"):
        assert call.accept == "text/event-stream"


def _resolve(node: Any) -> Any:
    while isinstance(node, dict) and "$ref" in node:
        section, name = node["$ref"].split("/")[-2:]
        node = SPEC["components"][section][name]
    return node


def examples() -> list[tuple[str, Any]]:
    out = []
    for operation, (_, _, op) in sorted(spec_operations().items()):
        if operation in RECEIVER_OPERATIONS:
            continue
        for status, answer in op["responses"].items():
            media = _resolve(answer).get("content", {}).get("application/json", {})
            if not str(status).startswith("2") or not media:
                continue
            if "example" in media:
                out.append((operation, media["example"]))
            for example in media.get("examples", {}).values():
                out.append((operation, _resolve(example)["value"]))
    return out


@pytest.mark.parametrize(("operation", "example"), examples(), ids=lambda v: str(v)[:24])
def test_each_example_answer_of_the_contract_parses_into_the_sdk_model(
    operation: str, example: Any
) -> None:
    call = built(operation)
    answer = httpx.Response(200, json=example, request=httpx.Request("GET", "http://x/"))

    parsed = call.parse(answer)

    model = OPERATIONS[operation][3]
    assert isinstance(parsed, model)
    if model is cronhook.Fleet:
        assert parsed.dispatchers[0].publish_lag_ms is not None


def test_the_examples_cover_the_main_models() -> None:
    covered = {OPERATIONS[op][3] for op, _ in examples()}

    assert {cronhook.Schedule, cronhook.Fire, cronhook.TenantCreated, cronhook.Fleet} <= covered


def test_a_schedules_skipped_instants_reach_the_sdk_model() -> None:
    from cronhook._codec import decode

    example = _resolve({"$ref": "#/components/examples/Schedule"})["value"]
    counted = example | {
        "skipped": {"misfire": 3, "overlap": 1, "last_skipped_at": "2030-01-01T00:00:00.000Z"}
    }
    skips = decode(cronhook.Schedule, counted).skipped
    assert (skips.misfire, skips.overlap) == (3, 1)
    assert skips.last_skipped_at is not None and skips.last_skipped_at.year == 2030
    assert decode(cronhook.Schedule, example).skipped == cronhook.Skips()
