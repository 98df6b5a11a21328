"""Account export and import (accounts.md §7.3–7.5)."""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path
from typing import Any

from gephyr_core.accounts import service
from gephyr_core.accounts.view import check_provider
from gephyr_core.admin import audit as snap
from gephyr_core.admin.accounts import view
from gephyr_core.admin.context import AdminContext
from gephyr_core.admin.registry import Audit, operation
from gephyr_core.errors import BadRequest, GephyrError, IllegalPath, UnsupportedFormat
from gephyr_core.secrets import Cipher, derive_key, read_key_file
from gephyr_core.store import accounts as table

EXPORT_FORMAT = "gephyr-accounts"
_STATE = ("proxy_disabled", "proxy_disabled_reason")


def _entry(ctx: AdminContext, row: dict[str, Any]) -> dict[str, Any]:
    secret = ctx.box.decrypt("account.secret", row["secret"])
    profile = table.current_profile(ctx.store, row["id"], row.get("header_profile_version"))
    entry = {
        "provider": row["provider"],
        "label": row["label"],
        "email": row.get("email"),
        "name": row.get("name"),
        "base_url": row["base_url"],
        "credential_kind": row["credential_kind"],
        "models": row["models"],
        "probe_model": row.get("probe_model"),
        "priority": row["priority"],
        "proxy_disabled": row["proxy_disabled"],
        "proxy_disabled_reason": row.get("proxy_disabled_reason"),
        "oauth_provider": row.get("oauth_provider"),
        "oauth_subject": row.get("oauth_subject"),
        "header_profile": {"label": profile["label"], "headers": profile["headers"]} if profile else None,
    }
    entry["refresh_token" if row["credential_kind"] == "oauth" else "api_key"] = secret
    return entry


@operation("accounts.export", "POST", "/api/accounts/export")
def export(ctx: AdminContext, account_ids: list[str] | None = None, format: str = "gephyr") -> dict[str, Any]:
    """Export accounts with their credentials in clear (handle the result as a secret)."""
    if format not in {"gephyr", "legacy"}:
        raise BadRequest("format must be gephyr or legacy")
    rows = [r for r in table.list_accounts(ctx.store) if r.get("secret")]
    if account_ids is not None:
        wanted = set(account_ids)
        rows = [r for r in rows if r["id"] in wanted]
    if format == "legacy":
        google = [r for r in rows if r["credential_kind"] == "oauth" and r.get("oauth_provider") == "google"]
        return {
            "accounts": [
                {"email": r.get("email"), "refresh_token": ctx.box.decrypt("account.secret", r["secret"])}
                for r in google
            ]
        }
    return {
        "format": EXPORT_FORMAT,
        "version": 1,
        "exported_at": int(time.time()),
        "accounts": [_entry(ctx, r) for r in rows],
    }


def _import_entry(ctx: AdminContext, entry: Any) -> tuple[str, bool]:
    if not isinstance(entry, dict):
        raise BadRequest("entry must be an object")
    provider = check_provider(entry.get("provider"))
    kind = entry.get("credential_kind") or ("oauth" if entry.get("refresh_token") else "api_key")
    secret = entry.get("refresh_token") if kind == "oauth" else entry.get("api_key")
    if not isinstance(secret, str) or not secret.strip():
        raise BadRequest("entry has no credential")
    models = entry.get("models")
    acc = service.AccountInput(
        provider=provider,
        base_url=entry.get("base_url") or ctx.settings().get(f"providers.{provider}.base_url"),
        credential=service.Credential(kind, secret.strip()),
        label=entry.get("label"),
        email=entry.get("email"),
        name=entry.get("name"),
        models=models if isinstance(models, list) else None,
        probe_model=entry.get("probe_model"),
        oauth_provider=entry.get("oauth_provider"),
        oauth_subject=entry.get("oauth_subject"),
        extra={k: entry[k] for k in _STATE if k in entry},
    )
    return service.upsert(ctx.store, ctx.box, acc)


def _report(ctx: AdminContext, entries: list[Any], importer: Any) -> dict[str, Any]:
    created = updated = 0
    failed: list[dict[str, Any]] = []
    ids: list[str] = []
    for index, entry in enumerate(entries):
        try:
            account_id, was_created = importer(entry)
        except GephyrError as exc:
            label = entry.get("label") or entry.get("email") if isinstance(entry, dict) else None
            failed.append({"index": index, "label": label, "error": exc.message})
            continue
        ids.append(account_id)
        created += int(was_created)
        updated += int(not was_created)
    ctx.records_changed()
    rows = {r["id"]: r for r in table.list_accounts(ctx.store)}
    return {
        "total": len(entries),
        "created": created,
        "updated": updated,
        "failed": failed,
        "accounts": [view(ctx, rows[i]) for i in dict.fromkeys(ids) if i in rows],
    }


def _legacy_importer(ctx: AdminContext) -> Any:
    """Each legacy entry is refreshed and identity-verified before its upsert (accounts.md §7.4)."""
    from gephyr_core.oauth.link import Linker
    from gephyr_core.pool.egress import for_context

    linker = Linker(ctx.store, ctx.box, ctx.settings, ctx.actor, lambda: for_context(ctx).sender(None))

    def one(entry: dict[str, Any]) -> tuple[str, bool]:
        label = entry.get("label") if isinstance(entry.get("label"), str) else None
        return linker.link_refresh_token(str(entry["refresh_token"]), label)

    return one


@operation(
    "accounts.import", "POST", "/api/accounts/import", audit=Audit("accounts.import", snap.accounts_overview)
)
def import_accounts(ctx: AdminContext, body: Any) -> dict[str, Any]:
    """Import an export document (or a legacy refresh-token list)."""
    if isinstance(body, dict) and body.get("format") == EXPORT_FORMAT:
        entries = body.get("accounts")
        if not isinstance(entries, list):
            raise UnsupportedFormat("export document has no accounts array")
        return _report(ctx, entries, lambda e: _import_entry(ctx, e))
    entries = body.get("accounts") if isinstance(body, dict) else body
    if (
        isinstance(entries, list)
        and entries
        and all(isinstance(e, dict) and e.get("refresh_token") and not e.get("provider") for e in entries)
    ):
        return _report(ctx, entries, _legacy_importer(ctx))
    raise UnsupportedFormat(
        "unrecognised import file: expected a gephyr-accounts export or {accounts:[{email, refresh_token}]}"
    )


def _source_db(ctx: AdminContext, path: str) -> Path:
    if not path or ".." in Path(path).parts:
        raise IllegalPath("path must not contain '..'")
    p = Path(path).expanduser()
    if p.is_dir():
        p = p / "gephyr.db"
    if not p.is_file():
        raise IllegalPath(f"{p} is not a file")
    if p.resolve() == ctx.dd.db_path.resolve():
        raise IllegalPath("that is this data dir's own database")
    with p.open("rb") as fh:
        if fh.read(16) != b"SQLite format 3\x00":
            raise IllegalPath(f"{p} is not a SQLite database")
    return p


@operation(
    "accounts.import_db",
    "POST",
    "/api/accounts/import/db",
    audit=Audit("accounts.import", snap.accounts_overview),
)
def import_db(ctx: AdminContext, path: str) -> dict[str, Any]:
    """Import the accounts of another Gephyr data dir's database."""
    src = _source_db(ctx, path)
    try:
        conn = sqlite3.connect(f"file:{src}?mode=ro", uri=True)
        conn.row_factory = sqlite3.Row
        rows = [dict(r) for r in conn.execute("SELECT * FROM accounts ORDER BY priority")]
        salt_row = conn.execute("SELECT value FROM meta WHERE key = 'kdf_salt'").fetchone()
        conn.close()
    except sqlite3.DatabaseError as exc:
        raise IllegalPath(f"{src} is not a readable Gephyr database: {exc}") from exc
    cipher = _source_cipher(ctx, src, salt_row[0] if salt_row else "")

    def one(row: dict[str, Any]) -> tuple[str, bool]:
        if cipher is None:
            raise GephyrError("no key to decrypt the source", code="key_unavailable")
        secret = cipher.decrypt("account.secret", row.get("secret") or "")
        entry = {
            **row,
            "models": json.loads(row.get("models") or "[]"),
            "proxy_disabled": bool(row.get("proxy_disabled")),
        }
        entry["refresh_token" if row["credential_kind"] == "oauth" else "api_key"] = secret
        return _import_entry(ctx, entry)

    return _report(ctx, rows, one)


def _source_cipher(ctx: AdminContext, src: Path, salt_hex: str) -> Cipher | None:
    key_file = src.parent / "secret.key"
    if key_file.exists():
        return Cipher(read_key_file(key_file))
    from gephyr_core.config.overlay import env_lookup

    found = env_lookup(ctx.env, "ENCRYPTION_KEY")
    if found and salt_hex:
        return Cipher(derive_key(found[1].strip(), bytes.fromhex(salt_hex)))
    return None
