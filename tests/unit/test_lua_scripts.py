"""The Lua registry: one typed field per ``lua/*.lua`` file, registered once per client."""

from __future__ import annotations

from dataclasses import fields
from importlib import resources

import fakeredis

from app.store.lua_scripts import LuaScripts, source
from app.store.store import Store


def _files() -> set[str]:
    folder = resources.files("app.store") / "lua"
    return {p.name.removesuffix(".lua") for p in folder.iterdir() if p.name.endswith(".lua")}


def test_every_lua_file_has_a_field_and_every_field_a_file() -> None:
    assert {f.name for f in fields(LuaScripts)} == _files()


def test_each_field_holds_its_own_file_registered_on_the_client() -> None:
    client = fakeredis.FakeAsyncRedis()
    lua = LuaScripts.register(client)
    for name, script in lua.by_name().items():
        assert script.script == source(name)
        assert script.registered_client is client
    assert len({s.sha for s in lua.by_name().values()}) == len(_files())


def test_a_store_registers_each_script_once_and_shares_it() -> None:
    store = Store(
        fakeredis.FakeAsyncRedis(), prefix="t", shards=1, retention_s=60, owns_client=True
    )
    lua = store.scripts.lua
    assert store.records._cas is lua.rec_cas is store.guards._cas
    assert store.outbox._replay is lua.fire_replay
    assert store.time._lua is lua is store.fires._lua
