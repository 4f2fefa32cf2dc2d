"""The store seam: one implementation on the Redis protocol, over a real Redis (or Redis
Cluster) in production and over fakeredis's in-process Redis (with Lua through lupa) for
`cronhook dev`. The very same commands and Lua scripts run in both, so the embedded store
cannot drift from the real one."""

from app.store.store import Store, open_store

__all__ = ["Store", "open_store"]
