"""The invoker's INFO summary of its attempts: at most every SUMMARY_SECONDS, the counts
since the previous one, nothing when there were none."""

from __future__ import annotations

import logging

import pytest

from dispatcher.invoke.invoker import SUMMARY_SECONDS, Invoker


def summaries(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if "attempts in the last" in r.getMessage()]


def test_the_summary_counts_the_attempts_since_the_last_one(
    invoker: Invoker, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="cronhook.invoker")
    t0 = invoker._summary_at
    # given 7 successes, 2 retries and 1 failure
    invoker.stats.succeeded, invoker.stats.retried, invoker.stats.failed = 7, 2, 1
    # then nothing is said before the summary interval has passed
    invoker.log_summary(now=t0 + SUMMARY_SECONDS - 0.5)
    assert summaries(caplog) == []
    # and one line with the counts once it has
    invoker.log_summary(now=t0 + SUMMARY_SECONDS + 0.5)
    (line,) = summaries(caplog)
    assert line.levelno == logging.INFO
    assert line.getMessage() == (
        f"10 attempts in the last {SUMMARY_SECONDS + 0.5:.0f} s: 7 succeeded, 2 retrying, 1 failed"
    )
    assert (line.succeeded, line.retrying, line.failed) == (7, 2, 1)  # type: ignore[attr-defined]
    # when 5 more succeed, the next summary counts only those
    invoker.stats.succeeded += 5
    invoker.log_summary(now=t0 + 2 * SUMMARY_SECONDS + 1)
    assert [r.getMessage().split(":")[1] for r in summaries(caplog)][-1] == (
        " 5 succeeded, 0 retrying, 0 failed"
    )
    # and an interval without attempts says nothing
    invoker.log_summary(now=t0 + 3 * SUMMARY_SECONDS + 2)
    assert len(summaries(caplog)) == 2
