"""The SSRF rule, from tables: every range, every encoding, every URL refusal."""

from __future__ import annotations

from ipaddress import IPv4Address, IPv6Address, ip_address

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app import ssrf
from app.ssrf import (
    check_target_url,
    forbidden_reason,
    is_forbidden_ip,
    parse_host_literal,
)

FORBIDDEN = [
    # (address, reason)
    ("0.0.0.0", '"this network"'),
    ("0.1.2.3", '"this network"'),
    ("10.0.0.1", "private"),
    ("10.255.255.255", "private"),
    ("100.64.0.1", "carrier-grade NAT (shared)"),
    ("100.127.255.254", "carrier-grade NAT (shared)"),
    ("127.0.0.1", "loopback"),
    ("127.255.255.254", "loopback"),
    ("169.254.0.1", "link-local"),
    ("169.254.169.254", "cloud metadata"),
    ("172.16.0.1", "private"),
    ("172.31.255.255", "private"),
    ("192.0.0.1", "IETF protocol assignment"),
    ("192.0.0.9", "IETF protocol assignment"),
    ("192.0.2.1", "documentation"),
    ("192.88.99.1", "deprecated 6to4 relay anycast"),
    ("192.168.1.1", "private"),
    ("198.18.0.1", "benchmarking"),
    ("198.19.255.255", "benchmarking"),
    ("198.51.100.7", "documentation"),
    ("203.0.113.9", "documentation"),
    ("224.0.0.1", "multicast"),
    ("239.255.255.250", "multicast"),
    ("240.0.0.1", "reserved"),
    ("255.255.255.255", "reserved"),
    ("::", "unspecified"),
    ("::1", "loopback"),
    ("::ffff:127.0.0.1", "IPv4-mapped loopback"),
    ("::ffff:10.0.0.1", "IPv4-mapped private"),
    ("::ffff:169.254.169.254", "IPv4-mapped cloud metadata"),
    ("::127.0.0.1", "IPv4-compatible loopback"),
    ("::10.0.0.1", "IPv4-compatible private"),
    ("64:ff9b::7f00:1", "NAT64 loopback"),
    ("64:ff9b::a9fe:a9fe", "NAT64 cloud metadata"),
    ("64:ff9b:1::808:808", "local-use NAT64"),
    ("2002:7f00:1::1", "6to4 loopback"),
    ("2002:c0a8:101::", "6to4 private"),
    ("100::1", "discard-only"),
    ("2001::1", "Teredo"),
    ("2001:0:4136:e378:8000:63bf:3fff:fdd2", "Teredo"),
    ("2001:2::1", "IETF protocol assignment"),
    ("2001:10::1", "IETF protocol assignment"),
    ("2001:db8::1", "documentation"),
    ("3fff::1", "documentation"),
    ("3fff:fff::1", "documentation"),
    ("fc00::1", "unique local (private)"),
    ("fd12:3456::1", "unique local (private)"),
    ("fd00:ec2::254", "cloud metadata"),
    ("fe80::1", "link-local"),
    ("fe80::1%eth0", "link-local"),
    ("febf::1", "link-local"),
    ("fec0::1", "site-local"),
    ("ff02::1", "multicast"),
    ("ff0e::1", "multicast"),
]

ALLOWED = [
    "1.1.1.1",
    "8.8.8.8",
    "93.184.216.34",
    "100.63.255.255",  # just below CGNAT
    "100.128.0.0",  # just above CGNAT
    "172.15.255.255",
    "172.32.0.0",
    "192.0.1.255",
    "198.17.255.255",
    "198.20.0.0",
    "223.255.255.255",
    "2606:4700:4700::1111",
    "2a00:1450:4001:80b::200e",
    "::ffff:8.8.8.8",  # IPv4-mapped public
    "::8.8.8.8",  # IPv4-compatible public
    "64:ff9b::808:808",  # NAT64 to a public host
    "2002:808:808::1",  # 6to4 of a public host
]


@pytest.mark.parametrize(("address", "reason"), FORBIDDEN)
def test_forbidden_addresses_have_a_reason(address: str, reason: str) -> None:
    ip = ip_address(address)
    assert forbidden_reason(ip) == reason
    assert is_forbidden_ip(ip)


@pytest.mark.parametrize("address", ALLOWED)
def test_public_addresses_are_allowed(address: str) -> None:
    assert forbidden_reason(ip_address(address)) is None
    assert not is_forbidden_ip(ip_address(address))


@pytest.mark.parametrize(
    "address", ["::ffff:8.8.8.8", "::ffff:127.0.0.1", "64:ff9b::7f00:1", "2002:7f00:1::1"]
)
def test_embedded_ipv4_decides_not_is_global(address: str) -> None:
    ip = IPv6Address(address)
    embedded = IPv4Address(int(ip) & 0xFFFFFFFF) if ip.sixtofour is None else ip.sixtofour
    assert is_forbidden_ip(ip) == is_forbidden_ip(embedded)


@given(st.ip_addresses(v=4))
def test_ipv4_mapped_form_is_judged_like_the_ipv4_address(ip: IPv4Address) -> None:
    assert is_forbidden_ip(IPv6Address(f"::ffff:{ip}")) == is_forbidden_ip(ip)


@given(st.ip_addresses())
def test_everything_python_calls_non_global_is_forbidden(ip: IPv4Address | IPv6Address) -> None:
    embeds_ipv4 = isinstance(ip, IPv6Address) and (
        ip.ipv4_mapped or ip.sixtofour or int(ip) >> 32 in (0, 0x64FF9B << 64)
    )
    if not ip.is_global and not embeds_ipv4:
        assert is_forbidden_ip(ip)


LITERALS = [
    # (host as written, address it denotes)
    ("127.0.0.1", "127.0.0.1"),
    ("2130706433", "127.0.0.1"),
    ("0x7f000001", "127.0.0.1"),
    ("0X7F000001", "127.0.0.1"),
    ("0177.0.0.1", "127.0.0.1"),
    ("0177.0000.0000.0001", "127.0.0.1"),
    ("0x7f.0.0.1", "127.0.0.1"),
    ("0x7f.1", "127.0.0.1"),
    ("127.1", "127.0.0.1"),
    ("127.0.1", "127.0.0.1"),
    ("127.0.0.1.", "127.0.0.1"),
    ("017700000001", "127.0.0.1"),
    ("0", "0.0.0.0"),
    ("0x", "0.0.0.0"),
    ("169.254.43518", "169.254.169.254"),
    ("2852039166", "169.254.169.254"),
    ("0xa9.0xfe.0xa9.0xfe", "169.254.169.254"),
    ("10.1", "10.0.0.1"),
    ("8.8.8.8", "8.8.8.8"),
    ("[::1]", "::1"),
    ("::1", "::1"),
    ("[::ffff:127.0.0.1]", "::ffff:7f00:1"),
    ("[::ffff:7f00:1]", "::ffff:7f00:1"),
    ("[0:0:0:0:0:ffff:127.0.0.1]", "::ffff:7f00:1"),
    ("[fe80::1%25eth0]", "fe80::1%eth0"),
    ("[64:ff9b::127.0.0.1]", "64:ff9b::7f00:1"),
]

NOT_LITERALS = [
    "example.com",
    "localhost",
    "1e100.net",
    "0x7g000001",
    "08.0.0.1",  # 8 is not octal: a name to resolve (and fail), never an address
    "256.0.0.1",
    "1.2.3.4.5",
    "1..2.3",
    "4294967296",
    "127.0.0.1..",
    "[not-v6]",
    "",
]


@pytest.mark.parametrize(("host", "address"), LITERALS)
def test_every_literal_form_is_understood(host: str, address: str) -> None:
    assert parse_host_literal(host) == ip_address(address)


@pytest.mark.parametrize("host", NOT_LITERALS)
def test_names_and_malformed_numbers_are_not_literals(host: str) -> None:
    assert parse_host_literal(host) is None


@given(st.integers(min_value=0, max_value=2**32 - 1))
def test_decimal_and_hex_forms_round_trip(value: int) -> None:
    assert parse_host_literal(str(value)) == IPv4Address(value)
    assert parse_host_literal(hex(value)) == IPv4Address(value)


URL_REFUSALS = [
    ("ftp://example.com/", "scheme must be http or https"),
    ("file:///etc/passwd", "scheme must be http or https"),
    ("gopher://example.com/", "scheme must be http or https"),
    ("example.com/hook", "scheme must be http or https"),
    ("https://user:pw@example.com/", "credentials in the URL are not allowed"),
    ("https://user@example.com/", "credentials in the URL are not allowed"),
    ("https://example.com/a\r\nHost: evil", "CR/LF not allowed"),
    ("https://example.com/\n", "CR/LF not allowed"),
    ("https://example.com/\x00", "control characters are not allowed"),
    ("https://exa mple.com/", "whitespace is not allowed in the URL"),
    ("https:///path", "the URL has no host"),
    ("https://", "the URL has no host"),
    ("https://example.com:0/", "the port must be between 1 and 65535"),
    ("http://10.0.0.1/", "the host 10.0.0.1 is a private address"),
    ("http://127.0.0.1:8080/", "the host 127.0.0.1 is a loopback address"),
    ("http://169.254.169.254/latest", "the host 169.254.169.254 is a cloud metadata address"),
    ("http://[::1]/", "the host ::1 is a loopback address"),
    ("http://[::ffff:10.0.0.1]/", "the host ::ffff:a00:1 is an IPv4-mapped private address"),
    ("http://[fd00:ec2::254]/", "the host fd00:ec2::254 is a cloud metadata address"),
    ("http://[fe80::1%25eth0]/", "the host fe80::1%eth0 is a link-local address"),
    ("http://localhost:3000/", "the host localhost is a loopback name"),
    ("http://api.localhost/", "the host api.localhost is a loopback name"),
    ("http://LOCALHOST./", "the host localhost. is a loopback name"),
    ("http://\uff11\uff12\uff17.0.0.1/", "the host 127.0.0.1 is a loopback address"),  # full-width
    ("http://127\u30020\u30020\u30021/", "the host 127.0.0.1 is a loopback address"),  # ideographic
    ("http://%31%32%37.0.0.1/", "the host %31%32%37.0.0.1 is not a valid host name"),
    ("http://exa$mple.com/", "the host exa$mple.com is not a valid host name"),
    ("http://example.com@127.0.0.1/", "credentials in the URL are not allowed"),
    ("http://127.0.0.1#@example.com/", "the host 127.0.0.1 is a loopback address"),
    ("http://[::]/", "the host :: is an unspecified address"),
]


@pytest.mark.parametrize(("url", "reason"), URL_REFUSALS)
def test_refused_urls_say_why(url: str, reason: str) -> None:
    result = check_target_url(url, allow_private=False)
    assert result is not None and result.startswith(reason)


@pytest.mark.parametrize(
    "url", ["https://example.com:99999/", "http://[::1/", "http://xn--/", "http://a\\@b.com/"]
)
def test_unparseable_urls_are_refused(url: str) -> None:
    result = check_target_url(url, allow_private=False)
    assert result is not None and result.startswith("not a valid URL")


@pytest.mark.parametrize(
    "host", ["2130706433", "0x7f000001", "0177.0.0.1", "127.1", "127.0.1", "0x08080808"]
)
@pytest.mark.parametrize("allow_private", [False, True])
def test_non_canonical_ipv4_is_always_refused(host: str, allow_private: bool) -> None:
    reason = check_target_url(f"http://{host}/", allow_private=allow_private)
    assert reason is not None and "non-canonical IPv4" in reason


@pytest.mark.parametrize(
    "url",
    [
        "https://example.com/hook",
        "http://example.com:8080/a/b?c=d#frag",
        "https://8.8.8.8/",
        "https://[2606:4700:4700::1111]/",
        "https://bücher.example/",
        "HTTPS://EXAMPLE.COM/",
    ],
)
def test_public_urls_are_accepted(url: str) -> None:
    assert check_target_url(url, allow_private=False) is None


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/hook",
        "http://localhost:3000/",
        "http://10.0.0.1/",
        "http://[::1]:9000/",
        "http://169.254.169.254/",
    ],
)
def test_private_urls_are_accepted_when_allowed(url: str) -> None:
    assert check_target_url(url, allow_private=True) is None


def test_public_surface_is_sorted() -> None:
    assert ssrf.__all__ == sorted(ssrf.__all__)
