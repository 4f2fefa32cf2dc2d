"""The contract: ``openapi.yaml`` loaded once; request bodies and query parameters validated
against it with jsonschema; failures name the offending field."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import yaml
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012
from starlette.datastructures import QueryParams

from app.api.wording import in_words
from app.errors import FieldError, ValidationFailed

SPEC_URI = "urn:cronhook:openapi"
READ_ONLY = frozenset(
    {
        "id",
        "tenant_id",
        "status",
        "version",
        "created_at",
        "updated_at",
        "next_fire_at",
        "skipped",
        "paused_reason",
        "attempts",
        "attempt_count",
        "kind",
        "scheduled_at",
        "api_key",
        "api_key_id",
        "signing_secret",
        "signing_secrets",
        "usage",
        "secrets",
        "prefix",
    }
)


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


def _resolve(node: Any) -> Any:
    while isinstance(node, dict) and "$ref" in node:
        cur: Any = spec()
        for part in node["$ref"].removeprefix("#/").split("/"):
            cur = cur[part]
        node = cur
    return node


@dataclass(frozen=True)
class Operation:
    """What the contract says one operation accepts."""

    id: str
    query: dict[str, dict[str, Any]]  # name -> schema
    body_pointer: str | None  # JSON pointer of the body schema
    body_required: bool


@cache
def operation(operation_id: str) -> Operation:
    for item in spec()["paths"].values():
        for op in item.values():
            if not isinstance(op, dict) or op.get("operationId") != operation_id:
                continue
            params = [_resolve(p) for p in [*item.get("parameters", []), *op.get("parameters", [])]]
            query = {p["name"]: p["schema"] for p in params if p["in"] == "query"}
            body = op.get("requestBody")
            pointer = None
            if body:
                media = body["content"]["application/json"]
                pointer = media["schema"]["$ref"]
            return Operation(operation_id, query, pointer, bool(body and body.get("required")))
    raise KeyError(f"no operation {operation_id} in openapi.yaml")


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
            out += [FieldError(".".join([*path, k]), _unknown(k)) for k in extra]
        else:
            out.append(FieldError(".".join(path) or "body", in_words(e)))
    return out


def contract_errors(schema: str, data: Any, root: str = "") -> list[FieldError]:
    """Every way ``data`` breaks the schema, one error per field, in words."""
    return field_errors(validator(schema).iter_errors(data), root)


def merged(schema_errors: list[FieldError], rule_errors: list[FieldError]) -> list[FieldError]:
    """Both kinds of error, sorted by field; where both speak of one field, the domain
    rule's words win (they say why: "scheme must be http or https")."""
    ruled = {e.field for e in rule_errors}
    kept = [e for e in schema_errors if e.field not in ruled]
    return sorted([*kept, *rule_errors], key=lambda e: e.field)


def _unknown(name: str) -> str:
    return "is read-only" if name in READ_ONLY else "is not an accepted field"


def check(schema: str, data: Any, root: str = "") -> None:
    errors = contract_errors(schema, data, root)
    if errors:
        raise ValidationFailed(errors)


def parse_json(raw: bytes) -> Any:
    """Raises ValueError (the caller answers 400) when the bytes are not JSON."""
    return json.loads(raw)


# -- query parameters ------------------------------------------------------------------------
_INT = re.compile(r"^[+-]?\d{1,18}$")


def _coerce(raw: str, schema: dict[str, Any]) -> Any:
    kind = _resolve(schema).get("type", "string")
    if kind == "integer":
        if not _INT.match(raw):
            raise ValueError("must be an integer")
        return int(raw)
    if kind == "number":
        value = float(raw)  # ValueError for garbage
        if not math.isfinite(value):
            raise ValueError("must be a finite number")
        return value
    if kind == "boolean":
        if raw not in ("true", "false"):
            raise ValueError("must be true or false")
        return raw == "true"
    return raw


def parse_query(op: Operation, params: QueryParams) -> dict[str, Any]:
    """The operation's query parameters, typed, defaulted and validated; unknown or repeated
    parameters are refused."""
    errors: list[FieldError] = []
    values: dict[str, Any] = {}
    for name in params:
        if name not in op.query:
            errors.append(FieldError(name, "is not a parameter of this operation"))
        elif len(params.getlist(name)) > 1:
            errors.append(FieldError(name, "is given more than once"))
    for name, schema in op.query.items():
        raw = params.get(name)
        if raw is None:
            default = _resolve(schema).get("default")
            values[name] = default
            continue
        try:
            value = _coerce(raw, schema)
        except ValueError as e:
            msg = str(e) if str(e).startswith("must") else "must be a number"
            errors.append(FieldError(name, msg))
            continue
        ref = schema.get("$ref")
        v = Draft202012Validator(
            {"$ref": f"{SPEC_URI}{ref}"} if ref else schema, registry=_registry()
        )
        bad = list(v.iter_errors(value))
        errors += [FieldError(name, in_words(err)) for err in bad[:1]]
        values[name] = value
    if errors:
        raise ValidationFailed(errors)
    return values
