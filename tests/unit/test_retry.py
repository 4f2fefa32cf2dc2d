"""Retry policy from tables: outcomes, backoff shape, give-up rules, Retry-After parsing."""

from __future__ import annotations

import random
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.models import RetrySettings
from dispatcher.http.client import DeliveryResult
from dispatcher.http.retry_after import parse_retry_after
from dispatcher.invoke import retry
from dispatcher.invoke.retry import (
    RetryPolicy,
    backoff_seconds,
    classify,
    next_retry_delay,
)

T0 = 1_700_000_000.0
DEFAULT = RetryPolicy()


def response(status: int) -> DeliveryResult:
    return DeliveryResult(status, None, 12.0, "", None)


def failure(error: str) -> DeliveryResult:
    return DeliveryResult(None, error, 12.0, "", None)


@pytest.mark.parametrize(
    ("status", "outcome"),
    [
        (200, "success"),
        (201, "success"),
        (202, "success"),
        (204, "success"),
        (299, "success"),
        (301, "fail"),
        (302, "fail"),
        (304, "fail"),
        (307, "fail"),
        (308, "fail"),
        (410, "gone"),
        (408, "retry"),
        (425, "retry"),
        (429, "retry"),
        (500, "retry"),
        (502, "retry"),
        (503, "retry"),
        (504, "retry"),
        (599, "retry"),
        (400, "retry"),
        (401, "retry"),
        (403, "retry"),
        (404, "retry"),
        (422, "retry"),
    ],
)
def test_status_codes_map_to_outcomes(status: int, outcome: str) -> None:
    assert classify(response(status)) == outcome


@pytest.mark.parametrize(
    ("status", "outcome"),
    [(400, "fail"), (404, "fail"), (422, "fail"), (408, "retry"), (425, "retry"),
     (429, "retry"), (410, "gone"), (500, "retry"), (200, "success"), (302, "fail")],
)  # fmt: skip
def test_other_4xx_fail_when_the_schedule_opts_out(status: int, outcome: str) -> None:
    assert classify(response(status), retry_on_4xx=False) == outcome


@pytest.mark.parametrize(
    ("error", "outcome"),
    [
        ("timeout", "retry"),
        ("connect", "retry"),
        ("dns", "retry"),
        ("tls", "retry"),
        ("too_large", "retry"),
        ("protocol", "retry"),
        ("something_new", "retry"),
        ("ssrf_blocked", "fail"),
        ("invalid_url", "fail"),
        ("invalid_request", "fail"),
    ],
)
@pytest.mark.parametrize("retry_on_4xx", [True, False])
def test_transport_errors_map_to_outcomes(error: str, outcome: str, retry_on_4xx: bool) -> None:
    assert classify(failure(error), retry_on_4xx=retry_on_4xx) == outcome


# -- backoff ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("attempt", "cap"),
    [(1, 5), (2, 40), (3, 320), (4, 2560), (5, 20480), (6, 36000), (7, 36000), (50, 36000)],
)
def test_default_backoff_is_full_jitter_under_an_exponential_cap(attempt: int, cap: float) -> None:
    rng = random.Random(attempt)
    samples = [backoff_seconds(DEFAULT, attempt, rng) for _ in range(2000)]
    assert all(5 <= s <= cap for s in samples)
    if cap > 5:
        assert min(samples) < 5 + (cap - 5) * 0.05 and max(samples) > cap - (cap - 5) * 0.05


def test_first_retry_waits_the_minimum() -> None:
    assert backoff_seconds(DEFAULT, 1) == 5


def test_backoff_is_reproducible_with_a_seeded_rng() -> None:
    a = [backoff_seconds(DEFAULT, n, random.Random(7)) for n in range(1, 8)]
    b = [backoff_seconds(DEFAULT, n, random.Random(7)) for n in range(1, 8)]
    assert a == b


def test_worst_case_schedule_is_close_to_svix() -> None:
    caps = [min(36000.0, 5 * 8.0 ** (n - 1)) for n in range(1, DEFAULT.max_attempts)]
    svix = [5, 300, 1800, 7200, 18000, 36000, 36000]
    assert len(caps) == len(svix) == 7
    assert 0.9 < sum(caps) / sum(svix) < 1.1


@given(
    attempt=st.integers(min_value=1, max_value=10_000),
    low=st.floats(min_value=0.001, max_value=1000),
    span=st.floats(min_value=0, max_value=1e6),
    multiplier=st.floats(min_value=1, max_value=100),
    seed=st.integers(),
)
def test_backoff_stays_within_bounds(
    attempt: int, low: float, span: float, multiplier: float, seed: int
) -> None:
    policy = RetryPolicy(min_backoff_seconds=low, max_backoff_seconds=low + span,
                         multiplier=multiplier)  # fmt: skip
    assert low <= backoff_seconds(policy, attempt, random.Random(seed)) <= low + span


def test_attempt_numbers_are_one_based() -> None:
    with pytest.raises(ValueError):
        backoff_seconds(DEFAULT, 0)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"max_attempts": 0},
        {"min_backoff_seconds": 0},
        {"min_backoff_seconds": 10, "max_backoff_seconds": 5},
        {"max_retry_seconds": -1},
        {"multiplier": 0.5},
    ],
)
def test_nonsense_policies_are_refused(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        RetryPolicy(**kwargs)  # type: ignore[arg-type]


# -- next retry -------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("attempt", "elapsed", "retry_after", "expected"),
    [
        (1, 0, None, 5.0),  # first retry: the minimum
        (7, 0, None, "jitter"),  # last retry still goes
        (8, 0, None, None),  # attempts exhausted
        (9, 0, None, None),
        (1, 86400, None, None),  # past max_retry_seconds
        (1, 86400 - 4.9, None, None),  # less than min_backoff left
        (1, 86400 - 5, None, 5.0),  # exactly min_backoff left
        (6, 86400 - 100, None, 100.0),  # brought forward to the deadline
        (1, 0, 60.0, 60.0),  # Retry-After honoured
        (1, 0, 0.0, 5.0),  # clamped up to min_backoff
        (1, 0, 1.0, 5.0),
        (1, 0, 10 * 86400.0, 36000.0),  # clamped down to max_backoff
        (1, 0, float("inf"), 5.0),  # not finite: ignored
        (1, 0, float("nan"), 5.0),
        (8, 0, 60.0, None),  # Retry-After cannot add attempts
        (3, 86400 - 30, 60.0, 30.0),  # nor extend the window
    ],
)
def test_next_retry_delay(
    attempt: int, elapsed: float, retry_after: float | None, expected: float | str | None
) -> None:
    delay = next_retry_delay(DEFAULT, attempt, T0, T0 + elapsed, retry_after, random.Random(1))
    if expected == "jitter":
        assert delay is not None and 5 <= delay <= 36000
    else:
        assert delay == expected


def test_single_attempt_policy_never_retries() -> None:
    policy = RetryPolicy(max_attempts=1)
    assert next_retry_delay(policy, 1, T0, T0, None) is None


def test_a_full_default_run_uses_every_attempt_within_the_window() -> None:
    rng, now, attempts = random.Random(42), T0, 1
    while (delay := next_retry_delay(DEFAULT, attempts, T0, now, None, rng)) is not None:
        now += delay
        attempts += 1
    assert attempts == DEFAULT.max_attempts
    assert now - T0 <= DEFAULT.max_retry_seconds


# -- Retry-After ------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        ("", None),
        ("   ", None),
        ("0", 0.0),
        ("120", 120.0),
        (" 120 ", 120.0),
        ("1.5", 1.5),
        ("-1", None),
        ("+5", None),
        ("1e3", None),
        ("inf", None),
        ("nan", None),
        ("120s", None),
        ("soon", None),
        ("9" * 80, None),
        ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0),  # in the past
        ("Fri, 31 Dec 9999 23:59:59 GMT", "future"),
        ("Wed, 32 Oct 2015 07:28:00 GMT", None),
        ("Wed, 21 Foo 2015 07:28:00 GMT", None),
    ],
)
def test_retry_after_values(value: str | None, expected: float | str | None) -> None:
    result = parse_retry_after(value, now=T0)
    if expected == "future":
        assert result is not None and result > 1e10
    else:
        assert result == expected


@pytest.mark.parametrize("offset", [0, 1, 30, 3600])
@pytest.mark.parametrize(
    "pattern",
    [
        "%a, %d %b %Y %H:%M:%S GMT",  # IMF-fixdate, the preferred form
        "%A, %d-%b-%y %H:%M:%S GMT",  # obsolete RFC 850
        "%a %b %d %H:%M:%S %Y",  # obsolete asctime
    ],
)
def test_retry_after_http_dates_in_every_form(offset: int, pattern: str) -> None:
    value = time.strftime(pattern, time.gmtime(T0 + offset))
    assert parse_retry_after(value, now=T0) == offset


def test_public_surface_is_sorted() -> None:
    assert retry.__all__ == sorted(retry.__all__)


def test_policy_of_settings_out_of_range_is_brought_into_range() -> None:
    # given settings the API would refuse (a record written by hand)
    settings = RetrySettings(
        max_attempts=0, min_backoff_seconds=10, max_backoff_seconds=1, max_retry_seconds=-5
    )
    # when
    policy = RetryPolicy.of(settings)
    # then
    assert (policy.max_attempts, policy.max_backoff_seconds, policy.max_retry_seconds) == (
        1,
        10,
        0.0,
    )
