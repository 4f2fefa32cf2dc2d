"""WebhookClient against the hostile loopback receiver: every misbehaviour, within deadline."""

from __future__ import annotations

import asyncio
import shutil
import socket
import ssl
import subprocess
from collections.abc import AsyncIterator, Mapping
from email.utils import formatdate
from pathlib import Path
from typing import Any

import aiohappyeyeballs
import pytest

from dispatcher.http.client import (
    DeliveryResult,
    GuardedResolver,
    OutboundRequest,
    SSRFBlockedError,
    WebhookClient,
)
from dispatcher.http.resolver import ResolveResult, SystemResolver
from tests.receiver import Receiver, Reply

DEADLINE = 0.6
SLACK = 0.5  # scheduling slack on a loaded CI box


class StubResolver:
    """Answers fixed addresses per call: ``answers[i]`` for the i-th call (last repeats)."""

    def __init__(self, *answers: list[str]) -> None:
        self.answers = answers
        self.calls: list[str] = []

    async def resolve(self, host: str, port: int = 0, family: int = 0) -> list[ResolveResult]:
        ips = self.answers[min(len(self.calls), len(self.answers) - 1)]
        self.calls.append(host)
        return [
            ResolveResult(
                hostname=host,
                host=ip,
                port=port,
                family=socket.AF_INET6 if ":" in ip else socket.AF_INET,
                proto=0,
                flags=socket.AI_NUMERICHOST,
            )
            for ip in ips
        ]

    async def close(self) -> None:
        pass


def request(
    url: str,
    *,
    method: str = "POST",
    headers: Mapping[str, str] | None = None,
    body: bytes = b'{"hello": "world"}',
    timeout: float = DEADLINE,
) -> OutboundRequest:
    return OutboundRequest(method, url, headers or {}, body, timeout)


async def send_private(client: WebhookClient, url: str, **kw: Any) -> DeliveryResult:
    return await client.send(request(url, **kw), allow_private=True)


# -- responses --------------------------------------------------------------------------
async def test_ok_carries_status_excerpt_and_tenant_headers(
    client: WebhookClient, receiver: Receiver
) -> None:
    headers = {"X-Tenant": "a", "Content-Type": "application/json", "webhook-id": "f_1"}
    result = await send_private(client, receiver.url("/ok"), headers=headers)

    assert (result.status_code, result.error, result.excerpt) == (200, None, "ok")
    assert result.retry_after_seconds is None and result.location is None
    (seen,) = receiver.requests
    assert seen.method == "POST" and seen.body == b'{"hello": "world"}'
    assert seen.headers["x-tenant"] == "a" and seen.headers["webhook-id"] == "f_1"
    assert seen.headers["content-type"] == "application/json"
    assert seen.headers["user-agent"].startswith("cronhook/")
    assert seen.headers["accept-encoding"] == "identity"


async def test_user_agent_and_framing_headers_are_ours(
    client: WebhookClient, receiver: Receiver
) -> None:
    headers = {"User-Agent": "evil", "Content-Length": "999", "Transfer-Encoding": "chunked"}
    result = await send_private(client, receiver.url("/ok"), headers=headers, body=b"abc")

    assert result.status_code == 200
    (seen,) = receiver.requests
    assert seen.headers["user-agent"].startswith("cronhook/")
    assert seen.headers["content-length"] == "3" and "transfer-encoding" not in seen.headers
    assert seen.body == b"abc"


@pytest.mark.parametrize("code", [200, 201, 204, 400, 404, 408, 410, 429, 500, 503, 599])
async def test_any_status_is_reported_without_error(
    client: WebhookClient, receiver: Receiver, code: int
) -> None:
    result = await send_private(client, receiver.url(f"/status/{code}"))
    assert (result.status_code, result.error) == (code, None)


async def test_redirect_is_not_followed_and_location_is_kept(
    client: WebhookClient, receiver: Receiver
) -> None:
    result = await send_private(client, receiver.url("/redirect?to=http://10.1.2.3/x"))

    assert (result.status_code, result.location) == (302, "http://10.1.2.3/x")
    assert len(receiver.requests) == 1


@pytest.mark.parametrize(
    ("value", "expected"),
    [("7", 7.0), ("0", 0.0), ("garbage", None), ("-5", None), ("1e9999", None)],
)
async def test_retry_after_is_parsed_or_ignored(
    client: WebhookClient, receiver: Receiver, value: str, expected: float | None
) -> None:
    result = await send_private(client, receiver.url(f"/retry-after/{value}"))
    assert (result.status_code, result.retry_after_seconds) == (429, expected)


async def test_retry_after_http_date_gives_seconds_from_now(
    client: WebhookClient, receiver: Receiver
) -> None:
    receiver.script("/hook", Reply(503, headers={"Retry-After": formatdate(usegmt=True)}))
    result = await send_private(client, receiver.url("/hook"))
    assert result.status_code == 503
    assert result.retry_after_seconds is not None and 0 <= result.retry_after_seconds <= 1


async def test_script_answers_in_order_then_falls_back(
    client: WebhookClient, receiver: Receiver
) -> None:
    receiver.script("/hook", Reply(500), "/status/502", Reply(200, b"done"))
    codes = [(await send_private(client, receiver.url("/hook"))).status_code for _ in range(4)]
    assert codes == [500, 502, 200, 200]
    assert len(await receiver.wait_for(4, path="/hook")) == 4


# -- hostile endpoints ------------------------------------------------------------------
@pytest.mark.parametrize("path", ["/hang", "/drip", "/drip-headers", "/slow/5"])
async def test_slow_endpoints_time_out_within_the_total_deadline(
    client: WebhookClient, receiver: Receiver, path: str
) -> None:
    started = asyncio.get_running_loop().time()
    result = await send_private(client, receiver.url(path))
    elapsed = asyncio.get_running_loop().time() - started

    assert (result.status_code, result.error) == (None, "timeout")
    assert DEADLINE <= elapsed < DEADLINE + SLACK
    assert DEADLINE * 1000 <= result.duration_ms < (DEADLINE + SLACK) * 1000


@pytest.mark.parametrize(
    ("path", "error"),
    [("/reset", "connect"), ("/close", "connect"), ("/garbage", "protocol")],
)
async def test_broken_connections_give_an_error_class(
    client: WebhookClient, receiver: Receiver, path: str, error: str
) -> None:
    result = await send_private(client, receiver.url(path))
    assert (result.status_code, result.error) == (None, error)
    assert result.duration_ms < DEADLINE * 1000


async def test_oversized_response_headers_are_too_large(
    client: WebhookClient, receiver: Receiver
) -> None:
    result = await send_private(client, receiver.url("/huge-headers"))
    assert (result.status_code, result.error) == (None, "too_large")


async def test_huge_body_is_cut_at_the_cap_and_keeps_the_status(receiver: Receiver) -> None:
    client = WebhookClient(max_response_bytes=4096, excerpt_bytes=100)
    try:
        result = await send_private(client, receiver.url("/huge"), timeout=5)
    finally:
        await client.aclose()

    assert (result.status_code, result.error, result.truncated) == (200, None, True)
    assert result.excerpt == "x" * 100
    assert result.duration_ms < 1000


async def test_gzip_bomb_is_never_inflated(client: WebhookClient, receiver: Receiver) -> None:
    result = await send_private(client, receiver.url("/gzip-bomb"), timeout=5)

    assert (result.status_code, result.error, result.truncated) == (200, None, True)
    assert len(result.excerpt) <= 1024
    assert "\ufffd" in result.excerpt  # raw compressed bytes, not 1 KiB of inflated zeros


async def test_refused_connection_is_connect_error(client: WebhookClient) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound, not listening: refused
        result = await send_private(client, f"http://127.0.0.1:{port}/")
    assert (result.status_code, result.error) == (None, "connect")


@pytest.mark.parametrize("url", ["ftp://127.0.0.1/", "http://", "not a url", "http://h:99999/"])
async def test_invalid_urls_are_refused(client: WebhookClient, url: str) -> None:
    assert (await send_private(client, url)).error == "invalid_url"
    assert (await client.send(request(url))).error == "invalid_url"


async def test_header_injection_is_an_invalid_request(
    client: WebhookClient, receiver: Receiver
) -> None:
    result = await send_private(client, receiver.url("/ok"), headers={"X-A": "a\r\nX-B: b"})
    assert (result.status_code, result.error) == (None, "invalid_request")
    assert receiver.requests == []


async def test_many_concurrent_sends_share_the_pool(receiver: Receiver) -> None:
    client = WebhookClient(max_connections=8)
    try:
        results = await asyncio.gather(
            *(send_private(client, receiver.url(f"/n/{i}"), timeout=5) for i in range(200))
        )
    finally:
        await client.aclose()
    assert {r.status_code for r in results} == {200}
    assert len(receiver.requests) == 200


async def test_closed_client_refuses_to_send(receiver: Receiver) -> None:
    client = WebhookClient()
    await client.aclose()
    await client.aclose()  # idempotent
    with pytest.raises(RuntimeError):
        await send_private(client, receiver.url("/ok"))


# -- SSRF -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "host",
    ["127.0.0.1", "0x7f000001", "2130706433", "0177.0.0.1", "127.1", "[::1]", "[::ffff:127.0.0.1]"],
)
async def test_loopback_literals_are_refused_before_connecting(
    client: WebhookClient, receiver: Receiver, host: str
) -> None:
    result = await client.send(request(f"http://{host}:{receiver.port}/ok"))
    assert (result.status_code, result.error) == (None, "ssrf_blocked")
    assert receiver.requests == []


async def test_localhost_name_is_refused_after_resolution(
    client: WebhookClient, receiver: Receiver
) -> None:
    result = await client.send(request(f"http://localhost:{receiver.port}/ok"))
    assert result.error == "ssrf_blocked"
    assert receiver.requests == []


@pytest.mark.parametrize(
    "answer",
    [["127.0.0.1"], ["10.0.0.7"], ["169.254.169.254"], ["::1"], ["93.184.216.34", "127.0.0.1"]],
)
async def test_public_name_resolving_to_a_forbidden_address_is_refused(
    receiver: Receiver, answer: list[str]
) -> None:
    resolver = StubResolver(answer)
    client = WebhookClient(resolver=resolver)
    try:
        result = await client.send(request(f"http://hooks.example.com:{receiver.port}/ok"))
    finally:
        await client.aclose()
    assert (result.status_code, result.error) == (None, "ssrf_blocked")
    assert resolver.calls == ["hooks.example.com"]
    assert receiver.requests == []


async def test_allow_private_reaches_loopback_through_a_resolved_name(
    receiver: Receiver,
) -> None:
    client = WebhookClient(resolver=StubResolver(["127.0.0.1"]))
    try:
        result = await client.send(
            request(f"http://hooks.example.com:{receiver.port}/ok"), allow_private=True
        )
    finally:
        await client.aclose()
    assert result.status_code == 200
    assert receiver.requests[0].headers["host"] == f"hooks.example.com:{receiver.port}"


async def test_pooled_private_connection_is_not_reused_for_a_guarded_send(
    client: WebhookClient, receiver: Receiver
) -> None:
    assert (await send_private(client, receiver.url("/ok"))).status_code == 200
    assert (await client.send(request(receiver.url("/ok")))).error == "ssrf_blocked"
    assert len(receiver.requests) == 1


async def test_rebinding_dns_connects_only_to_the_checked_address(
    receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given: a name answering a public address first, then loopback (DNS rebinding)
    resolver = StubResolver(["93.184.216.34"], ["127.0.0.1"])
    attempted: list[str] = []

    async def no_traffic(addr_infos: list[Any], **kwargs: Any) -> socket.socket:
        attempted.extend(info[4][0] for info in addr_infos)
        raise ConnectionRefusedError("test: no traffic leaves loopback")

    monkeypatch.setattr(aiohappyeyeballs, "start_connection", no_traffic)  # as aiohttp calls it
    client = WebhookClient(resolver=resolver)
    try:
        # when: the first send passes the check, the second resolution rebinds
        first = await client.send(request(f"http://a.example.com:{receiver.port}/"))
        second = await client.send(request(f"http://b.example.com:{receiver.port}/"))
    finally:
        await client.aclose()

    # then: the connect went to exactly the checked address, never to a fresh lookup
    assert first.error == "connect" and attempted == ["93.184.216.34"]
    assert second.error == "ssrf_blocked"
    assert resolver.calls == ["a.example.com", "b.example.com"]
    assert receiver.requests == []


async def test_system_resolver_answers_numeric_addresses_with_the_port() -> None:
    resolver = SystemResolver()
    answers = await resolver.resolve("localhost", 8443, socket.AF_UNSPEC)
    assert answers, "localhost resolves on every machine"
    assert {a["host"] for a in answers} <= {"127.0.0.1", "::1"}
    assert {a["port"] for a in answers} == {8443}
    literal = await resolver.resolve("127.0.0.1", 80, socket.AF_INET)
    assert [(a["host"], a["family"]) for a in literal] == [("127.0.0.1", socket.AF_INET)]
    await resolver.close()


async def test_guarded_resolver_raises_on_any_forbidden_answer() -> None:
    guarded = GuardedResolver(StubResolver(["93.184.216.34"], ["93.184.216.34", "10.0.0.1"]))
    assert [a["host"] for a in await guarded.resolve("x.example", 443)] == ["93.184.216.34"]
    with pytest.raises(SSRFBlockedError, match=r"10\.0\.0\.1"):
        await guarded.resolve("x.example", 443)


# -- TLS --------------------------------------------------------------------------------
def _openssl(*args: str | Path) -> None:
    subprocess.run(["openssl", *map(str, args)], check=True, capture_output=True, timeout=30)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A throwaway CA and a leaf certificate for hooks.example.com, made with openssl."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    d = tmp_path_factory.mktemp("pki")
    ec = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes")
    _openssl("req", "-x509", *ec, "-keyout", d / "ca.key", "-out", d / "ca.pem", "-days", "2",
             "-subj", "/CN=cronhook test CA", "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign")  # fmt: skip
    _openssl("req", "-new", *ec, "-keyout", d / "leaf.key", "-out", d / "leaf.csr",
             "-subj", "/CN=hooks.example.com")  # fmt: skip
    (d / "ext.cnf").write_text(
        "subjectAltName=DNS:hooks.example.com\nextendedKeyUsage=serverAuth\n"
        "authorityKeyIdentifier=keyid\n"
    )
    _openssl("x509", "-req", "-in", d / "leaf.csr", "-CA", d / "ca.pem", "-CAkey", d / "ca.key",
             "-CAcreateserial", "-out", d / "leaf.pem", "-days", "2",
             "-extfile", d / "ext.cnf")  # fmt: skip
    return d


@pytest.fixture
async def tls_receiver(pki: Path) -> AsyncIterator[Receiver]:
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_context.load_cert_chain(pki / "leaf.pem", pki / "leaf.key")
    async with Receiver(tls=server_context) as r:
        yield r


async def _send_tls(
    pki: Path, receiver: Receiver, host: str, *, trust_ca: bool = True
) -> DeliveryResult:
    context = ssl.create_default_context(cafile=pki / "ca.pem") if trust_ca else None
    client = WebhookClient(resolver=StubResolver(["127.0.0.1"]), ssl_context=context)
    try:
        url = f"https://{host}:{receiver.port}/ok"
        return await client.send(request(url, timeout=5), allow_private=True)
    finally:
        await client.aclose()


async def test_tls_is_verified_against_the_url_host_not_the_resolved_address(
    pki: Path, tls_receiver: Receiver
) -> None:
    result = await _send_tls(pki, tls_receiver, "hooks.example.com")
    assert (result.status_code, result.error) == (200, None)
    assert tls_receiver.requests[0].headers["host"] == f"hooks.example.com:{tls_receiver.port}"


async def test_tls_connections_are_kept_alive(pki: Path, tls_receiver: Receiver) -> None:
    context = ssl.create_default_context(cafile=pki / "ca.pem")
    client = WebhookClient(resolver=StubResolver(["127.0.0.1"]), ssl_context=context)
    try:
        url = f"https://hooks.example.com:{tls_receiver.port}/ok"
        results = [await client.send(request(url, timeout=5), allow_private=True) for _ in range(3)]
    finally:
        await client.aclose()
    assert [r.status_code for r in results] == [200, 200, 200]
    assert tls_receiver.connections == 1


async def test_tls_certificate_for_another_name_is_refused(
    pki: Path, tls_receiver: Receiver
) -> None:
    result = await _send_tls(pki, tls_receiver, "other.example.com")
    assert (result.status_code, result.error) == (None, "tls")
    assert tls_receiver.requests == []


async def test_tls_certificate_from_an_unknown_ca_is_refused(
    pki: Path, tls_receiver: Receiver
) -> None:
    result = await _send_tls(pki, tls_receiver, "hooks.example.com", trust_ca=False)
    assert (result.status_code, result.error) == (None, "tls")
