"""Fires the API sends on their way: manual triggers, one-off messages and replays.

Each is a fire record plus an ``f:<fire_id>`` item in the time index (the path retries
take), so the dispatcher publishes it when it is due. The two writes live in different
slots; if the second fails the first is undone, so no fire is left that nothing delivers.
"""

from __future__ import annotations

from typing import Any

from app.errors import Conflict, NotFound
from app.keys import Keys, fire_item
from app.models import Fire
from app.store.errors import wrapped
from app.store.fires import FireLog
from app.store.lua_scripts import LuaScripts
from app.store.timeindex import TimeIndex


class Outbox:
    def __init__(
        self,
        client: Any,
        keys: Keys,
        lua: LuaScripts,
        time: TimeIndex,
        fires: FireLog,
        retention_s: int,
    ) -> None:
        self._r = client
        self._retention_s = retention_s  # a dead letter put back is kept this long again
        self._k = keys
        self._time = time
        self._fires = fires
        self._replay = lua.fire_replay

    @wrapped
    async def send(self, fire: Fire, payload: str, due_ms: int) -> None:
        """Create the fire record, then its time-index item due at ``due_ms``."""
        if await self._fires.create(fire) != "new":
            raise Conflict(f"fire {fire.id} exists")
        try:
            await self._time.put(fire_item(fire.id), payload, due_ms)
        except BaseException:
            await self._discard(fire)
            raise

    async def _discard(self, fire: Fire) -> None:
        k, tid = self._k, fire.tenant_id
        async with self._r.pipeline(transaction=False) as pipe:
            pipe.delete(k.fire(tid, fire.id), k.attempts(tid, fire.id))
            if fire.schedule_id:
                pipe.zrem(k.schedule_fires(tid, fire.schedule_id), fire.id)
            await pipe.execute()

    @wrapped
    async def replay(self, tenant_id: str, fire_id: str, now_ms: int, payload_for: Any) -> None:
        """Send a succeeded or failed fire again as its next attempt. ``payload_for(attempt,
        scheduled_ms)`` builds the time-index payload. NotFound / Conflict otherwise."""
        k = self._k
        res = await self._replay(
            keys=[k.fire(tenant_id, fire_id), k.dead_letters(tenant_id)], args=[now_ms, fire_id]
        )
        if res[0] == "missing":
            raise NotFound("no such fire")
        if res[0] == "busy":
            raise Conflict(f"the fire is {res[1]}: only a succeeded or failed fire is replayed")
        count, previous, scheduled = int(res[1]), str(res[2]), int(res[3])
        try:
            await self._time.put(fire_item(fire_id), payload_for(count + 1, scheduled), now_ms)
        except BaseException:
            async with self._r.pipeline(transaction=False) as pipe:
                pipe.hset(k.fire(tenant_id, fire_id), "status", previous)
                if previous == "failed":  # a dead letter again: kept as fire_finish.lua does
                    dead, fire = k.dead_letters(tenant_id), k.fire(tenant_id, fire_id)
                    pipe.zadd(dead, {fire_id: now_ms})
                    for key in (dead, fire, k.attempts(tenant_id, fire_id)):
                        pipe.expire(key, self._retention_s)
                await pipe.execute()
            raise
