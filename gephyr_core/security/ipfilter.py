"""The IP filter (security.md §6): normalised patterns, in-memory matching and the decision."""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from gephyr_core.security.clientip import Address, Network, parse_ip

DEFAULT_REASON = "blocked by the operator"


def normalise_pattern(text: str) -> str | None:
    """A single address or a CIDR block in canonical form, or None when invalid."""
    text = text.strip()
    try:
        if "/" in text:
            return str(ipaddress.ip_network(text, strict=False))
        return str(ipaddress.ip_address(text))
    except ValueError:
        return None


@dataclass(frozen=True)
class Matcher:
    """Exact addresses first, then CIDR blocks (most specific first)."""

    exact: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    blocks: tuple[tuple[Network, Mapping[str, Any]], ...] = ()

    @classmethod
    def build(cls, rows: Iterable[Mapping[str, Any]]) -> Matcher:
        exact: dict[str, Mapping[str, Any]] = {}
        blocks: list[tuple[Network, Mapping[str, Any]]] = []
        for row in rows:
            pattern = str(row["ip_pattern"])
            if "/" in pattern:
                try:
                    blocks.append((ipaddress.ip_network(pattern, strict=False), row))
                except ValueError:
                    continue
            else:
                exact[pattern] = row
        blocks.sort(key=lambda b: -b[0].prefixlen)
        return cls(exact, tuple(blocks))

    def match(self, addr: Address, now: float | None = None) -> Mapping[str, Any] | None:
        """The first unexpired entry matching `addr`."""
        now = time.time() if now is None else now
        row = self.exact.get(str(addr))
        if row is not None and _live(row, now):
            return row
        for net, entry in self.blocks:
            if net.version == addr.version and addr in net and _live(entry, now):
                return entry
        return None


def _live(row: Mapping[str, Any], now: float) -> bool:
    expires = row.get("expires_at")
    return expires is None or expires > now


@dataclass(frozen=True)
class IpLists:
    """The lists a server matches against; `loaded` False means no good copy yet."""

    blacklist: Matcher = field(default_factory=Matcher)
    whitelist: Matcher = field(default_factory=Matcher)
    loaded: bool = False


@dataclass(frozen=True)
class Block:
    """Why a request is refused."""

    reason: str
    message: str
    pattern: str | None = None


def _block_text(entry: Mapping[str, Any]) -> tuple[str, str]:
    reason = str(entry.get("reason") or DEFAULT_REASON)
    expires = entry.get("expires_at")
    if expires is None:
        until = "the ban is permanent"
    else:
        stamp = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(int(expires)))
        until = f"the ban lasts until {stamp}"
    return reason, f"{reason}; {until}"


def decide(ip: str | None, lists: IpLists, config: Mapping[str, Any]) -> Block | None:
    """None to pass, else the block (steps 1–3 of §6)."""
    addr = parse_ip(ip) if ip else None
    if addr is None:
        return None
    white = config.get("whitelist") or {}
    black = config.get("blacklist") or {}
    if white.get("enabled") is True:
        if lists.loaded and lists.whitelist.match(addr) is not None:
            return None
        reason = "not on the allow-list"
        return Block(reason, f"Access denied: your IP address is {reason}.")
    if white.get("whitelist_priority", True) is not False and lists.whitelist.match(addr) is not None:
        return None
    if black.get("enabled") is True:
        entry = lists.blacklist.match(addr)
        if entry is not None:
            reason, detail = _block_text(entry)
            return Block(reason, f"Access denied: your IP address is blocked. {detail}.", entry["ip_pattern"])
    return None


def block_message(block: Block, custom: str) -> str:
    """`block_message`, when set, replaces the first sentence of the message."""
    if not custom:
        return block.message
    _, _, rest = block.message.partition(". ")
    return f"{custom.rstrip()} {rest}".strip() if rest else custom
