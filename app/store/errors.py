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


# redis-py's asyncio connection can have its stream writer taken away by a disconnect
# running at the same time as a write (seen when a Cluster master dies mid-traffic): the
# write then fails as AttributeError or TypeError from inside the connection's write path
# instead of as ConnectionError (redis-py issue 3546). It is a lost connection all the same.
_WRITE_PATH = frozenset({"send_packed_command", "_send_packed_command"})


def lost_writer(e: BaseException) -> bool:
    """Whether ``e`` is redis-py's closed-writer race: an AttributeError or TypeError whose
    traceback runs through the connection's write path. Any other such error is a bug of
    ours and propagates."""
    if not isinstance(e, AttributeError | TypeError):
        return False
    tb = e.__traceback__
    while tb is not None:
        code = tb.tb_frame.f_code
        if code.co_name in _WRITE_PATH and "redis" in code.co_filename:
            return True
        tb = tb.tb_next
    return False


def wrapped(fn: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
    @functools.wraps(fn)
    async def inner(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return await fn(*args, **kwargs)
        except DRIVER_ERRORS as e:
            raise StoreUnavailable(f"{fn.__qualname__}: {e!r}") from e
        except (AttributeError, TypeError) as e:
            if lost_writer(e):
                raise StoreUnavailable(f"{fn.__qualname__}: connection lost: {e!r}") from e
            raise

    return inner
