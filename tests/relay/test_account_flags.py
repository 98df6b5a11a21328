"""Upstream 401/403 take an account out of routing at once and persist the flag."""

from __future__ import annotations

import time

from tests.emulators.script import Error
from tests.relay.harness import RelayServer, ask


def _row(relay: RelayServer, label: str) -> dict[str, object]:
    with relay.ctx.store.reading() as db:  # the server's writer threads share the connection
        return next(dict(r) for r in db.query("SELECT * FROM accounts WHERE label = ?", [label]))


def _served(relay: RelayServer) -> str:
    auth = relay.emulators["openai"].last_request.header("authorization") or ""
    return "b" if auth.endswith("0002") else "a"


def _wait_persisted(relay: RelayServer, label: str, column: str) -> dict[str, object]:
    deadline = time.monotonic() + 5
    row = _row(relay, label)
    while not row[column] and time.monotonic() < deadline:
        time.sleep(0.05)
        row = _row(relay, label)
    return row


def test_401_marks_forbidden_and_traffic_moves(two: RelayServer) -> None:
    two.configure({"scheduling": {"mode": "PerformanceFirst"}})
    two.emulators["openai"].push(Error(401, "Incorrect API key provided"))
    assert ask(two, session=None).status_code == 200
    first = two.emulators["openai"].requests[0].header("authorization") or ""
    bad = "b" if first.endswith("0002") else "a"
    row = _wait_persisted(two, bad, "forbidden")
    assert row["forbidden"] == 1 and row["forbidden_reason"] == "upstream_401"
    for _ in range(4):
        assert ask(two, session=None).status_code == 200 and _served(two) != bad


def test_403_validation_required_blocks_for_ten_minutes(two: RelayServer) -> None:
    two.configure({"scheduling": {"mode": "PerformanceFirst"}})
    two.emulators["openai"].push(Error(403, "VALIDATION_REQUIRED: verify your account"))
    assert ask(two, session=None).status_code == 200
    first = two.emulators["openai"].requests[0].header("authorization") or ""
    bad = "b" if first.endswith("0002") else "a"
    row = _wait_persisted(two, bad, "validation_blocked")
    assert row["validation_blocked"] == 1
    assert 590 <= int(row["validation_blocked_until"]) - int(time.time()) <= 600  # type: ignore[call-overload]
