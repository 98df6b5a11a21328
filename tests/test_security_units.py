"""Pure security pieces: client IP behind trusted proxies, lockout, curfew, token cache, IP filter."""

from __future__ import annotations

import time

import pytest

from gephyr_core.security.clientip import TrustedProxies, client_ip, parse_ip
from gephyr_core.security.ipfilter import IpLists, Matcher, block_message, decide, normalise_pattern
from gephyr_core.security.lockout import LockedOut, Lockout, LockoutPolicy
from gephyr_core.security.tokens import TokenCache, in_curfew, new_token, token_hash, token_hint

TRUSTED = TrustedProxies.parse(["10.0.0.1", "192.168.0.0/16", "::1"])


@pytest.mark.parametrize(
    ("peer", "headers", "expected"),
    [
        ("203.0.113.5", {"x-forwarded-for": "1.2.3.4"}, "203.0.113.5"),  # untrusted peer: XFF ignored
        ("10.0.0.1", {"x-forwarded-for": "1.2.3.4"}, "1.2.3.4"),
        ("10.0.0.1", {"x-forwarded-for": "6.6.6.6, 1.2.3.4, 192.168.1.9"}, "1.2.3.4"),  # skip trusted hops
        ("10.0.0.1", {"x-forwarded-for": "1.2.3.4:5555"}, "1.2.3.4"),
        ("10.0.0.1", {"x-forwarded-for": "[2001:db8::1]:443"}, "2001:db8::1"),
        ("10.0.0.1", {"x-forwarded-for": "192.168.3.3", "x-real-ip": "9.9.9.9"}, "9.9.9.9"),
        ("10.0.0.1", {"x-forwarded-for": "not-an-ip"}, "10.0.0.1"),
        ("10.0.0.1", {}, "10.0.0.1"),
        ("::1", {"x-forwarded-for": "5.5.5.5"}, "5.5.5.5"),
        ("::ffff:203.0.113.9", {}, "203.0.113.9"),
    ],
)
def test_client_ip(peer: str, headers: dict[str, str], expected: str) -> None:
    assert client_ip(peer, headers, TRUSTED) == expected


def test_parse_ip_rejects_garbage() -> None:
    assert parse_ip("") is None and parse_ip("1.2.3") is None and parse_ip("[zz]:1") is None


def test_lockout_engages_and_expires() -> None:
    now = [1000.0]
    lock = Lockout(clock=lambda: now[0])
    policy = LockoutPolicy(max_failures=3, window_seconds=60, lockout_seconds=30)
    assert not lock.failure("1.1.1.1", policy) and not lock.failure("1.1.1.1", policy)
    lock.success("1.1.1.1")  # a success clears the count
    assert not lock.failure("1.1.1.1", policy) and not lock.failure("1.1.1.1", policy)
    assert lock.failure("1.1.1.1", policy)
    with pytest.raises(LockedOut) as exc:
        lock.check("1.1.1.1")
    assert exc.value.status == 429 and exc.value.headers["retry-after"] == "30"
    lock.check("2.2.2.2")  # other IPs are unaffected
    now[0] += 31
    lock.check("1.1.1.1")
    assert lock.lockouts_total == 1


def test_lockout_window_slides() -> None:
    now = [0.0]
    lock = Lockout(clock=lambda: now[0])
    policy = LockoutPolicy(max_failures=2, window_seconds=10, lockout_seconds=5)
    lock.failure("a", policy)
    now[0] = 11
    assert not lock.failure("a", policy)  # the first failure left the window


def _at(hh: int, mm: int) -> time.struct_time:
    return time.struct_time((2024, 1, 1, hh, mm, 0, 0, 1, -1))


@pytest.mark.parametrize(
    ("start", "end", "hh", "mm", "inside"),
    [
        ("09:00", "17:00", 9, 0, True),
        ("09:00", "17:00", 17, 0, False),
        ("22:00", "06:00", 23, 30, True),
        ("22:00", "06:00", 5, 59, True),
        ("22:00", "06:00", 6, 0, False),
        ("08:00", "08:00", 8, 0, False),
        (None, None, 3, 0, False),
    ],
)
def test_curfew(start: str | None, end: str | None, hh: int, mm: int, inside: bool) -> None:
    assert in_curfew(start, end, _at(hh, mm)) is inside


def _row(**kw: object) -> dict[str, object]:
    value = kw.pop("value", "sk-" + "a" * 32)
    return {
        "id": "t1",
        "token_hash": token_hash(str(value)),
        "username": "u",
        "enabled": 1,
        "expires_at": None,
        "max_ips": 0,
        "curfew_start": None,
        "curfew_end": None,
        **kw,
    }


def test_token_value_and_hint() -> None:
    value = new_token()
    assert len(value) == 35 and value.startswith("sk-") and int(value[3:], 16) >= 0
    assert token_hint(value) == f"sk-{value[3:7]}…{value[-4:]}"


def test_token_validation_order() -> None:
    secret = "sk-" + "a" * 32
    cache = TokenCache.build([_row()], {})
    assert cache.validate(secret, "1.1.1.1").token is not None
    assert cache.validate("sk-unknown", "1.1.1.1").status == 401
    disabled = TokenCache.build([_row(enabled=0, expires_at=1)], {})
    assert "disabled" in disabled.validate(secret, None).message
    expired = TokenCache.build([_row(expires_at=int(time.time()) - 1)], {})
    assert (
        expired.validate(secret, None).status == 401 and "expired" in expired.validate(secret, None).message
    )


def test_ip_cap_binds_new_ips_in_memory() -> None:
    secret = "sk-" + "a" * 32
    cache = TokenCache.build([_row(max_ips=2)], {"t1": {"1.1.1.1"}})
    assert cache.validate(secret, "1.1.1.1").token is not None
    assert cache.validate(secret, "2.2.2.2").token is not None
    refused = cache.validate(secret, "3.3.3.3")
    assert refused.status == 403 and "2 IP addresses (limit 2)" in refused.message
    assert cache.validate(secret, "2.2.2.2").token is not None  # bound IPs still pass


def test_normalise_pattern() -> None:
    assert normalise_pattern(" 10.1.2.3/8 ") == "10.0.0.0/8"
    assert normalise_pattern("2001:DB8:0::1") == "2001:db8::1"
    assert normalise_pattern("10.0.0.0/33") is None and normalise_pattern("nope") is None


def _lists(black: list[dict[str, object]], white: list[dict[str, object]]) -> IpLists:
    return IpLists(Matcher.build(black), Matcher.build(white), True)


def test_decide_modes() -> None:
    future = int(time.time()) + 3600
    lists = _lists(
        [
            {"ip_pattern": "6.6.6.6", "reason": None, "expires_at": None},
            {"ip_pattern": "7.7.0.0/16", "reason": "spam", "expires_at": future},
            {"ip_pattern": "8.8.8.8", "reason": "old", "expires_at": 1},
            {"ip_pattern": "5.5.5.5", "reason": None, "expires_at": None},
        ],
        [{"ip_pattern": "5.5.5.5"}, {"ip_pattern": "10.0.0.0/8"}],
    )
    black_on = {"blacklist": {"enabled": True}, "whitelist": {"whitelist_priority": True}}
    assert decide("6.6.6.6", lists, black_on).reason == "blocked by the operator"  # type: ignore[union-attr]
    cidr = decide("7.7.1.2", lists, black_on)
    assert cidr is not None and cidr.reason == "spam" and "until" in cidr.message
    assert decide("8.8.8.8", lists, black_on) is None  # expired entries are ignored
    assert decide("5.5.5.5", lists, black_on) is None  # whitelist priority
    no_priority = {"blacklist": {"enabled": True}, "whitelist": {"whitelist_priority": False}}
    assert decide("5.5.5.5", lists, no_priority) is not None
    assert decide("6.6.6.6", lists, {"blacklist": {}}) is None  # a sub-table without enabled is off
    allow_only = {"whitelist": {"enabled": True}}
    assert decide("10.9.9.9", lists, allow_only) is None
    assert decide("6.6.6.6", lists, allow_only).reason == "not on the allow-list"  # type: ignore[union-attr]
    assert decide(None, lists, allow_only) is None  # no IP, no filtering
    assert decide("10.1.1.1", IpLists(), allow_only) is not None  # no lists loaded: allow-list fails closed
    assert decide("6.6.6.6", IpLists(), black_on) is None  # ... and the blacklist fails open


def test_block_message_replaces_first_sentence() -> None:
    lists = _lists([{"ip_pattern": "6.6.6.6", "reason": None, "expires_at": None}], [])
    block = decide("6.6.6.6", lists, {"blacklist": {"enabled": True}})
    assert block is not None
    assert block_message(block, "Ask IT.").startswith("Ask IT. blocked by the operator")
    assert block_message(block, "") == block.message
