"""The client IP of a request: the socket peer, or X-Forwarded-For behind trusted proxies (§7)."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def parse_ip(text: str) -> Address | None:
    """An address from `ip`, `ip:port`, `[v6]:port` or bare v6 (None when unusable)."""
    text = text.strip()
    if not text:
        return None
    if text.startswith("["):
        text = text[1:].split("]", 1)[0]
    elif text.count(":") == 1:
        text = text.split(":", 1)[0]
    try:
        addr = ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        return None
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        return addr.ipv4_mapped
    return addr


@dataclass(frozen=True)
class TrustedProxies:
    """The parsed `auth.trusted_proxies` list."""

    networks: tuple[Network, ...] = ()

    @classmethod
    def parse(cls, items: Iterable[object]) -> TrustedProxies:
        nets = []
        for item in items:
            try:
                nets.append(ipaddress.ip_network(str(item).strip(), strict=False))
            except ValueError:
                continue  # validation refuses these; a stale copy must not break requests
        return cls(tuple(nets))

    def trusts(self, addr: Address | None) -> bool:
        return addr is not None and any(addr in net for net in self.networks)


def client_ip(peer: str | None, headers: Mapping[str, str], trusted: TrustedProxies) -> str | None:
    """The client IP (§7): XFF read right to left past trusted hops, then X-Real-IP, else the peer."""
    peer_addr = parse_ip(peer) if peer else None
    if peer_addr is None:
        return peer or None
    if not trusted.trusts(peer_addr):
        return str(peer_addr)
    forwarded = headers.get("x-forwarded-for", "")
    for hop in reversed(forwarded.split(",")):
        addr = parse_ip(hop)
        if addr is None:
            break  # a trusted proxy appends a valid address; garbage ends the usable chain
        if not trusted.trusts(addr):
            return str(addr)
    real = parse_ip(headers.get("x-real-ip", ""))
    return str(real) if real is not None else str(peer_addr)
