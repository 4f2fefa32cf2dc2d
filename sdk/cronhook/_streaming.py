"""The live event stream (`GET /v1/events`, Server-Sent Events) as an iterator.

The stream connects when the `with` block is entered (or at the first iteration): from
then on the server holds every event for it, so a fire triggered after `__enter__` is
never missed. It is live only; events from before the connection are not replayed. The
iteration ends when the server closes the stream; a dropped connection or a minute of
silence (the server sends a keepalive every 15 s) raises `ConnectionError`/`TimeoutError`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from types import TracebackType

import httpx

from cronhook._protocol import request_id_of, transport_error
from cronhook._sse import SSEDecoder, to_event
from cronhook.models import Event

__all__ = ["AsyncEventStream", "EventStream"]


class EventStream:
    """`with client.events.stream() as events: for event in events: ...`"""

    def __init__(self, connect: Callable[[], httpx.Response]) -> None:
        self._connect = connect
        self._response: httpx.Response | None = None

    def connect(self) -> None:
        """Open the stream now (raises the SDK's errors); a no-op when already open."""
        if self._response is None:
            self._response = self._connect()

    def __enter__(self) -> EventStream:
        self.connect()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __iter__(self) -> Iterator[Event]:
        self.connect()
        assert self._response is not None
        decoder = SSEDecoder()
        try:
            for line in self._response.iter_lines():
                frame = decoder.feed(line)
                if frame is not None:
                    yield to_event(frame, request_id_of(self._response))
        except httpx.TransportError as e:
            raise transport_error(e, self._response.request) from e

    def close(self) -> None:
        if self._response is not None:
            self._response.close()


class AsyncEventStream:
    """`async with client.events.stream() as events: async for event in events: ...`"""

    def __init__(self, connect: Callable[[], Awaitable[httpx.Response]]) -> None:
        self._connect = connect
        self._response: httpx.Response | None = None

    async def connect(self) -> None:
        """Open the stream now (raises the SDK's errors); a no-op when already open."""
        if self._response is None:
            self._response = await self._connect()

    async def __aenter__(self) -> AsyncEventStream:
        await self.connect()
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def _events(self) -> AsyncIterator[Event]:
        await self.connect()
        assert self._response is not None
        decoder = SSEDecoder()
        try:
            async for line in self._response.aiter_lines():
                frame = decoder.feed(line)
                if frame is not None:
                    yield to_event(frame, request_id_of(self._response))
        except httpx.TransportError as e:
            raise transport_error(e, self._response.request) from e

    def __aiter__(self) -> AsyncIterator[Event]:
        return self._events()

    async def aclose(self) -> None:
        if self._response is not None:
            await self._response.aclose()
