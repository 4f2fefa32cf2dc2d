"""Fixtures of the fan-out tests: the long-job tests' world (a dispatcher and an invoker on
the real Redis and RabbitMQ), the API in-process over that store, and a loopback receiver."""

from __future__ import annotations

import pytest

from tests.jobs.conftest import rig, w

__all__ = ["rig", "w"]

pytestmark = pytest.mark.external_service
