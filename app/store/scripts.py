"""Lua scripts, read from ``lua/*.lua`` once and registered per connection.

Every call is an EVALSHA; a NOSCRIPT answer (a Redis restarted or flushed since the script
was loaded) loads the script and runs that call again, which is safe because a NOSCRIPT
call did not run. Pipelines carry plain EVALSHAs: redis-py's own script-in-pipeline path
sends a SCRIPT EXISTS before every pipeline, an extra round trip per batch.

``Scripts.many`` runs a batch of script calls in one round trip: a pipeline on a single
Redis. redis-py's Cluster pipeline refuses EVALSHA (``PIPELINE_BLOCKED_COMMANDS``, in the
async client as well: redis/redis-py#2914), so on Cluster the calls run as concurrent
single calls, each routed to its slot's node, at most ``CLUSTER_CONCURRENCY`` at a time.
Every call touches one slot either way (its keys share a hash tag).

``Scripts.call`` runs one call, sent together with every other ``call`` made in the same
turn of the event loop (one pipeline, one write and one read for all of them): concurrent
deliveries in one invoker share their round trips. With ``MAX_PIPELINES`` awaiting answers,
further calls wait and then go together. Each call still runs on its own in Redis, and its
answer or error goes to its own caller only.

On a single plain Redis (TCP or unix socket) the pipelines go over one connection of
``resp.Wire`` instead of redis-py's pipeline machinery (a fraction of its CPU per call),
with the same answers and errors; every other client (TLS, Sentinel, fakeredis...) keeps
redis-py's pipelines. There a NOSCRIPT answer is repaired in one more round trip: SCRIPT
LOAD of each missing script followed by the calls again.

``Scripts.commands`` sends plain commands the same way (the Wire where there is one, else a
redis-py pipeline): hot reads such as the dispatcher's schedule records share the Wire.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any

from redis.exceptions import NoScriptError, ResponseError

from app.store.lua_scripts import LuaScripts
from app.store.resp import Wire, wire_for
from app.turns import TurnEnd

CLUSTER_CONCURRENCY = 64
MAX_BATCH = 256  # calls per coalesced pipeline
# Coalesced pipelines awaiting their answers at once, per Scripts: on redis-py each holds a
# pooled connection (the pool refuses past its maximum rather than wait); on the one Wire
# connection it bounds the bytes queued on the socket and the calls awaiting Redis.
MAX_PIPELINES = 16

Call = tuple[Any, Sequence[Any], Sequence[Any]]  # (script, keys, args)


def hash_reply(reply: Sequence[Any] | Mapping[Any, Any]) -> dict[str, str]:
    """A hash as a reply carries it: the flat field/value list a script or the Wire returns
    (HGETALL inside Lua, HGETALL on the Wire), or the dict redis-py's pipeline makes."""
    if isinstance(reply, Mapping):
        return {str(k): str(v) for k, v in reply.items()}
    return {str(reply[i]): str(reply[i + 1]) for i in range(0, len(reply), 2)}


class Scripts:
    """Sends the calls of every script registered on one client (``lua``: EVALSHA,
    reloaded on NOSCRIPT)."""

    def __init__(self, client: Any, *, cluster: bool = False, wire: bool = True) -> None:
        """``wire=False`` keeps redis-py's pipelines even where a Wire could serve."""
        self._client = client
        self.cluster = cluster
        self._wire: Wire | None = wire_for(client) if wire and not cluster else None
        self.lua = LuaScripts.register(client)
        self._queued: list[tuple[Call, asyncio.Future[Any]]] = []
        self._sending: set[asyncio.Task[None]] = set()
        self._turn = TurnEnd(self._flush)

    async def many(self, calls: Sequence[Call]) -> list[Any]:
        """Run every call; results in order. Driver errors propagate (the caller wraps)."""
        if not calls:
            return []
        if self.cluster:
            return await self._concurrent(calls)
        results = await self._pipelined(calls)
        for r in results:
            if isinstance(r, BaseException):
                raise r
        return results

    async def call(self, script: Any, keys: Sequence[Any], args: Sequence[Any]) -> Any:
        """Run one call, in one round trip with the other calls of this loop turn. Driver
        errors propagate (the caller wraps)."""
        if self.cluster:
            return await script(keys=keys, args=args)
        self._turn.schedule()
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._queued.append(((script, keys, args), future))
        return await future

    async def commands(self, commands: Sequence[Sequence[Any]]) -> list[Any]:
        """Plain commands (no scripts) in one round trip; replies in order, as redis-py
        decodes them (no response callbacks: for commands whose reply needs none, e.g.
        GET, HGET, MGET). The first reply error is raised, as a redis-py pipeline raises
        it; driver errors propagate (the caller wraps)."""
        if not commands:
            return []
        wire = self._wire
        if wire is None:
            async with self._client.pipeline(transaction=False) as pipe:
                for command in commands:
                    pipe.execute_command(*command)
                return list(await pipe.execute())
        pack = wire.pack
        replies = await wire.execute(b"".join([pack(c) for c in commands]), len(commands))
        for r in replies:
            if isinstance(r, BaseException):
                raise r
        return replies

    @property
    def on_wire(self) -> bool:
        """Pipelines go over a ``resp.Wire`` (else over redis-py's)."""
        return self._wire is not None

    async def aclose(self) -> None:
        """Close the Wire connection, if any (the client is its owner's to close)."""
        if self._wire is not None:
            await self._wire.aclose()

    def _flush(self) -> None:
        """Send what is queued, at most ``MAX_PIPELINES`` pipelines in flight: beyond that,
        calls wait for one to answer and go together."""
        while self._queued and len(self._sending) < MAX_PIPELINES:
            batch, self._queued = self._queued[:MAX_BATCH], self._queued[MAX_BATCH:]
            task = asyncio.create_task(self._send(batch))
            self._sending.add(task)
            task.add_done_callback(self._sent)

    def _sent(self, task: asyncio.Task[None]) -> None:
        self._sending.discard(task)
        if self._queued:
            self._turn.schedule()

    async def _send(self, queued: list[tuple[Call, asyncio.Future[Any]]]) -> None:
        try:
            results = await self._pipelined([c for c, _ in queued])
        except BaseException as e:
            for _, future in queued:
                if future.done():
                    continue
                if isinstance(e, asyncio.CancelledError):
                    future.cancel()
                else:
                    future.set_exception(e)
            if isinstance(e, asyncio.CancelledError):
                raise
            return
        for (_, future), result in zip(queued, results, strict=True):
            if future.done():  # its caller was cancelled
                continue
            if isinstance(result, BaseException):
                future.set_exception(result)
            else:
                future.set_result(result)

    async def _pipelined(self, calls: Sequence[Call]) -> list[Any]:
        """Every call's answer or ``ResponseError``, in order, in one round trip (plus one
        for the scripts Redis did not know, or one per such call on redis-py)."""
        wire = self._wire
        if wire is not None:
            return await self._on_wire(wire, calls)
        async with self._client.pipeline(transaction=False) as pipe:
            for script, keys, args in calls:
                pipe.evalsha(script.sha, len(keys), *keys, *args)
            results = list(await pipe.execute(raise_on_error=False))
        for i, r in enumerate(results):
            if isinstance(r, NoScriptError):
                script, keys, args = calls[i]
                try:
                    results[i] = await script(keys=keys, args=args)  # loads, then runs
                except ResponseError as e:
                    results[i] = e
        return results

    async def _on_wire(self, wire: Wire, calls: Sequence[Call]) -> list[Any]:
        pack = wire.pack

        def evalsha(call: Call) -> bytes:
            script, keys, args = call
            return pack(("EVALSHA", script.sha, len(keys), *keys, *args))

        results = await wire.execute(b"".join([evalsha(c) for c in calls]), len(calls))
        again = [i for i, r in enumerate(results) if isinstance(r, NoScriptError)]
        if not again:
            return results
        # Load each missing script, then run its calls again, in one more round trip:
        # Redis runs commands in order, so every load precedes the calls after it.
        loads = {calls[i][0].sha: calls[i][0] for i in again}
        packed = [pack(("SCRIPT", "LOAD", script.script)) for script in loads.values()]
        packed += [evalsha(calls[i]) for i in again]
        replies = await wire.execute(b"".join(packed), len(packed))
        failed = {
            sha: r for sha, r in zip(loads, replies, strict=False) if isinstance(r, BaseException)
        }
        for i, r in zip(again, replies[len(loads) :], strict=True):
            results[i] = failed.get(calls[i][0].sha, r)  # a script that did not load: why
        return results

    async def _concurrent(self, calls: Sequence[Call]) -> list[Any]:
        gate = asyncio.Semaphore(CLUSTER_CONCURRENCY)

        async def one(call: Call) -> Any:
            script, keys, args = call
            async with gate:
                return await script(keys=keys, args=args)

        results = await asyncio.gather(*(one(c) for c in calls), return_exceptions=True)
        for r in results:
            if isinstance(r, BaseException):
                raise r
        return list(results)
