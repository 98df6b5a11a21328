"""Encryption at rest: AES-256-GCM with a versioned prefix `enc:v1:<kid>:<payload>`.

Key material, first available: the `ENCRYPTION_KEY` overlay (a passphrase stretched with
scrypt over the database's `kdf_salt`), else the data dir's `secret.key` (32 random bytes,
base64, created 0600 on first need). A value starting with `enc:` must decrypt, or it is an
error: secrets fail closed and are never used as plain text.
"""

from __future__ import annotations

import base64
import hashlib
import os
import secrets as _random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from gephyr_core.config.overlay import env_lookup
from gephyr_core.datadir import write_private
from gephyr_core.errors import KeyUnavailable

PREFIX = "enc:"
VERSION = "v1"
COMMON_WORDS = {"password", "passphrase", "secret", "changeme", "letmein", "admin", "gephyr"}


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def key_id(key: bytes) -> str:
    """First 8 hex of SHA-256 of the key."""
    return hashlib.sha256(key).hexdigest()[:8]


def derive_key(passphrase: str, salt: bytes) -> bytes:
    """scrypt(passphrase, salt, N=2^15, r=8, p=1) -> 32 bytes."""
    from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

    return Scrypt(salt=salt, length=32, n=2**15, r=8, p=1).derive(passphrase.encode())


def passphrase_warnings(passphrase: str) -> list[str]:
    """Warnings for a weak ENCRYPTION_KEY passphrase (never echoing it)."""
    out = []
    if len(passphrase) < 32:
        out.append("ENCRYPTION_KEY is shorter than 32 characters")
    if len(set(passphrase)) < 10:
        out.append("ENCRYPTION_KEY has fewer than 10 distinct characters")
    if passphrase.lower() in COMMON_WORDS:
        out.append("ENCRYPTION_KEY is a common word")
    return out


def is_encrypted(value: object) -> bool:
    """True for a ciphertext string written by Gephyr."""
    return isinstance(value, str) and value.startswith(PREFIX)


def parse_kid(value: str) -> str | None:
    """The key id of a ciphertext, or None when it is not one of ours."""
    parts = value.split(":", 3)
    if len(parts) == 4 and parts[0] == "enc":
        return parts[2]
    return None


class Cipher:
    """AES-256-GCM over one current key, optionally able to read older keys."""

    def __init__(self, key: bytes, old_keys: tuple[bytes, ...] = ()) -> None:
        if len(key) != 32:
            raise KeyUnavailable("encryption key must be 32 bytes")
        self.key = key
        self.kid = key_id(key)
        self._keys = {key_id(k): k for k in (*old_keys, key)}

    def encrypt(self, field: str, plaintext: str) -> str:
        """Encrypt for the given field (bound as associated data)."""
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        nonce = os.urandom(12)
        ct = AESGCM(self.key).encrypt(nonce, plaintext.encode(), f"gephyr:{field}".encode())
        return f"{PREFIX}{VERSION}:{self.kid}:{_b64url(nonce + ct)}"

    def decrypt(self, field: str, value: str) -> str:
        """Decrypt a ciphertext; plain text (not `enc:`) is returned as written by hand."""
        if not is_encrypted(value):
            return value
        from cryptography.exceptions import InvalidTag
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        parts = value.split(":", 3)
        if len(parts) != 4 or parts[1] != VERSION:
            raise KeyUnavailable(f"{field}: unknown ciphertext version")
        key = self._keys.get(parts[2])
        if key is None:
            raise KeyUnavailable(f"{field}: key mismatch (encrypted with key {parts[2]})")
        try:
            raw = _unb64url(parts[3])
            plain = AESGCM(key).decrypt(raw[:12], raw[12:], f"gephyr:{field}".encode())
        except (InvalidTag, ValueError) as exc:
            raise KeyUnavailable(f"{field}: ciphertext does not decrypt (key mismatch)") from exc
        return plain.decode()

    def can_decrypt(self, value: str) -> bool:
        """True when a ciphertext's key is known to this cipher."""
        kid = parse_kid(value)
        return kid is None or kid in self._keys


def read_key_file(path: Path) -> bytes:
    """Read a base64 key file."""
    try:
        key = base64.b64decode(path.read_text().strip(), validate=True)
    except (OSError, ValueError) as exc:
        raise KeyUnavailable(f"cannot read key file {path}: {exc}") from exc
    if len(key) != 32:
        raise KeyUnavailable(f"key file {path} does not hold 32 bytes")
    return key


@dataclass
class KeySource:
    """Where the current key comes from: `env` or `key_file`."""

    kind: str
    key: bytes
    warnings: list[str]


def resolve_key(
    key_path: Path, env: Mapping[str, str], salt: Callable[[], bytes], create: bool = True
) -> KeySource:
    """Resolve the current key: ENCRYPTION_KEY overlay, else `secret.key` (created if allowed)."""
    found = env_lookup(env, "ENCRYPTION_KEY")
    if found is not None:
        passphrase = found[1].strip()
        return KeySource("env", derive_key(passphrase, salt()), passphrase_warnings(passphrase))
    warnings = []
    if key_path.exists():
        mode = key_path.stat().st_mode & 0o777
        if mode & 0o077:
            warnings.append(f"{key_path} has mode {mode:o}; it should be 600")
        return KeySource("key_file", read_key_file(key_path), warnings)
    if not create:
        raise KeyUnavailable(f"no encryption key: {key_path} does not exist")
    key = _random.token_bytes(32)
    write_private(key_path, base64.b64encode(key) + b"\n")
    return KeySource("key_file", key, warnings)


class SecretBox:
    """A lazily resolved Cipher, so commands that need no key never touch it."""

    def __init__(self, key_path: Path, env: Mapping[str, str], salt: Callable[[], bytes]) -> None:
        self._key_path = key_path
        self._env = dict(env)
        self._salt = salt
        self._source: KeySource | None = None
        self._cipher: Cipher | None = None

    @property
    def source(self) -> KeySource:
        if self._source is None:
            self._source = resolve_key(self._key_path, self._env, self._salt)
        return self._source

    @property
    def cipher(self) -> Cipher:
        if self._cipher is None:
            self._cipher = Cipher(self.source.key)
        return self._cipher

    def encrypt(self, field: str, plaintext: str) -> str:
        return self.cipher.encrypt(field, plaintext)

    def decrypt(self, field: str, value: str) -> str:
        if not is_encrypted(value):
            return value
        return self.cipher.decrypt(field, value)
