"""The `audit_events` table: one writer for every audited change, plus its `[ADMIN_AUDIT]` line.

Whatever a caller passes is scrubbed here once more: a string under a key whose name suggests
a secret (`api_key`, `refresh_token`, `password`, `Authorization`, ...) or under a whole opaque
document (`config`, `body`) is stored as `[redacted]`, at any depth, and credentials inside URLs
are masked, so no call site can leak one by forgetting.
"""

from __future__ import annotations

import json
import logging
import re
import time
from typing import Any

from gephyr_core.store.db import Store

log = logging.getLogger("gephyr.audit")

REDACTED = "[redacted]"
_SECRET_WORDS = frozenset(
    {
        "key",
        "apikey",
        "token",
        "tokens",
        "secret",
        "password",
        "passwd",
        "credential",
        "credentials",
        "authorization",
        "cookie",
        "code",
        "verifier",
        "config",
        "body",
    }
)
# Names that merely describe a secret (its id, whether it is set, how many) are kept.
_DESCRIPTIVE = frozenset({"id", "ids", "set", "count", "kind", "source", "hash", "prefix", "type"})
_WORD = re.compile(r"[A-Za-z][a-z]*|[0-9]+")
_USERINFO = re.compile(r"://[^/@\s]+@")  # credentials inside a URL (e.g. a proxy's user:password@)


def secret_name(name: str) -> bool:
    """Whether a key name suggests its value is a secret (`api_key`, `x-api-key`, `refreshToken`)."""
    words = [w.lower() for w in _WORD.findall(name)]
    return bool(words) and words[-1] not in _DESCRIPTIVE and any(w in _SECRET_WORDS for w in words)


def scrub(value: Any, secret: bool = False) -> Any:
    """A copy of `value` with every string under a secret-looking key replaced by `[redacted]`."""
    if isinstance(value, dict):
        return {k: scrub(v, secret or secret_name(str(k))) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [scrub(v, secret) for v in value]
    if secret and isinstance(value, str | bytes) and value:
        return REDACTED
    if isinstance(value, str) and "@" in value:
        return _USERINFO.sub("://[redacted]@", value)
    return value


def record(
    store: Store,
    actor: str,
    action: str,
    target: str | None = None,
    after: Any = None,
    before: Any = None,
    request_id: str | None = None,
    client_ip: str | None = None,
) -> dict[str, Any]:
    """Store one audit event and log it as `[ADMIN_AUDIT] <json>`; the event as stored."""
    event: dict[str, Any] = {
        "timestamp": int(time.time()),
        "actor": actor,
        "action": action,
        "target": target,
        "before": scrub(before),
        "after": scrub(after),
        "request_id": request_id,
        "client_ip": client_ip,
    }
    row = {
        **event,
        "before": None if before is None else json.dumps(event["before"], default=str),
        "after": None if after is None else json.dumps(event["after"], default=str),
    }
    with store.transaction() as db:
        table = db.table("audit_events")
        table.insert(row)
        event = {"id": table.last_pk, **event}
    log.info("[ADMIN_AUDIT] %s", json.dumps(event, default=str, sort_keys=True))
    return event
