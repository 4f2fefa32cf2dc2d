"""The webhook client's pure half: URL checks before any I/O and the bytes of a request."""

from __future__ import annotations

import pytest

from dispatcher.http.pool import Origin
from dispatcher.http.request import Endpoint, InvalidRequest, checked_url, request_bytes

UA = "cronhook/test"


def endpoint(url: str) -> Endpoint:
    found, refusal = checked_url(url, allow_private=True)
    assert found is not None, refusal
    return found


@pytest.mark.parametrize(
    ("url", "origin", "path", "host"),
    [
        ("http://h.example/hook", ("http", "h.example", 80), "/hook", "h.example"),
        ("https://h.example:443/", ("https", "h.example", 443), "/", "h.example"),
        ("http://h.example:8080", ("http", "h.example", 8080), "/", "h.example:8080"),
        ("HTTP://H.Example/a?b=1#frag", ("http", "h.example", 80), "/a?b=1", "h.example"),
        ("http://[::1]:81/x", ("http", "::1", 81), "/x", "[::1]:81"),
        (
            "http://bücher.example/",
            ("http", "xn--bcher-kva.example", 80),
            "/",
            "xn--bcher-kva.example",
        ),
        ("http://h.example/a b", ("http", "h.example", 80), "/a%20b", "h.example"),
    ],
)
def test_a_url_becomes_an_origin_a_request_target_and_a_host(
    url: str, origin: tuple[str, str, int], path: str, host: str
) -> None:
    assert endpoint(url) == Endpoint(Origin(*origin), path, host)


@pytest.mark.parametrize(
    "url",
    ["ftp://h/", "http://", "not a url", "http://h:99999/", "http://h:0/", "http://u:p@h/"],
)
def test_unusable_urls_are_invalid_in_both_modes(url: str) -> None:
    assert checked_url(url, allow_private=True) == (None, "invalid_url")
    assert checked_url(url, allow_private=False) == (None, "invalid_url")


@pytest.mark.parametrize(
    "host", ["127.0.0.1", "0x7f000001", "2130706433", "0177.0.0.1", "127.1", "[::1]", "10.1.2.3",
             "[::ffff:127.0.0.1]", "[::ffff:7f00:1]", "169.254.169.254", "0x7f.1"],
)  # fmt: skip
def test_forbidden_literals_are_refused_unless_private_is_allowed(host: str) -> None:
    url = f"http://{host}:8080/x"
    assert checked_url(url, allow_private=False) == (None, "ssrf_blocked")
    assert checked_url(url, allow_private=True)[1] is None


def test_names_and_public_literals_pass_to_the_resolver_check() -> None:
    for url in ("http://hooks.example/x", "http://93.184.216.34/x", "http://localhost/x"):
        assert checked_url(url, allow_private=False)[1] is None


def test_the_request_is_one_buffer_framed_by_content_length() -> None:
    headers = {"Content-Type": "application/json", "webhook-id": "f_1"}
    data = request_bytes("POST", endpoint("http://h.example:8080/hook?x=1"), headers, b"{}", UA)
    assert data == (
        b"POST /hook?x=1 HTTP/1.1\r\n"
        b"Host: h.example:8080\r\n"
        b"Content-Type: application/json\r\n"
        b"webhook-id: f_1\r\n"
        b"User-Agent: cronhook/test\r\n"
        b"Accept-Encoding: identity\r\n"
        b"Accept: */*\r\n"
        b"Content-Length: 2\r\n"
        b"\r\n{}"
    )


def test_framing_and_user_agent_are_ours_and_tenant_defaults_are_kept() -> None:
    headers = {
        "content-length": "999",
        "Transfer-Encoding": "chunked",
        "USER-AGENT": "evil",
        "Host": "virtual.example",
        "Accept-Encoding": "gzip",
        "Accept": "application/json",
        "X-Uni": "é",
    }
    data = request_bytes("PUT", endpoint("http://h.example/"), headers, b"", UA)
    assert data == (
        b"PUT / HTTP/1.1\r\n"
        b"Host: virtual.example\r\n"
        b"Accept-Encoding: gzip\r\n"
        b"Accept: application/json\r\n"
        b"X-Uni: \xc3\xa9\r\n"
        b"User-Agent: cronhook/test\r\n"
        b"Content-Length: 0\r\n"
        b"Content-Type: application/octet-stream\r\n"
        b"\r\n"
    )


@pytest.mark.parametrize(
    ("name", "value"),
    [("X-A", "a\r\nX-B: b"), ("X-A", "a\nb"), ("X-A", "a\rb"), ("X-A", "a\x00"), ("X-A", "\x7f"),
     ("X-A\r\nX-B", "b"), ("X A", "b"), ("X-A:", "b"), ("", "b"), ("Ünï", "b")],
)  # fmt: skip
def test_a_header_that_cannot_go_out_as_given_is_refused(name: str, value: str) -> None:
    with pytest.raises(InvalidRequest):
        request_bytes("POST", endpoint("http://h.example/"), {name: value}, b"", UA)


def test_a_tab_in_a_value_is_allowed() -> None:
    data = request_bytes("POST", endpoint("http://h.example/"), {"X-A": "a\tb"}, b"", UA)
    assert b"X-A: a\tb\r\n" in data
