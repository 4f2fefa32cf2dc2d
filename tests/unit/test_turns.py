"""TurnEnd: however many requests one loop turn makes, one flush at its end."""

from __future__ import annotations

import asyncio

from app.turns import TurnEnd


async def test_the_requests_of_one_turn_share_one_flush_at_its_end() -> None:
    flushes: list[int] = []
    pending: list[int] = []

    def flush() -> None:
        flushes.append(len(pending))
        pending.clear()

    turn = TurnEnd(flush)

    async def request(n: int) -> None:
        pending.append(n)
        turn.schedule()

    # when ten tasks ask in the same turn
    await asyncio.gather(*(request(n) for n in range(10)))
    await asyncio.sleep(0)
    # then one flush took all ten
    assert flushes == [10]


async def test_a_request_made_during_a_flush_gets_a_flush_of_its_own() -> None:
    calls: list[str] = []
    turn: TurnEnd

    def flush() -> None:
        calls.append("flush")
        if len(calls) == 1:
            turn.schedule()  # more work arrived while flushing

    turn = TurnEnd(flush)
    turn.schedule()
    turn.schedule()
    assert calls == []  # nothing before the turn ends
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    assert calls == ["flush", "flush"]
