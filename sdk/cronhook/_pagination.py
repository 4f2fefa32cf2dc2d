"""Auto-pagination: every item of a cursor-paginated list, fetching pages as needed.

`Pager` and `AsyncPager` only differ in how they wait for a page; the request for each
page is `PageQuery.call(cursor)`, built once in `_protocol`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Iterator
from typing import Any, Generic, Protocol, TypeVar

from cronhook import errors
from cronhook._protocol import Call, PageQuery
from cronhook.models import Page

T = TypeVar("T")

__all__ = ["AsyncPager", "Pager"]


class _Sender(Protocol):
    def request(self, call: Call[Any]) -> Any: ...


class Pager(Generic[T]):
    """Iterate it for every item, newest first; pages are fetched as iteration reaches them.

    `pages()` iterates whole pages; `page(cursor)` fetches one. Iterating again starts over
    from the first page.
    """

    def __init__(self, sender: _Sender, query: PageQuery[T]) -> None:
        self._sender = sender
        self._query = query

    def page(self, cursor: str | None = None) -> Page[T]:
        """One page: the first, or the one `cursor` (a `next_cursor`) points to."""
        page: Page[T] = self._sender.request(self._query.call(cursor))
        return page

    def pages(self) -> Iterator[Page[T]]:
        cursor: str | None = None
        while True:
            page = self.page(cursor)
            yield page
            if page.next_cursor is None:
                return
            cursor = _advance(cursor, page.next_cursor)

    def __iter__(self) -> Iterator[T]:
        for page in self.pages():
            yield from page.items


class AsyncPager(Generic[T]):
    """`async for` it for every item, newest first; the async twin of `Pager`."""

    def __init__(self, sender: _Sender, query: PageQuery[T]) -> None:
        self._sender = sender
        self._query = query

    async def page(self, cursor: str | None = None) -> Page[T]:
        """One page: the first, or the one `cursor` (a `next_cursor`) points to."""
        waiting: Awaitable[Page[T]] = self._sender.request(self._query.call(cursor))
        return await waiting

    async def pages(self) -> AsyncIterator[Page[T]]:
        cursor: str | None = None
        while True:
            page = await self.page(cursor)
            yield page
            if page.next_cursor is None:
                return
            cursor = _advance(cursor, page.next_cursor)

    async def _items(self) -> AsyncIterator[T]:
        async for page in self.pages():
            for item in page.items:
                yield item

    def __aiter__(self) -> AsyncIterator[T]:
        return self._items()


def _advance(cursor: str | None, next_cursor: str) -> str:
    if next_cursor == cursor:
        raise errors.ResponseDecodeError(
            "the server returned the same cursor again; stopping", status=200, body=next_cursor
        )
    return next_cursor
