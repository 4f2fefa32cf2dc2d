"""Constructing and closing clients: settings from arguments or the environment, clear
errors for missing ones, and "close only what you opened" for a supplied httpx client."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

import cronhook


def test_a_client_reads_its_url_and_key_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CRONHOOK_URL", "http://api.example:9000/")
    monkeypatch.setenv("CRONHOOK_API_KEY", "chk_from_env")

    with cronhook.Client() as client:
        settings = client._transport.settings

    assert (settings.base_url, settings.token) == ("http://api.example:9000", "chk_from_env")


def test_arguments_win_over_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CRONHOOK_API_KEY", "chk_from_env")

    with cronhook.Client("http://127.0.0.1:1", "chk_given") as client:
        assert client._transport.settings.token == "chk_given"


def test_a_missing_token_names_the_variable_to_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CRONHOOK_API_KEY", raising=False)
    monkeypatch.delenv("CRONHOOK_ADMIN_TOKEN", raising=False)

    with pytest.raises(ValueError, match="CRONHOOK_API_KEY"):
        cronhook.AsyncClient("http://127.0.0.1:1")
    with pytest.raises(ValueError, match="CRONHOOK_ADMIN_TOKEN"):
        cronhook.AdminClient("http://127.0.0.1:1")


def test_a_base_url_must_be_http_or_https() -> None:
    with pytest.raises(ValueError, match="base_url"):
        cronhook.Client("127.0.0.1:8080", "chk_x")


def test_a_supplied_http_client_is_used_and_left_open() -> None:
    http = httpx.Client()
    client = cronhook.Client("http://127.0.0.1:1", "chk_x", http_client=http)

    client.close()

    assert not http.is_closed
    http.close()


async def test_an_owned_async_pool_is_closed_with_the_client() -> None:
    async with cronhook.AsyncAdminClient("http://127.0.0.1:1", "admin") as admin:
        http = admin._transport._http
        assert not http.is_closed

    assert http.is_closed


def test_the_default_pool_is_small_and_shared_by_every_resource() -> None:
    with cronhook.Client("http://127.0.0.1:1", "chk_x") as client:
        transports = {
            id(resource._transport)
            for resource in (client.schedules, client.fires, client.messages, client.events)
        }
        pool = client._transport._http._transport._pool  # type: ignore[attr-defined]

        assert transports == {id(client._transport)}
        assert pool._max_connections == 10


def test_resources_show_where_they_point() -> None:
    with cronhook.Client("http://127.0.0.1:1/", "chk_x") as client:
        assert repr(client.schedules) == "<Schedules of http://127.0.0.1:1>"
        assert client.schedules.get.__name__ == "get"
        assert "One schedule" in (client.schedules.get.__doc__ or "")


@pytest.mark.parametrize(
    "client_class",
    [cronhook.Client, cronhook.AsyncClient, cronhook.AdminClient, cronhook.AsyncAdminClient],
)
def test_every_client_takes_the_same_options_and_refuses_others(client_class: Any) -> None:
    client = client_class("http://127.0.0.1:1", "tok", timeout=3, max_retries=5, backoff=0.1)
    settings = client._transport.settings
    assert settings.timeout == httpx.Timeout(3) and settings.retry.max_retries == 5
    assert settings.retry.backoff == 0.1 and settings.retry.max_backoff == 8.0
    with pytest.raises(TypeError, match="timout"):
        client_class("http://127.0.0.1:1", "tok", timout=3)
