"""`mode`: run an SDK test once with `Client` ("sync") and once with `AsyncClient` ("async")."""

from __future__ import annotations

import pytest

from tests.sdk.both import MODES


@pytest.fixture(params=MODES)
def mode(request: pytest.FixtureRequest) -> str:
    value: str = request.param
    return value
