"""What every model module shares: the frozen-dataclass decorator and a list page."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

__all__ = ["Page", "frozen"]

T = TypeVar("T")

frozen = dataclass(frozen=True, kw_only=True, slots=True)
"""Results: frozen, keyword-only (fields in the contract's order, optional ones anywhere)."""


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page of a list: `items` newest first, `next_cursor` None on the last page."""

    items: tuple[T, ...]
    next_cursor: str | None
