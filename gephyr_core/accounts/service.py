"""Account lifecycle on the store: upsert (accounts.md §3), delete, sign out, reorder."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from sqlite_utils import Database

from gephyr_core.accounts.view import fingerprint, hint, normalise_base_url, routable
from gephyr_core.secrets import SecretBox
from gephyr_core.store import Store
from gephyr_core.store import accounts as table

#: tables that may hold per-account runtime records (created by later migrations)
_ACCOUNT_TABLES = ("proxy_bindings", "session_bindings")


@dataclass
class Credential:
    """A plaintext credential to store: an API key or an OAuth refresh token."""

    kind: str  # api_key | oauth
    secret: str
    access_token: str | None = None
    token_expires_at: int | None = None


@dataclass
class AccountInput:
    """Fields an add, import or OAuth link supplies; None means 'not given'."""

    provider: str
    base_url: str
    credential: Credential | None = None
    label: str | None = None
    email: str | None = None
    name: str | None = None
    models: list[str] | None = None
    probe_model: str | None = None
    oauth_provider: str | None = None
    oauth_subject: str | None = None
    discovered_models: list[str] | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def _match(rows: list[dict[str, Any]], acc: AccountInput, fp: str | None) -> dict[str, Any] | None:
    if acc.oauth_provider and acc.oauth_subject:
        for r in rows:
            if r.get("oauth_provider") == acc.oauth_provider and r.get("oauth_subject") == acc.oauth_subject:
                return r
    if acc.email:
        for r in rows:
            if r["provider"] == acc.provider and (r.get("email") or "").lower() == acc.email.lower():
                return r
    if fp:
        base = normalise_base_url(acc.base_url)
        for r in rows:
            if (
                r["provider"] == acc.provider
                and normalise_base_url(r["base_url"]) == base
                and r.get("credential_fingerprint") == fp
            ):
                return r
    return None


def _credential_fields(box: SecretBox, cred: Credential) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "credential_kind": cred.kind,
        "secret": box.encrypt("account.secret", cred.secret),
        "credential_fingerprint": fingerprint(cred.secret),
        "credential_hint": hint(cred.secret),
        "access_token": box.encrypt("account.access_token", cred.access_token) if cred.access_token else None,
        "token_expires_at": cred.token_expires_at,
    }
    return fields


_REVIVE = {
    "disabled": False,
    "disabled_reason": None,
    "disabled_at": None,
    "forbidden": False,
    "forbidden_reason": None,
    "forbidden_at": None,
    "validation_blocked": False,
    "validation_blocked_until": None,
    "validation_blocked_reason": None,
}


def upsert(store: Store, box: SecretBox, acc: AccountInput) -> tuple[str, bool]:
    """Insert or update by identity; returns (account id, created)."""
    fp = fingerprint(acc.credential.secret) if acc.credential else None
    cred_fields = _credential_fields(box, acc.credential) if acc.credential else {}
    now = int(time.time())
    with store.transaction(change=True) as db:
        rows = table.list_accounts_in(db)
        found = _match(rows, acc, fp)
        given = {
            "email": acc.email,
            "name": acc.name,
            "label": acc.label,
            "models": acc.models,
            "probe_model": acc.probe_model,
            "base_url": normalise_base_url(acc.base_url) if acc.base_url else None,
            "oauth_provider": acc.oauth_provider,
            "oauth_subject": acc.oauth_subject,
            "discovered_models": acc.discovered_models,
        }
        given = {k: v for k, v in given.items() if v is not None}
        if found is not None:
            fields = {**given, **acc.extra, "updated_at": now}
            if acc.credential:
                fields.update(cred_fields)
                if found.get("credential_fingerprint") != fp or not found.get("secret"):
                    fields.update(_REVIVE)
            table.update_account(db, found["id"], fields)
            return found["id"], False
        account_id = str(uuid.uuid4())
        label = acc.label or acc.email or f"{acc.provider}-{cred_fields.get('credential_hint', '')}"
        row = {
            "id": account_id,
            "provider": acc.provider,
            "label": label,
            "base_url": normalise_base_url(acc.base_url),
            "models": acc.models or [],
            "priority": table.next_priority(db),
            "created_at": now,
            "updated_at": now,
            "last_used": 0,
            "credential_kind": "api_key",
            "secret": "",
            **given,
            **cred_fields,
            **acc.extra,
        }
        row["label"] = label
        table.insert_account(db, row)
        if not store_meta(db, "current_account_id"):
            set_meta(db, "current_account_id", account_id)
        return account_id, True


def store_meta(db: Database, key: str) -> str:
    row = db.execute("SELECT value FROM meta WHERE key = ?", [key]).fetchone()
    return row[0] if row else ""


def set_meta(db: Database, key: str, value: str) -> None:
    db.table("meta").upsert({"key": key, "value": value}, pk="key")


def _hand_over_current(db: Database, leaving: str, routable_only: bool) -> None:
    if store_meta(db, "current_account_id") != leaving:
        return
    rows = [r for r in table.list_accounts_in(db) if r["id"] != leaving]
    if routable_only:
        rows = [r for r in rows if routable(r)]
    set_meta(db, "current_account_id", rows[0]["id"] if rows else "")


def delete(store: Store, account_ids: list[str]) -> int:
    """Delete accounts with their profiles and bindings; statistics are kept."""
    deleted = 0
    with store.transaction(change=True) as db:
        tables = set(db.table_names())
        for account_id in account_ids:
            _hand_over_current(db, account_id, routable_only=False)
            if table.delete_account(db, account_id):
                deleted += 1
                for name in _ACCOUNT_TABLES:
                    if name in tables:
                        db.execute(f"DELETE FROM {name} WHERE account_id = ?", [account_id])
    return deleted


def sign_out(store: Store, account_id: str) -> None:
    """Erase the credential and disable the account (reason `logged_out`)."""
    with store.transaction(change=True) as db:
        table.update_account(
            db,
            account_id,
            {
                "secret": "",
                "access_token": None,
                "token_expires_at": None,
                "disabled": True,
                "disabled_reason": "logged_out",
                "disabled_at": int(time.time()),
                "updated_at": int(time.time()),
            },
        )
        if "session_bindings" in db.table_names():
            db.execute("DELETE FROM session_bindings WHERE account_id = ?", [account_id])
        _hand_over_current(db, account_id, routable_only=True)


def reorder(store: Store, account_ids: list[str]) -> None:
    """Given ids first (unknown skipped), then the rest in their old order."""
    with store.transaction(change=True) as db:
        rows = table.list_accounts_in(db)
        known = {r["id"] for r in rows}
        first = list(dict.fromkeys(i for i in account_ids if i in known))
        order = first + [r["id"] for r in rows if r["id"] not in set(first)]
        for pos, account_id in enumerate(order):
            table.update_account(db, account_id, {"priority": pos})


def update_fields(store: Store, account_id: str, fields: dict[str, Any]) -> None:
    """Set columns of one account in a change-counted transaction."""
    with store.transaction(change=True) as db:
        table.update_account(db, account_id, {**fields, "updated_at": int(time.time())})
