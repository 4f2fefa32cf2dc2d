"""The API's resources, each written once for `Client` (`Resource[Sync]`) and `AsyncClient`
(`Resource[Async]`)."""

from cronhook.resources.account import (
    Events,
    ForecastResource,
    Portal,
    SigningSecret,
    TenantResource,
)
from cronhook.resources.admin import AdminConsole, AdminFleet, AdminForecast, ApiKeys, Tenants
from cronhook.resources.fires import DeadLetters, Fires
from cronhook.resources.messages import Messages
from cronhook.resources.schedules import Schedules
from cronhook.resources.system import System

__all__ = [
    "AdminConsole",
    "AdminFleet",
    "AdminForecast",
    "ApiKeys",
    "DeadLetters",
    "Events",
    "Fires",
    "ForecastResource",
    "Messages",
    "Portal",
    "Schedules",
    "SigningSecret",
    "System",
    "TenantResource",
    "Tenants",
]
