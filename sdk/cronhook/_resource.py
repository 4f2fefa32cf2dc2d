"""Resources are written once, for both clients.

Each API operation is a pure function that builds a `Call` (or a `PageQuery`) from its
arguments. A resource class lists its operations as descriptors around those functions:

    class Fires(Resource[M]):
        get = endpoint(_get)          # _get(fire_id: str) -> Call[Fire]

On `Fires[Sync]` (what `Client` holds) `fires.get` is `(fire_id: str) -> Fire`; on
`Fires[Async]` (what `AsyncClient` holds) it is `(fire_id: str) -> Awaitable[Fire]`. The
descriptor's overloads carry the builder's exact signature through `ParamSpec`, so type
checkers and editors see each method's real parameters and result.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Coroutine
from typing import Any, Generic, ParamSpec, Self, TypeVar, overload

from cronhook._pagination import AsyncPager, Pager
from cronhook._protocol import Call, PageQuery
from cronhook._streaming import AsyncEventStream, EventStream
from cronhook._transport import AsyncTransport, SyncTransport

P = ParamSpec("P")
T = TypeVar("T")

__all__ = ["Async", "M", "Resource", "Sync", "endpoint", "paginated", "streamed"]


class Sync:
    """Marks a resource bound to the blocking `Client`."""


class Async:
    """Marks a resource bound to `AsyncClient`."""


M = TypeVar("M", Sync, Async)


class Resource(Generic[M]):
    """A group of operations sharing one client's transport."""

    def __init__(self, transport: SyncTransport | AsyncTransport) -> None:
        self._transport = transport

    def __repr__(self) -> str:
        return f"<{type(self).__name__} of {self._transport.settings.base_url}>"


class _Operation(Generic[P, T]):
    def __init__(self, build: Callable[P, T]) -> None:
        self._build = build
        self.__doc__ = build.__doc__

    def __set_name__(self, owner: type[Any], name: str) -> None:
        self._name = name

    def _bind(self, send: Callable[[T], Any]) -> Callable[..., Any]:
        build = self._build

        def bound(*args: Any, **kwargs: Any) -> Any:
            return send(build(*args, **kwargs))

        functools.update_wrapper(bound, build)
        bound.__name__ = bound.__qualname__ = self._name
        return bound


class endpoint(_Operation[P, Call[T]]):
    """One request, one result."""

    @overload
    def __get__(self, obj: None, owner: type[Any]) -> Self: ...
    @overload
    def __get__(self, obj: Resource[Sync], owner: type[Any]) -> Callable[P, T]: ...
    @overload
    def __get__(
        self, obj: Resource[Async], owner: type[Any]
    ) -> Callable[P, Coroutine[Any, Any, T]]: ...
    def __get__(self, obj: Resource[Any] | None, owner: type[Any]) -> Any:
        return self if obj is None else self._bind(obj._transport.request)


class paginated(_Operation[P, PageQuery[T]]):
    """A cursor-paginated list: an (async) iterator over every item, page by page."""

    @overload
    def __get__(self, obj: None, owner: type[Any]) -> Self: ...
    @overload
    def __get__(self, obj: Resource[Sync], owner: type[Any]) -> Callable[P, Pager[T]]: ...
    @overload
    def __get__(self, obj: Resource[Async], owner: type[Any]) -> Callable[P, AsyncPager[T]]: ...
    def __get__(self, obj: Resource[Any] | None, owner: type[Any]) -> Any:
        return self if obj is None else self._bind(obj._transport.paginate)


class streamed(_Operation[P, Call[Any]]):
    """A Server-Sent Events stream: an (async) iterator of `Event`s."""

    @overload
    def __get__(self, obj: None, owner: type[Any]) -> Self: ...
    @overload
    def __get__(self, obj: Resource[Sync], owner: type[Any]) -> Callable[P, EventStream]: ...
    @overload
    def __get__(self, obj: Resource[Async], owner: type[Any]) -> Callable[P, AsyncEventStream]: ...
    def __get__(self, obj: Resource[Any] | None, owner: type[Any]) -> Any:
        return self if obj is None else self._bind(obj._transport.stream)
