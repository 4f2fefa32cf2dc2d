"""A 422 names every bad field at once, in words, as the contract's example shows."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from app.api.contract import spec
from tests.api.conftest import Tenant, make_schedule, schedule_body

# what a message must not look like: jsonschema's raw wording or a regular expression
RAW = re.compile(r"does not match|is not one of \[|is not of type|\^|\$'|\\\\")


def _example() -> dict[str, Any]:
    media = spec()["components"]["responses"]["Unprocessable"]["content"]
    example: dict[str, Any] = media["application/problem+json"]["example"]
    return example


async def test_a_bad_cron_and_an_ftp_url_give_the_contracts_example(
    api: httpx.AsyncClient, tenant: Tenant
) -> None:
    # given the request the example in openapi.yaml describes
    body = schedule_body(cron="61 * * * *", target={"url": "ftp://files.example.com/x"})
    # when it is sent
    r = await api.post("/v1/schedules", json=body, headers=tenant.auth)
    # then both errors come back, as the example words them
    assert r.status_code == 422, r.text
    want = _example()
    assert r.json()["errors"] == want["errors"]
    assert r.json()["detail"] == want["detail"]


BAD_FIELDS: list[tuple[dict[str, Any], set[str]]] = [
    (
        {
            "cron": "61 * * * *",
            "timezone": "Mars/Base",
            "target": {"url": "ftp://x.example/", "method": "BREW", "timeout_seconds": -1},
            "retry": {"max_attempts": "x"},
            "overlap": "nah",
        },
        {
            "cron",
            "timezone",
            "target.url",
            "target.method",
            "target.timeout_seconds",
            "retry.max_attempts",
            "overlap",
        },
    ),
    (
        {"name": "", "start_at": "yesterday", "target": {"url": "http://exa mple/", "x": 1}},
        {"name", "start_at", "target.url", "target.x"},
    ),
    (
        {"cron": 5, "callback_url": "gopher://x.example/", "metadata": {"k": 1}},
        {"cron", "callback_url", "metadata.k"},
    ),
]


@pytest.mark.parametrize(("changes", "fields"), BAD_FIELDS)
async def test_every_bad_field_is_named_in_words(
    api: httpx.AsyncClient, tenant: Tenant, changes: dict[str, Any], fields: set[str]
) -> None:
    r = await api.post("/v1/schedules", json=schedule_body(**changes), headers=tenant.auth)
    assert r.status_code == 422, r.text
    errors = r.json()["errors"]
    assert {e["field"] for e in errors} == fields, errors
    for e in errors:
        assert not RAW.search(e["message"]), e


async def test_a_patch_names_every_bad_field_in_words(
    api: httpx.AsyncClient, tenant: Tenant
) -> None:
    s = await make_schedule(api, tenant)
    patch = {"cron": "61 * * * *", "target": {"url": "ftp://x.example/"}, "overlap": "nah"}
    r = await api.patch(f"/v1/schedules/{s['id']}", json=patch, headers=tenant.auth)
    assert r.status_code == 422, r.text
    errors = r.json()["errors"]
    assert {e["field"] for e in errors} == {"cron", "target.url", "overlap"}, errors
    for e in errors:
        assert not RAW.search(e["message"]), e


async def test_a_message_names_every_bad_field_in_words(
    api: httpx.AsyncClient, tenant: Tenant
) -> None:
    body = {
        "target": {"url": "ftp://x.example/", "method": "BREW"},
        "retry": {"max_attempts": 0},
        "callback_url": "gopher://x.example/",
    }
    r = await api.post("/v1/messages", json=body, headers=tenant.auth)
    assert r.status_code == 422, r.text
    errors = r.json()["errors"]
    want = {"target.url", "target.method", "retry.max_attempts", "callback_url"}
    assert {e["field"] for e in errors} == want, errors
    for e in errors:
        assert not RAW.search(e["message"]), e


@pytest.mark.parametrize(
    "query", ["limit=0", "limit=201", "paused=yes", "name_prefix=" + "x" * 300]
)
async def test_bad_query_parameters_are_named_in_words(
    api: httpx.AsyncClient, tenant: Tenant, query: str
) -> None:
    r = await api.get(f"/v1/schedules?{query}", headers=tenant.auth)
    assert r.status_code == 422, r.text
    for e in r.json()["errors"]:
        assert not RAW.search(e["message"]), e
