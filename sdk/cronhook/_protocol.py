"""The pure half of the client: requests as descriptions, responses as results or errors.

A `Call[T]` says what to send (method, path, query, JSON body, Idempotency-Key) and how to
read a successful answer into a `T`. `Client` and `AsyncClient` only differ in how they
send it. Nothing here performs I/O.
"""

from __future__ import annotations

import enum
import json
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, Generic, TypeVar
from urllib.parse import quote

import httpx

from cronhook import errors
from cronhook._codec import DecodeFailure, decode, encode
from cronhook.models import Page

T = TypeVar("T")
Parser = Callable[[httpx.Response], T]

JSON_MEDIA = "application/json"
REQUEST_ID = "X-Request-Id"
EVENT_STREAM_MEDIA = "text/event-stream"


@dataclass(frozen=True, slots=True)
class Call(Generic[T]):
    """One logical API request. `idempotency_key` is fixed when the call is built, so every
    retry of it carries the same key."""

    method: str
    path: str
    parse: Parser[T]
    params: Mapping[str, str] = field(default_factory=dict)
    body: Any = None
    has_body: bool = False
    idempotency_key: str | None = None
    accept: str = JSON_MEDIA
    request_id: str = field(default_factory=lambda: f"req_{uuid.uuid4().hex}", compare=False)

    def headers(self) -> dict[str, str]:
        """Fixed per call, like the Idempotency-Key: every retry carries the same request
        id (`X-Request-Id`), which errors report and the server logs."""
        headers = {"Accept": self.accept, REQUEST_ID: self.request_id}
        if self.idempotency_key is not None:
            headers["Idempotency-Key"] = self.idempotency_key
        return headers


@dataclass(frozen=True, slots=True)
class PageQuery(Generic[T]):
    """A cursor-paginated list: `call(cursor)` is the request for one page."""

    path: str
    item: type[T]
    params: Mapping[str, str] = field(default_factory=dict)

    def call(self, cursor: str | None) -> Call[Page[T]]:
        params = dict(self.params)
        if cursor is not None:
            params["cursor"] = cursor
        return get(self.path, page_of(self.item), params)


# -- building --------------------------------------------------------------------------------


class Unset(enum.Enum):
    """The type of `UNSET`: "leave this field as it is" in an update."""

    UNSET = "UNSET"

    def __repr__(self) -> str:
        return "UNSET"


UNSET = Unset.UNSET


def path(template: str, *ids: str) -> str:
    """`template` with each `{}` replaced by a percent-encoded, non-empty id."""
    for value in ids:
        if not isinstance(value, str) or not value:
            raise ValueError(f"an id must be a non-empty string, got {value!r}")
    return template.format(*(quote(i, safe="") for i in ids))


def query(**values: object) -> dict[str, str]:
    """Query parameters without the None ones; booleans as `true`/`false`."""
    out: dict[str, str] = {}
    for name, value in values.items():
        if value is None:
            continue
        if isinstance(value, bool):
            out[name] = "true" if value else "false"
        elif isinstance(value, datetime):
            out[name] = str(encode(value))
        else:
            out[name] = str(value)
    return out


def body(**values: object) -> dict[str, Any]:
    """A JSON object of the given fields, None ones left out, encoded (see `_codec`)."""
    return {name: encode(value) for name, value in values.items() if value is not None}


def merge_patch(**values: object) -> dict[str, Any]:
    """A JSON merge patch (RFC 7396) of the fields that are not `UNSET`; None stays null."""
    return {name: encode(value) for name, value in values.items() if value is not UNSET}


def get(
    path: str,
    parse: Parser[T],
    params: Mapping[str, str] | None = None,
    *,
    accept: str = JSON_MEDIA,
) -> Call[T]:
    return Call("GET", path, parse, params=dict(params or {}), accept=accept)


def post(
    path: str, parse: Parser[T], payload: Any = None, *, idempotency_key: str | None = None
) -> Call[T]:
    """A POST with an Idempotency-Key: the caller's, else a fresh uuid4."""
    key = idempotency_key if idempotency_key is not None else str(uuid.uuid4())
    return Call(
        "POST", path, parse, body=payload, has_body=payload is not None, idempotency_key=key
    )


def patch(path: str, parse: Parser[T], payload: Mapping[str, Any]) -> Call[T]:
    return Call("PATCH", path, parse, body=dict(payload), has_body=True)


def delete(path: str) -> Call[None]:
    return Call("DELETE", path, nothing)


# -- reading answers ---------------------------------------------------------------------------


def model(cls: type[T]) -> Parser[T]:
    """Parse the JSON body as the dataclass `cls`."""

    def parse(response: httpx.Response) -> T:
        return _decoded(response, lambda data: decode(cls, data))

    return parse


def page_of(item: type[T]) -> Parser[Page[T]]:
    """Parse `{"items": [...], "next_cursor": ...}` with items of the dataclass `item`."""

    def read(data: Any) -> Page[T]:
        if not isinstance(data, Mapping) or not isinstance(data.get("items"), list):
            raise DecodeFailure("items", "expected a list page")
        cursor = data.get("next_cursor")
        if cursor is not None and not isinstance(cursor, str):
            raise DecodeFailure("next_cursor", "expected a string or null")
        items = tuple(decode(item, x, f"items[{i}]") for i, x in enumerate(data["items"]))
        return Page(items, cursor)

    def parse(response: httpx.Response) -> Page[T]:
        return _decoded(response, read)

    return parse


def items_of(item: type[T]) -> Parser[tuple[T, ...]]:
    """Parse a list page that never has a next page, as a tuple of its items."""
    read_page = page_of(item)
    return lambda response: read_page(response).items


def nothing(response: httpx.Response) -> None:
    return None


def text(response: httpx.Response) -> str:
    return response.text


def _decoded(response: httpx.Response, read: Callable[[Any], T]) -> T:
    try:
        return read(json.loads(response.content))
    except (ValueError, TypeError) as e:  # DecodeFailure is a ValueError
        raise errors.ResponseDecodeError(
            f"unexpected response body: {e}",
            status=response.status_code,
            body=response.text,
            request_id=request_id_of(response),
        ) from e


# -- errors ----------------------------------------------------------------------------------

_BY_STATUS: dict[int, type[errors.APIError]] = {
    401: errors.AuthenticationError,
    403: errors.PermissionDeniedError,
    404: errors.NotFoundError,
    409: errors.ConflictError,
    422: errors.ValidationError,
    429: errors.RateLimitError,
}


def api_error(response: httpx.Response, now: datetime | None = None) -> errors.APIError:
    """The error for a non-2xx response (its body must have been read)."""
    status = response.status_code
    cls = _BY_STATUS.get(status) or (errors.ServerError if status >= 500 else errors.APIError)
    return cls(
        status,
        _problem(response),
        method=response.request.method,
        url=str(response.request.url),
        headers=dict(response.headers),
        retry_after=retry_after(response.headers, now),
        request_id=request_id_of(response),
    )


def request_id_of(response: httpx.Response) -> str | None:
    """The server's `X-Request-Id` for a response, else the one the request carried."""
    rid = response.headers.get(REQUEST_ID) or response.request.headers.get(REQUEST_ID)
    return str(rid) if rid else None


def _problem(response: httpx.Response) -> Mapping[str, Any]:
    try:
        data = json.loads(response.content)
    except ValueError:
        data = None
    if isinstance(data, Mapping):
        return data
    excerpt = response.text[:500].strip()
    return {"title": response.reason_phrase, "detail": excerpt} if excerpt else {}


def retry_after(headers: Mapping[str, str], now: datetime | None = None) -> float | None:
    """`Retry-After` in seconds (delta-seconds or an HTTP date); None when absent or bad."""
    value = headers.get("retry-after")
    if value is None:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            return None
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
    return max(0.0, seconds) if seconds == seconds else None  # NaN is not a delay


def transport_error(error: httpx.TransportError, request: httpx.Request) -> errors.CronhookError:
    """The SDK error for an httpx transport failure (no response)."""
    cls = (
        errors.TimeoutError if isinstance(error, httpx.TimeoutException) else errors.ConnectionError
    )
    reason = str(error) or type(error).__name__
    rid = request.headers.get(REQUEST_ID)
    return cls(reason, method=request.method, url=str(request.url), request_id=rid)
