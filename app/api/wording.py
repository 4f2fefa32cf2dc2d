"""jsonschema's failures in words: what the field must be, never a raw regular expression
or a Python repr of the schema. A ``pattern`` says what it means through the schema's
``x-message`` (an OpenAPI extension), or generically when it has none."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from jsonschema.exceptions import ValidationError

_A = {
    "integer": "an integer",
    "number": "a number",
    "string": "a string",
    "object": "an object",
    "array": "an array",
    "boolean": "true or false",
    "null": "null",
}
_FORMATS = {"date-time": "an RFC 3339 instant with an offset or Z"}


def _listed(values: list[Any]) -> str:
    words = [v if isinstance(v, str) else json.dumps(v) for v in values if v is not None]
    out = ", ".join(words)
    return out + (" or null" if None in values else "")


def _types(v: Any) -> str:
    kinds = [str(k) for k in (v if isinstance(v, list) else [v])]
    return "must be " + " or ".join(_A.get(k, k) for k in kinds)


def _length(word: str) -> Callable[[Any], str]:
    def say(v: Any) -> str:
        if word == "at least" and v == 1:
            return "must not be empty"
        return f"must be {word} {v} character{'s' if v != 1 else ''} long"

    return say


_SAY: dict[str, Callable[[Any], str]] = {
    "type": _types,
    "enum": lambda v: f"must be one of: {_listed(list(v))}",
    "const": lambda v: f"must be {json.dumps(v)}",
    "minimum": lambda v: f"must be at least {v}",
    "maximum": lambda v: f"must be at most {v}",
    "exclusiveMinimum": lambda v: f"must be greater than {v}",
    "exclusiveMaximum": lambda v: f"must be less than {v}",
    "multipleOf": lambda v: f"must be a multiple of {v}",
    "minLength": _length("at least"),
    "maxLength": _length("at most"),
    "minItems": lambda v: f"must have at least {v} item{'s' if v != 1 else ''}",
    "maxItems": lambda v: f"must have at most {v} items",
    "uniqueItems": lambda v: "must not repeat an item",
    "minProperties": lambda v: f"must have at least {v} field{'s' if v != 1 else ''}",
    "maxProperties": lambda v: f"must have at most {v} entries",
    "format": lambda v: f"must be {_FORMATS.get(v, v)}",
    "not": lambda v: "is not allowed here",
}


def _alternative(e: ValidationError) -> ValidationError | None:
    """Of a oneOf/anyOf's failures, the one that explains the value (not "is not null")."""
    useful = [
        c for c in e.context or [] if not (c.validator == "type" and c.validator_value == "null")
    ]
    return min(useful, key=lambda c: len(list(c.relative_path)), default=None)


def in_words(e: ValidationError) -> str:
    """What the value must be, for one jsonschema failure."""
    kind = str(e.validator)
    schema: dict[str, Any] = e.schema if isinstance(e.schema, dict) else {}
    if kind == "pattern":
        return str(schema.get("x-message") or "is not in the accepted form")
    if kind in ("oneOf", "anyOf"):
        best = _alternative(e)
        return in_words(best) if best is not None else "matches none of the accepted forms"
    if kind == "propertyNames" and e.context:
        child = e.context[0]
        return f"has a key that is not allowed ({child.instance!r} {in_words(child)})"
    say = _SAY.get(kind)
    return say(e.validator_value) if say else e.message
