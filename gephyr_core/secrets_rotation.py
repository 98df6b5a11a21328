"""`gephyr secrets reencrypt`: rewrite every stored secret under the current key."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from gephyr_core.admin.context import AdminContext
from gephyr_core.config.document import PROXY_PASSWORD_FIELD
from gephyr_core.config.keys import ENCRYPTED_KEYS, get_path, set_path
from gephyr_core.errors import GephyrError
from gephyr_core.secrets import Cipher, derive_key, is_encrypted, parse_kid, read_key_file
from gephyr_core.store import audit

_ACCOUNT_FIELDS = (("secret", "account.secret"), ("access_token", "account.access_token"))


def _old_keys(
    ctx: AdminContext, env: Mapping[str, str], key_file: Path | None, key_env: str | None
) -> tuple[bytes, ...]:
    keys: list[bytes] = []
    if key_file is not None:
        keys.append(read_key_file(key_file))
    if key_env:
        value = env.get(key_env, "").strip()
        if not value:
            raise GephyrError(f"{key_env} is not set", code="bad_request")
        keys.append(derive_key(value, ctx.store.kdf_salt()))
    if ctx.box.source.kind == "env" and ctx.dd.key_path.exists():
        keys.append(read_key_file(ctx.dd.key_path))
    return tuple(keys)


def _rewrite_accounts(ctx: AdminContext, rewrite: Any, report: dict[str, Any]) -> None:
    with ctx.store.transaction(change=True) as db:
        rows = list(db.query("SELECT id, secret, access_token FROM accounts"))
        report["accounts_total"] = len(rows)
        for row in rows:
            try:
                fields = {col: rewrite(field, row[col]) for col, field in _ACCOUNT_FIELDS if row[col]}
            except GephyrError:
                report["accounts_failed"] += 1
                continue
            if any(fields[c] != row[c] for c in fields):
                db.table("accounts").update(row["id"], fields)
                report["accounts_rewritten"] += 1


def _rewrite_config(doc: Any, rewrite: Any, report: dict[str, Any]) -> None:
    for key, field in ENCRYPTED_KEYS.items():
        try:
            value = get_path(doc, key)
        except KeyError:
            continue
        if isinstance(value, str) and value and rewrite(field, value) != value:
            set_path(doc, key, rewrite(field, value))
            report["config_rewritten"] = True
    pool = doc.get("pool")
    for proxy in (pool.get("proxies") if pool is not None else None) or []:
        auth = proxy.get("auth")
        pw = auth.get("password") if auth is not None else None
        if isinstance(pw, str) and pw and rewrite(PROXY_PASSWORD_FIELD, pw) != pw:
            auth["password"] = rewrite(PROXY_PASSWORD_FIELD, pw)
            report["proxies_rewritten"] += 1
            report["config_rewritten"] = True


def reencrypt(
    ctx: AdminContext, env: Mapping[str, str], old_key_file: Path | None, old_key_env: str | None
) -> dict[str, Any]:
    """Re-encrypt account and config secrets whose key id differs from the current key."""
    current = ctx.box.cipher
    reader = Cipher(current.key, _old_keys(ctx, env, old_key_file, old_key_env))
    report = {
        "config_rewritten": False,
        "accounts_total": 0,
        "accounts_rewritten": 0,
        "accounts_failed": 0,
        "proxies_rewritten": 0,
    }

    def rewrite(field: str, value: str) -> str:
        if is_encrypted(value) and parse_kid(value) == current.kid:
            return value
        return current.encrypt(field, reader.decrypt(field, value))

    _rewrite_accounts(ctx, rewrite, report)
    ctx.config.update(lambda doc: _rewrite_config(doc, rewrite, report))
    audit.record(ctx.store, ctx.actor, "secrets.reencrypt", after=report)
    return report
