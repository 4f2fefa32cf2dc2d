"""The fence around the AMQP fast paths: they run only on the aiormq and pamqp releases
they were tested against, never when switched off; a bus on any other release works on
aio-pika's public API (the bus contract runs on both paths: tests/integration)."""

from __future__ import annotations

import pytest

from app.bus import amqp_fence
from app.bus.amqp_fence import ENV, TESTED, untested, use_fast_path
from app.bus.rabbitmq import RabbitBus


def installed(monkeypatch: pytest.MonkeyPatch, versions: dict[str, str]) -> None:
    def version(name: str) -> str:
        return versions[name]

    monkeypatch.setattr(amqp_fence, "version", version)


def releases_as_tested() -> dict[str, str]:
    return {name: f"{major}.{minor}.9" for name, (major, minor) in TESTED.items()}


def test_the_installed_releases_are_the_tested_ones() -> None:
    # pyproject.toml allows newer releases; the test command installs the tested ones
    # (scripts/tested-versions.txt), or the suite would not exercise the fast paths at all.
    assert untested() == []


@pytest.mark.parametrize(
    ("aiormq", "pamqp", "fast"),
    [
        ("7.2.9", "4.0.9", True),
        ("7.3.0", "4.0.1", False),
        ("8.0.0", "4.0.1", False),
        ("7.2.4", "4.1.0", False),
        ("7.2.4", "5.0.0", False),
        ("7.1.6", "4.0.1", False),
        ("unknown", "4.0.1", False),
    ],
)
def test_the_fast_paths_run_only_on_tested_releases(
    monkeypatch: pytest.MonkeyPatch, aiormq: str, pamqp: str, fast: bool
) -> None:
    installed(monkeypatch, {"aiormq": aiormq, "pamqp": pamqp})
    assert use_fast_path(None, environ={}) is fast
    assert use_fast_path(True, environ={}) is fast


@pytest.mark.parametrize(("setting", "fast"), [("auto", True), ("off", False), ("0", False)])
def test_the_environment_can_force_the_public_path(
    monkeypatch: pytest.MonkeyPatch, setting: str, fast: bool
) -> None:
    installed(monkeypatch, releases_as_tested())
    assert use_fast_path(None, environ={ENV: setting}) is fast
    assert use_fast_path(False, environ={}) is False


def test_a_bus_on_an_untested_aiormq_takes_the_public_path(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    installed(monkeypatch, {"aiormq": "7.9.0", "pamqp": "4.0.1"})
    bus = RabbitBus("amqp://127.0.0.1:1/", "q")
    assert bus.fast_path is False
    assert "aiormq 7.9.0" in caplog.text
