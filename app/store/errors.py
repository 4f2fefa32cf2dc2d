"""Driver errors wrapped at the adapter: callers see StoreUnavailable, never redis-py's."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import ParamSpec, TypeVar

from redis import exceptions as rex

from app.errors import StoreUnavailable

P = ParamSpec("P")
R = TypeVar("R")

DRIVER_ERRORS = (
    rex.ConnectionError,
    rex.TimeoutError,
    rex.BusyLoadingError,
    rex.ResponseError,
    rex.ClusterError,
    OSError,
)


def wrapped(fn: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
    @functools.wraps(fn)
    async def inner(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return await fn(*args, **kwargs)
        except DRIVER_ERRORS as e:
            raise StoreUnavailable(f"{fn.__qualname__}: {e!r}") from e

    return inner
