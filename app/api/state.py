"""What the routes share: the store, the settings, the bus, the clock."""

from __future__ import annotations

import time
from dataclasses import dataclass

from starlette.requests import Request

from app.bus.base import Bus
from app.settings import Settings
from app.store import Store


@dataclass
class ApiState:
    store: Store
    settings: Settings
    bus: Bus | None = None

    @staticmethod
    def of(request: Request) -> ApiState:
        state: ApiState = request.app.state.cronhook
        return state

    def now_ms(self) -> int:
        return int(time.time() * 1000)
