"""Checking responses against openapi.yaml: every response a test sees goes through
:func:`conforms` (status documented, media type documented, body valid for its schema)."""

from __future__ import annotations

import json
import re
from functools import cache
from typing import Any

import httpx
from jsonschema import Draft202012Validator, FormatChecker

from app.api.contract import SPEC_URI, _registry, spec
from app.api.contract import _resolve as resolve  # local $ref pointers, followed

METHODS = ("get", "post", "put", "patch", "delete")


def operations() -> list[tuple[str, str, dict[str, Any]]]:
    """(METHOD, path template, operation) for every operation of the contract."""
    out = []
    for path, item in spec()["paths"].items():
        for method in METHODS:
            if method in item:
                out.append((method.upper(), path, item[method]))
    return out


def schema_errors(schema: dict[str, Any], instance: Any) -> list[str]:
    ref = schema.get("$ref")
    target = {"$ref": f"{SPEC_URI}{ref}"} if ref else schema
    v = Draft202012Validator(target, registry=_registry(), format_checker=FormatChecker())
    return [f"{list(e.absolute_path)}: {e.message}" for e in v.iter_errors(instance)]


@cache
def _matchers() -> list[tuple[re.Pattern[str], str]]:
    out = []
    for path in spec()["paths"]:
        rx = (
            "^"
            + re.sub(r"\{[^}]+\}", "[^/]+", re.escape(path).replace(r"\{", "{").replace(r"\}", "}"))
            + "$"
        )
        out.append((re.compile(rx), path))
    # literal paths before templated ones
    out.sort(key=lambda p: p[1].count("{"))
    return out


def template_of(path: str) -> str:
    for rx, template in _matchers():
        if rx.match(path):
            return template
    raise AssertionError(f"{path} is not a path of the contract")


def conforms(response: httpx.Response) -> httpx.Response:
    """Assert the response is one the contract documents; returns it for chaining."""
    request = response.request
    template = template_of(request.url.path)
    op = spec()["paths"][template].get(request.method.lower())
    assert op is not None, f"{request.method} {template} is not in the contract"
    status = str(response.status_code)
    assert status in op["responses"], (
        f"{request.method} {request.url.path} answered undocumented {status}: {response.text}"
    )
    documented = resolve(op["responses"][status])
    content = documented.get("content")
    if not content:
        assert not response.content, f"{status} should have no body"
        return response
    media = response.headers.get("content-type", "").split(";")[0].strip()
    assert media in content, f"{status} content-type {media} is not one of {list(content)}"
    schema = content[media].get("schema", {})
    if "json" in media:
        errors = schema_errors(schema, json.loads(response.content))
        assert errors == [], f"{request.method} {request.url.path} {status}: {errors}"
    return response
