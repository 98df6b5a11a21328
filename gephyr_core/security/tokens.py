"""User tokens (security.md §5): values, hashes, expiry, curfew and the validation order.

`TokenCache` is the server's in-memory copy: tokens by hash and bound IPs per token. A new
IP is bound in memory at validation time, so a burst from new IPs cannot pass the cap
before the writer has stored the bindings.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

EXPIRY_DAYS: dict[str, int | None] = {"day": 1, "week": 7, "month": 30, "never": None}
_HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


def new_token() -> str:
    """`sk-` + 32 lower-case hex (128 random bits)."""
    return "sk-" + secrets.token_hex(16)


def token_hash(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def token_hint(value: str) -> str:
    """`sk-` + first 4 + `…` + last 4 of the random part."""
    body = value.removeprefix("sk-")
    return f"sk-{body[:4]}…{body[-4:]}"


def expires_at(expires_type: str, now: int) -> int | None:
    """Expiry time for a type (`day`, `week`, `month`, `never`); KeyError for others."""
    days = EXPIRY_DAYS[expires_type]
    return None if days is None else now + days * 86400


def is_hhmm(value: str) -> bool:
    return bool(_HHMM.match(value))


def _minutes(hhmm: str) -> int:
    hours, minutes = hhmm.split(":")
    return int(hours) * 60 + int(minutes)


def in_curfew(start: str | None, end: str | None, local: time.struct_time) -> bool:
    """True inside [start, end) server-local time; start > end wraps midnight; start = end: none."""
    if not start or not end or not is_hhmm(start) or not is_hhmm(end) or start == end:
        return False
    now = local.tm_hour * 60 + local.tm_min
    lo, hi = _minutes(start), _minutes(end)
    return lo <= now < hi if lo < hi else now >= lo or now < hi


@dataclass(frozen=True)
class Verdict:
    """The outcome of validating a presented token: `token` set on success, else why not."""

    token: Mapping[str, Any] | None
    status: int = 200
    message: str = ""


@dataclass
class TokenCache:
    """Tokens by hash and bound IPs by token id; `loaded` is False until a first good read."""

    by_hash: dict[str, dict[str, Any]] = field(default_factory=dict)
    bound: dict[str, set[str]] = field(default_factory=dict)
    loaded: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def build(cls, rows: Iterable[dict[str, Any]], bound: dict[str, set[str]]) -> TokenCache:
        return cls({r["token_hash"]: r for r in rows}, bound, True)

    def validate(self, secret: str, ip: str | None, now: float | None = None) -> Verdict:
        """Known hash → enabled → not expired → IP cap (binding a new IP) → curfew."""
        now = time.time() if now is None else now
        row = self.by_hash.get(token_hash(secret))
        if row is None:
            return Verdict(None, 401, "invalid API key or user token")
        if not row.get("enabled"):
            return Verdict(None, 401, "this user token is disabled")
        if row.get("expires_at") is not None and row["expires_at"] <= now:
            return Verdict(None, 401, "this user token has expired")
        refused = self._bind(row, ip)
        if refused is not None:
            return refused
        if in_curfew(row.get("curfew_start"), row.get("curfew_end"), time.localtime(now)):
            window = f"{row['curfew_start']}-{row['curfew_end']}"
            return Verdict(None, 403, f"this user token is not allowed during its curfew ({window})")
        return Verdict(row)

    def _bind(self, row: Mapping[str, Any], ip: str | None) -> Verdict | None:
        cap = int(row.get("max_ips") or 0)
        if ip is None:
            return None
        with self.lock:
            ips = self.bound.setdefault(row["id"], set())
            if ip in ips:
                return None
            if cap > 0 and len(ips) >= cap:
                return Verdict(
                    None, 403, f"this user token is already bound to {len(ips)} IP addresses (limit {cap})"
                )
            ips.add(ip)
        return None

    def merge_pending(self, pending: Iterable[tuple[str, str]]) -> None:
        """Keep bindings made in memory that the writer has not stored yet."""
        ids = {r["id"] for r in self.by_hash.values()}
        with self.lock:
            for token_id, ip in pending:
                if token_id in ids:
                    self.bound.setdefault(token_id, set()).add(ip)
