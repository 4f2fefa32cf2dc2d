"""The contract: ``openapi.yaml`` loaded once; request bodies and query parameters validated
against it with jsonschema; failures name the offending field."""

from __future__ import annotations

import json
from collections.abc import Iterable
from functools import cache
from importlib import resources
from typing import Any

import yaml
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from app.errors import FieldError, ValidationFailed

SPEC_URI = "urn:cronhook:openapi"


@cache
def spec_text() -> str:
    return (resources.files("app") / "openapi.yaml").read_text()


@cache
def spec() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(spec_text())
    return data


@cache
def _registry() -> Registry[Any]:
    resource: Resource[Any] = Resource.from_contents(spec(), default_specification=DRAFT202012)
    registry: Registry[Any] = Registry().with_resource(SPEC_URI, resource)
    return registry


@cache
def validator(pointer: str) -> Draft202012Validator:
    """A validator for the schema at ``#/components/schemas/<name>`` (or any pointer)."""
    ref = pointer if pointer.startswith("#") else f"#/components/schemas/{pointer}"
    return Draft202012Validator({"$ref": f"{SPEC_URI}{ref}"}, registry=_registry())


def field_errors(errors: Iterable[ValidationError], root: str = "") -> list[FieldError]:
    out: list[FieldError] = []
    for e in sorted(errors, key=lambda e: list(map(str, e.absolute_path))):
        path = [root] if root else []
        path += [str(p) for p in e.absolute_path]
        if e.validator == "required" and isinstance(e.instance, dict):
            required: list[str] = list(e.validator_value)  # type: ignore[arg-type]
            missing = [k for k in required if k not in e.instance]
            out += [FieldError(".".join([*path, m]), "is required") for m in missing]
        elif e.validator == "additionalProperties" and isinstance(e.instance, dict):
            schema: dict[str, Any] = e.schema if isinstance(e.schema, dict) else {}
            allowed = set(schema.get("properties", {}))
            extra = sorted(k for k in e.instance if k not in allowed)
            out += [FieldError(".".join([*path, k]), "is not an accepted field") for k in extra]
        elif e.validator in ("oneOf", "anyOf") and e.context:
            best = min(e.context, key=lambda c: len(list(c.absolute_path)))
            out.append(FieldError(".".join(path) or "body", best.message))
        else:
            out.append(FieldError(".".join(path) or "body", e.message))
    return out


def check(schema: str, data: Any, root: str = "") -> None:
    errs = list(validator(schema).iter_errors(data))
    if errs:
        raise ValidationFailed(field_errors(errs, root))


def parse_json(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError) as e:
        raise ValidationFailed([FieldError("body", f"is not valid JSON: {e}")]) from e


def query_int(params: Any, name: str, *, default: int, low: int, high: int) -> int:
    raw = params.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValidationFailed([FieldError(name, "must be an integer")]) from None
    if not low <= value <= high:
        raise ValidationFailed([FieldError(name, f"must be between {low} and {high}")])
    return value


def query_str(params: Any, name: str, *, max_len: int = 200) -> str | None:
    raw = params.get(name)
    if raw is not None and len(raw) > max_len:
        raise ValidationFailed([FieldError(name, f"must be at most {max_len} characters")])
    return str(raw) if raw is not None else None
