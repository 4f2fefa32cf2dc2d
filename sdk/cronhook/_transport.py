"""How a `Call` is sent: the only place where the sync and async clients differ.

Both transports build the request with `Settings.build`, ask `_Attempts` (over `Retry`)
whether and when to retry, turn non-2xx answers into `APIError`s with `api_error` and
transport failures into `ConnectionError`/`TimeoutError`, then parse with `call.parse`.
One `httpx` client per transport, reused for every call (a client per call would pay a new
connection each time).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import Any, Generic, Self, TypeVar

import anyio
import httpx

from cronhook._pagination import AsyncPager, Pager
from cronhook._protocol import Call, PageQuery, api_error, transport_error
from cronhook._retry import Retry
from cronhook._streaming import AsyncEventStream, EventStream
from cronhook._version import __version__

T = TypeVar("T")
H = TypeVar("H", httpx.Client, httpx.AsyncClient)

__all__ = ["DEFAULT_LIMITS", "AsyncTransport", "Settings", "SyncTransport"]

# Measured for issue 6: httpx's async pool gets slower as it grows (~415 requests/s at 8
# connections, ~164 at 64), so the default pool stays small.
DEFAULT_LIMITS = httpx.Limits(max_connections=10, max_keepalive_connections=10)
USER_AGENT = f"cronhook-python/{__version__} httpx/{httpx.__version__}"


@dataclass(frozen=True)
class Settings:
    """What every request of one client shares."""

    base_url: str
    token: str
    timeout: httpx.Timeout
    retry: Retry
    stream_read_timeout: float = 60.0

    @staticmethod
    def of(base_url: str, token: str, timeout: float | httpx.Timeout, retry: Retry) -> Settings:
        url = base_url.rstrip("/")
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"base_url must start with http:// or https://, got {base_url!r}")
        if not token:
            raise ValueError("a token is required (an API key, or the admin token)")
        t = timeout if isinstance(timeout, httpx.Timeout) else httpx.Timeout(timeout)
        return Settings(url, token, t, retry)

    def with_options(
        self, timeout: float | httpx.Timeout | None, max_retries: int | None
    ) -> Settings:
        """These settings with another timeout or number of retries (None keeps it)."""
        t = self.timeout
        if timeout is not None:
            t = timeout if isinstance(timeout, httpx.Timeout) else httpx.Timeout(timeout)
        retry = self.retry if max_retries is None else replace(self.retry, max_retries=max_retries)
        return replace(self, timeout=t, retry=retry)

    def build(
        self, http: httpx.Client | httpx.AsyncClient, call: Call[Any], *, stream: bool = False
    ) -> httpx.Request:
        headers = {"Authorization": f"Bearer {self.token}", "User-Agent": USER_AGENT}
        headers.update(call.headers())
        timeout = self.timeout
        if stream:  # keepalives arrive every 15 s; a silent minute is a dead stream
            t = self.timeout
            timeout = httpx.Timeout(
                connect=t.connect, read=self.stream_read_timeout, write=t.write, pool=t.pool
            )
        return http.build_request(
            call.method,
            self.base_url + call.path,
            params=dict(call.params) or None,
            json=call.body if call.has_body else None,
            headers=headers,
            timeout=timeout,
        )


@dataclass
class _Attempts:
    """The retry decisions of one call, pure: the transports only send, wait and close."""

    retry: Retry
    call: Call[Any]
    request: httpx.Request
    retries: int = 0

    def after_error(self, error: httpx.TransportError) -> float:
        """Seconds to wait before the next try; raises the SDK's error when it is final."""
        delay = self.retry.after_error(self.call, self.retries, error)
        if delay is None:
            raise transport_error(error, self.request) from error
        self.retries += 1
        return delay

    def after_response(self, response: httpx.Response) -> float | None:
        """Seconds to wait before the next try, or None: `response` is the answer."""
        delay = self.retry.after_response(self.call, self.retries, response)
        self.retries += 1
        return delay


class _Transport(Generic[H]):
    """What both transports share: the settings and the pool, owned or lent."""

    def __init__(self, settings: Settings, http: H | None = None) -> None:
        """``http``: a pool to use and leave open (one passed in, or another transport's)."""
        self.settings = settings
        self._owned = http is None
        self._http: H = http or self._new_pool(settings)

    @staticmethod
    def _new_pool(settings: Settings) -> H:
        raise NotImplementedError

    def with_options(self, timeout: float | httpx.Timeout | None, max_retries: int | None) -> Self:
        """Another transport over the same pool (which it never closes)."""
        return type(self)(self.settings.with_options(timeout, max_retries), self._http)

    def _attempts(self, call: Call[Any], stream: bool) -> _Attempts:
        request = self.settings.build(self._http, call, stream=stream)
        return _Attempts(self.settings.retry, call, request)


class SyncTransport(_Transport[httpx.Client]):
    @staticmethod
    def _new_pool(settings: Settings) -> httpx.Client:
        return httpx.Client(timeout=settings.timeout, limits=DEFAULT_LIMITS)

    def request(self, call: Call[T]) -> T:
        return call.parse(self.send(call))

    def paginate(self, query: PageQuery[T]) -> Pager[T]:
        return Pager(self, query)

    def stream(self, call: Call[Any]) -> EventStream:
        return EventStream(lambda: self.send(call, stream=True))

    def send(self, call: Call[Any], *, stream: bool = False) -> httpx.Response:
        """The 2xx response to `call`, after any retries; raises the SDK's errors."""
        attempts = self._attempts(call, stream)
        while True:
            try:
                response = self._http.send(attempts.request, stream=stream)
            except httpx.TransportError as e:
                time.sleep(attempts.after_error(e))
                continue
            delay = attempts.after_response(response)
            if delay is None:
                return self._checked(response)
            response.close()
            time.sleep(delay)

    def _checked(self, response: httpx.Response) -> httpx.Response:
        if response.is_success:
            return response
        try:
            response.read()
        except httpx.TransportError as e:
            raise transport_error(e, response.request) from e
        finally:
            response.close()
        raise api_error(response)

    def close(self) -> None:
        if self._owned:
            self._http.close()


class AsyncTransport(_Transport[httpx.AsyncClient]):
    @staticmethod
    def _new_pool(settings: Settings) -> httpx.AsyncClient:
        return httpx.AsyncClient(timeout=settings.timeout, limits=DEFAULT_LIMITS)

    async def request(self, call: Call[T]) -> T:
        return call.parse(await self.send(call))

    def paginate(self, query: PageQuery[T]) -> AsyncPager[T]:
        return AsyncPager(self, query)

    def stream(self, call: Call[Any]) -> AsyncEventStream:
        return AsyncEventStream(lambda: self.send(call, stream=True))

    async def send(self, call: Call[Any], *, stream: bool = False) -> httpx.Response:
        """The 2xx response to `call`, after any retries; raises the SDK's errors."""
        attempts = self._attempts(call, stream)
        while True:
            try:
                response = await self._http.send(attempts.request, stream=stream)
            except httpx.TransportError as e:
                await anyio.sleep(attempts.after_error(e))
                continue
            delay = attempts.after_response(response)
            if delay is None:
                return await self._checked(response)
            await response.aclose()
            await anyio.sleep(delay)

    async def _checked(self, response: httpx.Response) -> httpx.Response:
        if response.is_success:
            return response
        try:
            await response.aread()
        except httpx.TransportError as e:
            raise transport_error(e, response.request) from e
        finally:
            await response.aclose()
        raise api_error(response)

    async def aclose(self) -> None:
        if self._owned:
            await self._http.aclose()
