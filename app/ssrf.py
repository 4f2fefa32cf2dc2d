"""The SSRF rule: which addresses a webhook may never reach, in every encoding.

Pure functions, no I/O. Three entry points:

- :func:`forbidden_reason` / :func:`is_forbidden_ip` -- the rule on one resolved address.
  The delivery client applies it to every address DNS returns (and connects only to what
  was checked); the API applies it to IP-literal hosts at write time.
- :func:`parse_host_literal` -- turn a URL host into an address if it is an IP literal in
  any form libc or a browser would accept (``2130706433``, ``0x7f000001``, ``0177.0.0.1``,
  ``127.1``, ``[::ffff:127.0.0.1]``), else ``None`` (a name to resolve).
- :func:`check_target_url` -- the write-time check of a webhook URL, returning a human
  reason or ``None``.

Why not ``ipaddress.is_global``: it answers for the IPv6 address itself, not for the IPv4
host an IPv4-mapped, IPv4-compatible, NAT64 or 6to4 address actually reaches, and its
tables lag the IANA registries (``3fff::/20``, ``fec0::/10`` vary between Python builds).
So the rule is explicit tables first, embedded IPv4 addresses unwrapped, and
``is_global`` only as a final catch-all.
"""

from __future__ import annotations

import re
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address

from yarl import URL

__all__ = [
    "check_target_url",
    "forbidden_reason",
    "is_forbidden_ip",
    "parse_host_literal",
]

IPAddress = IPv4Address | IPv6Address

# (network, what it is) -- the word goes into "the host X is a <word> address".
_V4_TABLE: tuple[tuple[IPv4Network, str], ...] = tuple(
    (IPv4Network(net), kind)
    for net, kind in (
        ("169.254.169.254/32", "cloud metadata"),
        ("0.0.0.0/8", '"this network"'),
        ("10.0.0.0/8", "private"),
        ("100.64.0.0/10", "carrier-grade NAT (shared)"),
        ("127.0.0.0/8", "loopback"),
        ("169.254.0.0/16", "link-local"),
        ("172.16.0.0/12", "private"),
        ("192.0.0.0/24", "IETF protocol assignment"),
        ("192.0.2.0/24", "documentation"),
        ("192.88.99.0/24", "deprecated 6to4 relay anycast"),
        ("192.168.0.0/16", "private"),
        ("198.18.0.0/15", "benchmarking"),
        ("198.51.100.0/24", "documentation"),
        ("203.0.113.0/24", "documentation"),
        ("224.0.0.0/4", "multicast"),
        ("240.0.0.0/4", "reserved"),  # includes 255.255.255.255, the broadcast address
    )
)

_V6_TABLE: tuple[tuple[IPv6Network, str], ...] = tuple(
    (IPv6Network(net), kind)
    for net, kind in (
        ("fd00:ec2::254/128", "cloud metadata"),
        ("::/128", "unspecified"),
        ("::1/128", "loopback"),
        ("64:ff9b:1::/48", "local-use NAT64"),
        ("100::/64", "discard-only"),
        ("2001::/32", "Teredo"),
        ("2001::/23", "IETF protocol assignment"),
        ("2001:db8::/32", "documentation"),
        ("3fff::/20", "documentation"),
        ("5f00::/16", "segment routing (SRv6) SID"),
        ("fc00::/7", "unique local (private)"),
        ("fe80::/10", "link-local"),
        ("fec0::/10", "site-local"),
        ("ff00::/8", "multicast"),
    )
)

_IPV4_COMPATIBLE = IPv6Network("::/96")
_NAT64_WELL_KNOWN = IPv6Network("64:ff9b::/96")


def _embedded_ipv4(ip: IPv6Address) -> tuple[IPv4Address, str] | None:
    """The IPv4 address an IPv6 address reaches through a translation scheme, if any."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped, "IPv4-mapped"
    if ip in _IPV4_COMPATIBLE and int(ip) > 1:  # :: and ::1 are judged as themselves
        return IPv4Address(int(ip) & 0xFFFFFFFF), "IPv4-compatible"
    if ip in _NAT64_WELL_KNOWN:
        return IPv4Address(int(ip) & 0xFFFFFFFF), "NAT64"
    if ip.sixtofour is not None:
        return ip.sixtofour, "6to4"
    return None


def forbidden_reason(ip: IPAddress) -> str | None:
    """Why a webhook may not connect to ``ip`` ("loopback", "private", ...), or ``None``.

    IPv6 addresses that embed an IPv4 destination (IPv4-mapped ``::ffff:0:0/96``,
    IPv4-compatible ``::/96``, NAT64 ``64:ff9b::/96``, 6to4 ``2002::/16``) are judged by
    that IPv4 address. Teredo, local-use NAT64 and the rest of ``2001::/23`` are refused
    whole: the IPv4 host they reach is not recoverable from the address alone.
    """
    if isinstance(ip, IPv6Address):
        if ip.scope_id:
            ip = IPv6Address(ip.compressed.split("%", 1)[0])
        embedded = _embedded_ipv4(ip)
        if embedded is not None:
            v4, scheme = embedded
            inner = forbidden_reason(v4)
            return None if inner is None else f"{scheme} {inner}"
        for net6, kind in _V6_TABLE:
            if ip in net6:
                return kind
    else:
        for net4, kind in _V4_TABLE:
            if ip in net4:
                return kind
    if not ip.is_global:
        return "non-global"
    return None


def is_forbidden_ip(ip: IPAddress) -> bool:
    """True if a webhook must not connect to ``ip`` unless private targets are allowed."""
    return forbidden_reason(ip) is not None


_HEX = re.compile(r"0[xX][0-9a-fA-F]*")
_OCT = re.compile(r"0[0-7]+")
_DEC = re.compile(r"0|[1-9][0-9]*")
_HOST_CHARS = re.compile(r"[A-Za-z0-9._-]+")  # a name after IDNA encoding


def _ipv4_part(part: str) -> int | None:
    if _DEC.fullmatch(part):
        return int(part)
    if _HEX.fullmatch(part):
        return int(part[2:] or "0", 16)
    if _OCT.fullmatch(part):
        return int(part, 8)
    return None


def _parse_ipv4_loose(host: str) -> IPv4Address | None:
    """inet_aton / WHATWG IPv4: 1 to 4 parts, decimal, 0x hex or 0-octal, last part fills."""
    if host.endswith("."):
        host = host[:-1]
    parts = host.split(".")
    if not 1 <= len(parts) <= 4:
        return None
    numbers = [_ipv4_part(p) for p in parts]
    if any(n is None for n in numbers):
        return None
    values = [n for n in numbers if n is not None]
    *head, last = values
    if any(n > 255 for n in head) or last >= 256 ** (4 - len(head)):
        return None
    value = last
    for index, n in enumerate(head):
        value += n << (8 * (3 - index))
    return IPv4Address(value)


def parse_host_literal(host: str) -> IPAddress | None:
    """The address ``host`` denotes if it is an IP literal in any accepted form, else None.

    Accepts ``[v6]`` with or without brackets (zone ids included) and every IPv4 form that
    ``inet_aton`` or a browser's URL parser accepts: ``2130706433``, ``0x7f000001``,
    ``0177.0.0.1``, ``127.1``, ``127.0.1``, a trailing dot. Anything else -- a name to be
    resolved -- gives ``None``.
    """
    host = host.strip()
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if ":" in host:
        try:
            return IPv6Address(host.replace("%25", "%", 1))
        except ValueError:
            return None
    return _parse_ipv4_loose(host)


def _is_canonical(host: str, ip: IPAddress) -> bool:
    if isinstance(ip, IPv6Address):
        return True
    try:
        return ip_address(host) == ip
    except ValueError:
        return False


def _host_reason(host: str, *, allow_private: bool) -> str | None:
    bare = host.strip("[]")
    ip = parse_host_literal(bare)
    if ip is None:
        lowered = bare.lower().rstrip(".")
        if not allow_private and (lowered == "localhost" or lowered.endswith(".localhost")):
            return f"the host {bare} is a loopback name"
        return None
    if not _is_canonical(bare, ip):
        return f"the host {bare} is a non-canonical IPv4 form of {ip}; write {ip}"
    reason = forbidden_reason(ip)
    if reason is not None and not allow_private:
        article = "an" if reason[0] in "aeiouAEIOU" else "a"
        return f"the host {bare} is {article} {reason} address"
    return None


def check_target_url(url: str, *, allow_private: bool) -> str | None:
    """Check a webhook URL at write time: ``None`` if acceptable, else a human reason.

    Refuses control characters (CR/LF, NUL, ...), spaces, schemes other than http and
    https, credentials, a missing host, bad ports, non-canonical IPv4 literals (always:
    the delivery client does not accept them), and -- unless ``allow_private`` -- IP
    literals in a forbidden range and ``localhost`` names. Names are not resolved here;
    the delivery client applies the same rule to every address it resolves.
    """
    if "\r" in url or "\n" in url:
        return "CR/LF not allowed"
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in url):
        return "control characters are not allowed"
    if any(c.isspace() for c in url):
        return "whitespace is not allowed in the URL"
    try:
        parsed = URL(url)
        scheme, port, host, raw_host = parsed.scheme, parsed.port, parsed.host, parsed.raw_host
        has_credentials = parsed.user is not None or parsed.password is not None
    except (ValueError, TypeError) as exc:  # UnicodeError (bad IDNA) is a ValueError
        return f"not a valid URL ({exc})"
    if scheme not in ("http", "https"):
        return "scheme must be http or https"
    if has_credentials:
        return "credentials in the URL are not allowed"
    if not host or not raw_host:
        return "the URL has no host"
    if port is None or not 0 < port <= 65535:
        return "the port must be between 1 and 65535"
    if not raw_host.startswith("[") and ":" not in raw_host and not _HOST_CHARS.fullmatch(raw_host):
        return f"the host {host} is not a valid host name"
    return _host_reason(host, allow_private=allow_private)
