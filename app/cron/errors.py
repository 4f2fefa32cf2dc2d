"""The one error the time module raises for bad input."""

from __future__ import annotations

from typing import Literal

Field = Literal["cron", "timezone"]


class CronError(ValueError):
    """A schedule expression or time zone that cannot be used.

    `field` names the request field at fault ("cron" or "timezone"); the message is a
    sentence a tenant can act on, e.g. "field 3 (hour): 25 is out of range 0-23".
    """

    field: Field

    def __init__(self, message: str, *, field: Field = "cron") -> None:
        super().__init__(message)
        self.field = field
        self.message = message
