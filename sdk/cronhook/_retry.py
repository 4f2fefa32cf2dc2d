"""When to retry a request, and how long to wait first. Pure: the clients ask, then sleep.

What is retried (at most `max_retries` times):

- a request that never reached the server (connection refused, DNS, connect or pool
  timeout) and a 429 (the server refused it before doing anything): any method;
- other transport failures (read timeout, reset, protocol error) and 5xx answers: only
  requests that are safe to repeat: GET and HEAD, and POSTs carrying an Idempotency-Key
  (the SDK puts one on every POST, so the server replays the first answer instead of
  acting twice);
- a 409 with `Retry-After` on a POST with an Idempotency-Key: the first try of the same
  request is still running on the server.

The wait is exponential backoff with full jitter, `uniform(0, min(max_backoff, backoff *
2**n))` for the n-th retry, but never shorter than the server's `Retry-After`. A
`Retry-After` longer than `max_retry_after` is not waited out: the error is raised, with
`retry_after` set, for the caller to decide.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx

from cronhook._protocol import Call, retry_after

__all__ = ["Retry"]

_SAFE_METHODS = frozenset({"GET", "HEAD"})
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
_RETRY_5XX = frozenset({500, 502, 503, 504})


@dataclass(frozen=True)
class Retry:
    """Retry settings. `max_retries=0` turns retries off. `jitter(low, high)` draws the
    random part of each delay (replace it only in tests)."""

    max_retries: int = 2
    backoff: float = 0.5
    max_backoff: float = 8.0
    max_retry_after: float = 60.0
    jitter: Callable[[float, float], float] = field(default=random.uniform, compare=False)

    def __post_init__(self) -> None:
        if self.max_retries < 0:
            raise ValueError("max_retries must be >= 0")
        if self.backoff < 0 or self.max_backoff < 0 or self.max_retry_after < 0:
            raise ValueError("backoff, max_backoff and max_retry_after must be >= 0")

    def backoff_delay(self, retries_done: int) -> float:
        """Full jitter: a uniform draw below the capped exponential."""
        ceiling = min(self.max_backoff, self.backoff * 2.0 ** min(retries_done, 62))
        return self.jitter(0.0, ceiling)

    def after_error(self, call: Call[object], retries_done: int, error: Exception) -> float | None:
        """Seconds to wait before retrying `call` after a transport error, or None."""
        if retries_done >= self.max_retries:
            return None
        if isinstance(error, _NOT_SENT) or _repeatable(call):
            return self.backoff_delay(retries_done)
        return None

    def after_response(
        self, call: Call[object], retries_done: int, response: httpx.Response
    ) -> float | None:
        """Seconds to wait before retrying `call` after this answer, or None (use it)."""
        status = response.status_code
        if retries_done >= self.max_retries or status < 400:
            return None
        if status == 429:
            return self._wait(retries_done, response)
        if status in _RETRY_5XX and _repeatable(call):
            return self._wait(retries_done, response)
        in_progress = status == 409 and retry_after(response.headers) is not None
        if in_progress and call.idempotency_key is not None:
            return self._wait(retries_done, response)
        return None

    def _wait(self, retries_done: int, response: httpx.Response) -> float | None:
        asked = retry_after(response.headers)
        if asked is not None and asked > self.max_retry_after:
            return None
        return max(asked or 0.0, self.backoff_delay(retries_done))


def _repeatable(call: Call[object]) -> bool:
    return call.method in _SAFE_METHODS or (
        call.method == "POST" and call.idempotency_key is not None
    )
