"""`config.toml` on disk: created from the template, parsed and saved with tomlkit.

Saves hold an exclusive lock on `config.toml.lock`, write a temp file, fsync and rename,
so a failed command never leaves a half-written file. Encrypted fields are encrypted on
every save; plain-text secrets written by hand get encrypted at the next save.
"""

from __future__ import annotations

import hashlib
import secrets as _random
from collections.abc import Callable, Mapping
from typing import Any

import tomlkit
from tomlkit.exceptions import ParseError
from tomlkit.toml_document import TOMLDocument

from gephyr_core.config.keys import ENCRYPTED_KEYS, get_path, set_path
from gephyr_core.config.settings import Settings, build_settings, template_text, with_defaults
from gephyr_core.config.validate import validate
from gephyr_core.datadir import DataDir, file_lock, write_private
from gephyr_core.errors import ConfigError, StorageError, ValidationFailed
from gephyr_core.secrets import SecretBox, is_encrypted

PROXY_PASSWORD_FIELD = "config.proxy_password"


def new_api_key() -> str:
    """A relay API key: `sk-` + 32 hex."""
    return "sk-" + _random.token_hex(16)


class ConfigStore:
    """Reads and writes one data dir's config.toml."""

    def __init__(self, dd: DataDir, box: SecretBox | None = None) -> None:
        self.dd = dd
        self.box = box
        self.created_api_key: str | None = None

    # -- reading -----------------------------------------------------------------------
    def text(self) -> str:
        """Current file text, creating the file from the template when missing."""
        path = self.dd.config_path
        if not path.exists():
            self.dd.ensure()
            with file_lock(self.dd.config_lock_path):
                if not path.exists():
                    doc = tomlkit.parse(template_text())
                    key = new_api_key()
                    doc["auth"]["api_key"] = key
                    write_private(path, tomlkit.dumps(doc).encode())
                    self.created_api_key = key
        try:
            return path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise StorageError(f"{path}: {exc}") from exc

    def document(self) -> TOMLDocument:
        """The parsed file; a syntax error raises ConfigError `config.toml:<line>:<col>: ...`."""
        text = self.text()
        try:
            return tomlkit.parse(text)
        except ParseError as exc:
            raise ConfigError(f"{self.dd.config_path}:{exc.line}:{exc.col}: {_reason(exc)}") from exc

    def persisted(self) -> dict[str, Any]:
        """The persisted document (no overlays), merged over the defaults, still encrypted."""
        return with_defaults(self.document().unwrap())

    def stamp(self) -> tuple[float, int, str]:
        """(mtime, size, content hash) used by the server's change watcher."""
        st = self.dd.config_path.stat()
        digest = hashlib.sha256(self.dd.config_path.read_bytes()).hexdigest()
        return st.st_mtime, st.st_size, digest

    def settings(
        self,
        env: Mapping[str, str],
        overrides: Mapping[str, Any] | None = None,
        decrypt: bool = True,
    ) -> Settings:
        """Effective settings: file (secrets decrypted) + env overlays + option overrides.

        `decrypt=False` leaves config secrets as stored, for diagnostics that must work
        when the key does not match.
        """
        data = self.document().unwrap()
        if decrypt:
            self._decrypt(data)
        return build_settings(data, env, overrides)

    def encrypted_values(self) -> list[tuple[str, str, str]]:
        """Every stored config ciphertext as (key path, AES-GCM field, value)."""
        data = self.document().unwrap()
        out = []
        for key, field in ENCRYPTED_KEYS.items():
            try:
                value = get_path(data, key)
            except KeyError:
                continue
            if is_encrypted(value):
                out.append((key, field, value))
        for i, proxy in enumerate(data.get("pool", {}).get("proxies", []) or []):
            auth = proxy.get("auth") if isinstance(proxy, dict) else None
            if isinstance(auth, dict) and is_encrypted(auth.get("password")):
                out.append((f"pool.proxies[{i}].auth.password", PROXY_PASSWORD_FIELD, auth["password"]))
        return out

    def _decrypt(self, data: dict[str, Any]) -> None:
        for key, field in ENCRYPTED_KEYS.items():
            try:
                value = get_path(data, key)
            except KeyError:
                continue
            if is_encrypted(value) and self.box is not None:
                set_path(data, key, self.box.decrypt(field, value))
        for proxy in data.get("pool", {}).get("proxies", []) or []:
            auth = proxy.get("auth") if isinstance(proxy, dict) else None
            if isinstance(auth, dict) and is_encrypted(auth.get("password")) and self.box:
                auth["password"] = self.box.decrypt(PROXY_PASSWORD_FIELD, auth["password"])

    # -- writing -----------------------------------------------------------------------
    def update(self, mutate: Callable[[TOMLDocument], None]) -> tuple[list[str], list[str]]:
        """Lock, load, mutate, validate, encrypt and save atomically: (changed keys, warnings)."""
        self.text()
        with file_lock(self.dd.config_lock_path):
            doc = self.document()
            before = with_defaults(doc.unwrap())
            mutate(doc)
            after = with_defaults(doc.unwrap())
            problems, warnings = validate(after)
            if problems:
                raise ValidationFailed(problems)
            self._encrypt(doc)
            write_private(self.dd.config_path, tomlkit.dumps(doc).encode())
        return changed_keys(before, after), warnings

    def _encrypt(self, doc: TOMLDocument) -> None:
        if self.box is None:
            return
        for key, field in ENCRYPTED_KEYS.items():
            try:
                value = get_path(doc, key)
            except KeyError:
                continue
            if isinstance(value, str) and value and not is_encrypted(value):
                set_path(doc, key, self.box.encrypt(field, value))
        pool = doc.get("pool")
        for proxy in (pool.get("proxies") if pool is not None else None) or []:
            auth = proxy.get("auth")
            pw = auth.get("password") if auth is not None else None
            if isinstance(pw, str) and pw and not is_encrypted(pw):
                auth["password"] = self.box.encrypt(PROXY_PASSWORD_FIELD, pw)


def _reason(exc: ParseError) -> str:
    text = str(exc)
    return text.split(" at line ")[0] if " at line " in text else text


def changed_keys(before: Mapping[str, Any], after: Mapping[str, Any], prefix: str = "") -> list[str]:
    """Dotted keys whose values differ between two documents."""
    out: list[str] = []
    for key in sorted(set(before) | set(after)):
        a, b = before.get(key), after.get(key)
        path = f"{prefix}{key}"
        if isinstance(a, Mapping) and isinstance(b, Mapping) and path != "routing.mapping":
            out.extend(changed_keys(a, b, path + "."))
        elif a != b:
            out.append(path)
    return out
