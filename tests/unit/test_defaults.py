"""One home for every default: the domain's dataclasses (app/models.py). The contract
(openapi.yaml), the invoker's retry policy and the standalone SDK state the same values,
and these tests hold them to it."""

from __future__ import annotations

from dataclasses import MISSING, fields
from typing import Any

import pytest

import cronhook.models as sdk
from app import models
from app.api.contract import spec
from dispatcher.invoke.retry import RetryPolicy

# (the domain's class, the contract's schema, the SDK's class)
SHAPES: list[tuple[type[Any], str, type[Any]]] = [
    (models.RetrySettings, "RetrySettings", sdk.RetrySettings),
    (models.Misfire, "Misfire", sdk.Misfire),
    (models.Target, "Target", sdk.Target),
]


def defaults(cls: type[Any]) -> dict[str, Any]:
    out = {}
    for f in fields(cls):
        if f.default is not MISSING:
            out[f.name] = f.default
        elif f.default_factory is not MISSING:
            out[f.name] = f.default_factory()
    return out


def contract_defaults(schema: str) -> dict[str, Any]:
    properties = spec()["components"]["schemas"][schema]["properties"]
    return {name: p["default"] for name, p in properties.items() if "default" in p}


@pytest.mark.parametrize(("domain", "schema", "_sdk"), SHAPES)
def test_the_contract_states_the_domain_defaults(
    domain: type[Any], schema: str, _sdk: type[Any]
) -> None:
    stated = contract_defaults(schema)
    assert stated, f"openapi.yaml states no default of {schema}"
    assert stated == {k: v for k, v in defaults(domain).items() if k in stated}


@pytest.mark.parametrize(("domain", "_schema", "client"), SHAPES)
def test_the_sdk_has_the_domain_defaults(
    domain: type[Any], _schema: str, client: type[Any]
) -> None:
    assert defaults(client) == defaults(domain)


def test_the_contract_states_every_retry_default() -> None:
    assert contract_defaults("RetrySettings") == defaults(models.RetrySettings)


def test_the_retry_policy_of_default_settings_is_the_default_policy() -> None:
    settings = models.RetrySettings()
    assert RetryPolicy.of(settings) == RetryPolicy()
