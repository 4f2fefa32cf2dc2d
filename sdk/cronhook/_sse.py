"""A Server-Sent Events decoder (the WHATWG event-stream format), fed one line at a time.

Pure: the event streams of both clients feed it the lines they read. Comments (`: ...`,
the server's keepalives) and `retry:` are consumed silently; a blank line dispatches the
event gathered so far when it has data.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from cronhook import errors
from cronhook._codec import DecodeFailure, decode
from cronhook.models import Event

__all__ = ["SSEDecoder", "ServerSentEvent", "to_event"]


@dataclass(frozen=True, slots=True)
class ServerSentEvent:
    event: str
    data: str
    id: str | None = None


class SSEDecoder:
    def __init__(self) -> None:
        self._event = ""
        self._data: list[str] = []
        self._id: str | None = None

    def feed(self, line: str) -> ServerSentEvent | None:
        """One line without its terminator; returns the event a blank line completes."""
        if not line:
            return self._dispatch()
        if line.startswith(":"):
            return None
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "event":
            self._event = value
        elif name == "data":
            self._data.append(value)
        elif name == "id" and "\0" not in value:
            self._id = value
        return None

    def _dispatch(self) -> ServerSentEvent | None:
        event, data = self._event or "message", self._data
        self._event, self._data = "", []
        if not data:
            return None
        return ServerSentEvent(event, "\n".join(data), self._id)


def to_event(sse: ServerSentEvent, request_id: str | None = None) -> Event:
    """The `Event` an SSE frame carries; raises `ResponseDecodeError` if it is not one."""
    try:
        return decode(Event, json.loads(sse.data))
    except (ValueError, DecodeFailure) as e:
        raise errors.ResponseDecodeError(
            f"unreadable {sse.event!r} event: {e}",
            status=200,
            body=sse.data,
            request_id=request_id,
        ) from e
