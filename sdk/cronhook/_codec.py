"""JSON to and from the SDK's frozen dataclasses, written once for every model.

`decode(cls, data)` reads the type hints of a dataclass and converts field by field:
unknown keys are ignored (the server may add fields), a missing key takes the field's
default (a missing key without one is an error), instants become aware UTC datetimes.
`encode(value)` is the inverse for request bodies: dataclasses lose their None fields,
datetimes become RFC 3339 (UTC, milliseconds), mappings and sequences are copied as they
are (a None inside a mapping stays: in a merge patch it means "remove").
"""

from __future__ import annotations

import dataclasses
import functools
import types
import typing
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar, cast

T = TypeVar("T")

__all__ = ["DecodeFailure", "decode", "encode", "parse_instant", "rfc3339"]


class DecodeFailure(ValueError):
    """The JSON does not fit the model; `path` says where (`attempts[0].number`)."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path or '<root>'}: {message}")
        self.path = path


def rfc3339(value: datetime) -> str:
    """An aware datetime as RFC 3339 in UTC with milliseconds (`2030-01-01T00:00:00.000Z`).

    Raises `ValueError` for a naive datetime: its instant would be a guess.
    """
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"naive datetime {value!r}: give it a time zone (e.g. tzinfo=UTC)")
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_instant(text: str) -> datetime:
    """RFC 3339 with `Z` or an offset -> an aware datetime (offset kept as sent)."""
    parsed = datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        raise ValueError(f"{text!r} has no UTC offset")
    return parsed


def encode(value: Any) -> Any:
    """A request value as JSON-ready data (see the module docstring)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            f.name: encode(getattr(value, f.name))
            for f in dataclasses.fields(value)
            if getattr(value, f.name) is not None
        }
    if isinstance(value, datetime):
        return rfc3339(value)
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, Mapping):
        return {str(k): encode(v) for k, v in value.items()}
    if isinstance(value, Sequence) and not isinstance(value, str | bytes):
        return [encode(v) for v in value]
    return value


def decode(cls: type[T], data: object, path: str = "") -> T:
    """`data` (parsed JSON) as an instance of the dataclass `cls`; raises `DecodeFailure`."""
    if not isinstance(data, Mapping):
        raise DecodeFailure(path, f"expected an object, got {type(data).__name__}")
    values: dict[str, Any] = {}
    for name, hint, required in _fields(cast(Any, cls)):
        where = f"{path}.{name}" if path else name
        if name in data:
            values[name] = _convert(hint, data[name], where)
        elif required:
            raise DecodeFailure(where, "missing")
    return cls(**values)


@functools.cache
def _fields(cls: type[Any]) -> tuple[tuple[str, Any, bool], ...]:
    hints = typing.get_type_hints(cls)
    return tuple(
        (
            f.name,
            hints[f.name],
            f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING,
        )
        for f in dataclasses.fields(cls)
        if f.init
    )


def _convert(hint: Any, value: object, path: str) -> Any:
    if hint is Any:
        return value
    origin = typing.get_origin(hint)
    if origin is typing.Union or origin is types.UnionType:
        return _union(hint, value, path)
    if origin is tuple:
        return _tuple(typing.get_args(hint)[0], value, path)
    if origin is Mapping or origin is dict:
        return _mapping(typing.get_args(hint)[1], value, path)
    if origin is typing.Literal:
        return _scalar(type(typing.get_args(hint)[0]), value, path)
    if dataclasses.is_dataclass(hint):
        return decode(cast(type[Any], hint), value, path)
    if hint is datetime:
        return _instant(value, path)
    return _scalar(hint, value, path)


def _union(hint: Any, value: object, path: str) -> Any:
    members = typing.get_args(hint)
    if value is None and type(None) in members:
        return None
    rest = [m for m in members if m is not type(None)]
    if len(rest) != 1:
        raise TypeError(f"unsupported union {hint!r} at {path}")
    return _convert(rest[0], value, path)


def _tuple(item: Any, value: object, path: str) -> tuple[Any, ...]:
    if not isinstance(value, list):
        raise DecodeFailure(path, f"expected an array, got {type(value).__name__}")
    return tuple(_convert(item, v, f"{path}[{i}]") for i, v in enumerate(value))


def _mapping(item: Any, value: object, path: str) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise DecodeFailure(path, f"expected an object, got {type(value).__name__}")
    return {str(k): _convert(item, v, f"{path}.{k}") for k, v in value.items()}


def _instant(value: object, path: str) -> datetime:
    if not isinstance(value, str):
        raise DecodeFailure(path, f"expected an RFC 3339 string, got {type(value).__name__}")
    try:
        return parse_instant(value)
    except ValueError as e:
        raise DecodeFailure(path, str(e)) from None


def _scalar(hint: Any, value: object, path: str) -> Any:
    if hint is float and isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if hint in (int, str) and isinstance(value, hint) and not isinstance(value, bool):
        return value
    if hint is bool and isinstance(value, bool):
        return value
    raise DecodeFailure(path, f"expected {getattr(hint, '__name__', hint)}, got {value!r:.80}")
