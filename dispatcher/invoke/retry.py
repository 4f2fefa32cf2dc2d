"""Retry policy: what an attempt's outcome means, and when the next attempt goes.

Pure: no I/O, no clock (times are passed in as epoch seconds), randomness injectable. The
settings and their defaults are the domain's (``app.models.RetrySettings``); a policy is
made of a fire's settings with :meth:`RetryPolicy.of`.

The backoff is exponential with full jitter, floored at ``min_backoff_seconds``: after
failed attempt ``n`` (1-based) the next one waits ``uniform(min, cap_n)`` seconds with
``cap_n = min(max_backoff, min_backoff * multiplier ** (n - 1))``. The defaults follow the
shape of Svix's schedule (5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h -- 7 retries, ~27.6 h in
all):

=======  =========  ==========  =============
retry    cap        mean wait   Svix
=======  =========  ==========  =============
1        5 s        5 s         5 s
2        40 s       22 s        5 min
3        5.3 min    2.7 min     30 min
4        42.7 min   21 min      2 h
5        5.7 h      2.8 h       5 h
6        10 h       5 h         10 h
7        10 h       5 h         10 h
=======  =========  ==========  =============

So at most ~26.5 h of waiting (Svix 27.6 h), ~13 h on average; the early retries come
sooner than Svix's, which suits short outages (a deploy, a restart). ``max_retry_seconds``
(24 h) bounds the whole: a retry that would land past it is brought forward to the
deadline, and when less than ``min_backoff_seconds`` is left the fire gives up.

Outcomes (:func:`classify`): 2xx success; 3xx fail (redirects are never followed); 410
gone (the schedule gets paused); 408, 425, 429, 5xx and every transport error retry;
other 4xx retry unless the schedule opted out (``retry_on_4xx=False``); an SSRF refusal,
an invalid URL or an unsendable request fail at once -- retrying cannot change them.
A retryable attempt with no retry left (``max_attempts`` reached, or too little of
``max_retry_seconds``) is recorded as ``exhausted``: the invoker's word, not
:func:`classify`'s.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Literal

from app.models import RetrySettings
from dispatcher.http.client import DeliveryResult

__all__ = [
    "Outcome",
    "RetryPolicy",
    "backoff_seconds",
    "classify",
    "next_retry_delay",
]

Outcome = Literal["success", "retry", "fail", "gone", "exhausted"]

_PERMANENT_ERRORS = frozenset({"ssrf_blocked", "invalid_url", "invalid_request"})
_RETRYABLE_4XX = frozenset({408, 425, 429})
_DEFAULT = RetrySettings()


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long a fire is retried. ``max_attempts`` counts the first try."""

    max_attempts: int = _DEFAULT.max_attempts
    min_backoff_seconds: float = _DEFAULT.min_backoff_seconds
    max_backoff_seconds: float = _DEFAULT.max_backoff_seconds
    max_retry_seconds: float = _DEFAULT.max_retry_seconds
    multiplier: float = 8.0

    @classmethod
    def of(cls, settings: RetrySettings) -> RetryPolicy:
        """The policy of a fire's settings, brought into range (a record the API did not
        check, e.g. written by hand, still gets a valid policy)."""
        low = settings.min_backoff_seconds
        return cls(
            max_attempts=max(1, settings.max_attempts),
            min_backoff_seconds=low,
            max_backoff_seconds=max(low, settings.max_backoff_seconds),
            max_retry_seconds=max(0.0, settings.max_retry_seconds),
        )

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if not 0 < self.min_backoff_seconds <= self.max_backoff_seconds:
            raise ValueError("need 0 < min_backoff_seconds <= max_backoff_seconds")
        if self.max_retry_seconds < 0:
            raise ValueError("max_retry_seconds must not be negative")
        if self.multiplier < 1:
            raise ValueError("multiplier must be at least 1")


def backoff_seconds(policy: RetryPolicy, attempt: int, rng: random.Random | None = None) -> float:
    """The wait after failed attempt number ``attempt`` (1-based): full jitter, floored.

    Uniform between ``min_backoff_seconds`` and the exponential cap of that attempt.
    """
    if attempt < 1:
        raise ValueError("attempt is 1-based")
    low, high = policy.min_backoff_seconds, policy.max_backoff_seconds
    exponent = min(attempt - 1, 1024)
    try:
        cap = min(high, low * policy.multiplier**exponent)
    except OverflowError:
        cap = high
    if cap <= low:
        return low
    return (rng or random).uniform(low, cap)


def classify(result: DeliveryResult, *, retry_on_4xx: bool = True) -> Outcome:
    """What one attempt's result means for the fire (see the module doc for the rules)."""
    if result.error is not None:
        return "fail" if result.error in _PERMANENT_ERRORS else "retry"
    status = result.status_code
    if status is None:
        return "retry"
    if 200 <= status < 300:
        return "success"
    if 300 <= status < 400:
        return "fail"
    if status == 410:
        return "gone"
    if status in _RETRYABLE_4XX:
        return "retry"
    if 400 <= status < 500:
        return "retry" if retry_on_4xx else "fail"
    return "retry"  # 5xx, and nonstandard codes from a broken endpoint


def next_retry_delay(
    policy: RetryPolicy,
    attempt: int,
    first_attempt_at: float,
    now: float,
    retry_after: float | None,
    rng: random.Random | None = None,
) -> float | None:
    """Seconds to wait before the next attempt, or ``None`` to give up (dead letter).

    ``attempt`` is the 1-based number of the attempt that just failed; times are epoch
    seconds. Gives up when ``attempt >= max_attempts`` or when less than
    ``min_backoff_seconds`` is left before ``first_attempt_at + max_retry_seconds``.
    A ``Retry-After`` replaces the jittered backoff, clamped into
    ``[min_backoff_seconds, max_backoff_seconds]``. A wait that would end past the deadline
    is shortened to end at it, so the last attempt still happens.
    """
    if attempt >= policy.max_attempts:
        return None
    remaining = first_attempt_at + policy.max_retry_seconds - now
    if remaining < policy.min_backoff_seconds:
        return None
    if retry_after is not None and math.isfinite(retry_after):
        delay = min(max(retry_after, policy.min_backoff_seconds), policy.max_backoff_seconds)
    else:
        delay = backoff_seconds(policy, attempt, rng)
    return min(delay, remaining)
