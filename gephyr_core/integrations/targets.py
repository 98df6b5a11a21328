"""The four client tools: their files and exactly which keys sync writes (integrations.md §1.1).

Each file has three rules over its parsed document: `write` (sync), `remove` (restore
without a backup; returns whether anything was removed) and `base_url` (status).
`Target.synced` decides whether the tool points at a given relay URL.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from gephyr_core.errors import BadRequest
from gephyr_core.integrations.formats import env_get, env_remove, env_set


@dataclass(frozen=True)
class Link:
    """Where sync points a tool: the relay URL (no trailing `/`) and the key to present."""

    url: str
    key: str


@dataclass(frozen=True)
class FileRule:
    """One file of a target, relative to the home directory."""

    relpath: str
    kind: str  # json | toml | env
    write: Callable[[Any, Link], None]
    remove: Callable[[Any], bool]
    base_url: Callable[[Any], str | None]

    @property
    def name(self) -> str:
        return self.relpath.rsplit("/", 1)[-1]


@dataclass(frozen=True)
class Target:
    """A client tool Gephyr can point at the relay."""

    cli_name: str
    app_type: str
    executable: str
    files: tuple[FileRule, ...]
    synced: Callable[[Mapping[str, Any], str], bool]  # parsed documents by name, relay URL


def _table(doc: Any, key: str) -> Any:
    """A nested object (created when missing); a non-object value in the way is refused."""
    value = doc.get(key)
    if value is None:
        doc[key] = {}
        return doc[key]
    if not hasattr(value, "items"):
        raise BadRequest(f"cannot sync: {key!r} is not an object in the tool's file")
    return value


def _pop(doc: Any, *keys: str) -> bool:
    found = False
    for key in keys:
        if key in doc:
            del doc[key]
            found = True
    return found


def _get(doc: Any, *path: str) -> Any:
    for key in path:
        if not hasattr(doc, "get"):
            return None
        doc = doc.get(key)
    return doc


def same_url(a: Any, b: str) -> bool:
    """URLs equal, trailing `/` ignored."""
    return isinstance(a, str) and a.rstrip("/") == b.rstrip("/")


# -- Claude Code ------------------------------------------------------------------------------
_CLAUDE_DROPPED = (
    "ANTHROPIC_AUTH_TOKEN",
    "ANTHROPIC_MODEL",
    "ANTHROPIC_DEFAULT_HAIKU_MODEL",
    "ANTHROPIC_DEFAULT_OPUS_MODEL",
    "ANTHROPIC_DEFAULT_SONNET_MODEL",
)


def _claude_write(doc: Any, link: Link) -> None:
    env = _table(doc, "env")
    env["ANTHROPIC_BASE_URL"] = link.url
    if link.key:
        env["ANTHROPIC_API_KEY"] = link.key
    else:
        env.pop("ANTHROPIC_API_KEY", None)
    _pop(env, *_CLAUDE_DROPPED)


def _claude_remove(doc: Any) -> bool:
    env = doc.get("env")
    if not isinstance(env, dict):
        return False
    removed = _pop(env, "ANTHROPIC_BASE_URL", "ANTHROPIC_API_KEY")
    if not env:
        del doc["env"]
    return removed


def _claude_base(doc: Any) -> str | None:
    base = _get(doc, "env", "ANTHROPIC_BASE_URL")
    return base if isinstance(base, str) else None


def _onboarded(doc: Any, link: Link) -> None:
    doc["hasCompletedOnboarding"] = True


def _claude_synced(docs: Mapping[str, Any], url: str) -> bool:
    base = _get(docs.get("settings.json"), "env", "ANTHROPIC_BASE_URL")
    return same_url(base, url) and _get(docs.get(".claude.json"), "hasCompletedOnboarding") is True


# -- Codex ------------------------------------------------------------------------------------
def _codex_write(doc: Any, link: Link) -> None:
    import tomlkit

    doc["model_provider"] = "gephyr"
    providers = doc.get("model_providers")
    if providers is None:
        providers = tomlkit.table(is_super_table=True)
        doc["model_providers"] = providers
    table = tomlkit.table()
    table.update({"name": "Gephyr", "base_url": f"{link.url}/v1", "wire_api": "responses"})
    table["requires_openai_auth"] = True
    providers["gephyr"] = table


def _codex_remove(doc: Any) -> bool:
    removed = False
    providers = doc.get("model_providers")
    if providers is not None and "gephyr" in providers:
        del providers["gephyr"]
        removed = True
        if not providers:
            del doc["model_providers"]
    if doc.get("model_provider") == "gephyr":
        del doc["model_provider"]
        removed = True
    return removed


def _codex_base(doc: Any) -> str | None:
    name = doc.get("model_provider")
    base = _get(doc, "model_providers", str(name), "base_url") if name else None
    return str(base) if base else None


def _codex_auth_write(doc: Any, link: Link) -> None:
    if link.key:
        doc["OPENAI_API_KEY"] = link.key
    else:
        doc.pop("OPENAI_API_KEY", None)


def _codex_auth_remove(doc: Any) -> bool:
    return _pop(doc, "OPENAI_API_KEY")


def _codex_synced(docs: Mapping[str, Any], url: str) -> bool:
    config = docs.get("config.toml")
    if config is None or config.get("model_provider") != "gephyr":
        return False
    return same_url(_codex_base(config), f"{url}/v1")


# -- Gemini CLI -------------------------------------------------------------------------------
def _gemini_env_write(lines: list[str], link: Link) -> None:
    env_set(lines, "GOOGLE_GEMINI_BASE_URL", link.url)
    env_set(lines, "GEMINI_API_KEY", link.key)


def _gemini_env_remove(lines: list[str]) -> bool:
    a = env_remove(lines, "GOOGLE_GEMINI_BASE_URL")
    b = env_remove(lines, "GEMINI_API_KEY")
    return a or b


def _gemini_base(lines: list[str]) -> str | None:
    return env_get(lines, "GOOGLE_GEMINI_BASE_URL")


def _gemini_settings_write(doc: Any, link: Link) -> None:
    _table(_table(doc, "security"), "auth")["selectedType"] = "gemini-api-key"


def _gemini_synced(docs: Mapping[str, Any], url: str) -> bool:
    lines = docs.get(".env")
    return lines is not None and same_url(env_get(lines, "GOOGLE_GEMINI_BASE_URL"), url)


# -- OpenCode ---------------------------------------------------------------------------------
_OPENCODE_PATHS = {"anthropic": "/v1", "openai": "/v1", "google": "/v1beta"}
OPENCODE_SCHEMA = "https://opencode.ai/config.json"


def _opencode_write(doc: Any, link: Link) -> None:
    doc.setdefault("$schema", OPENCODE_SCHEMA)
    providers = _table(doc, "provider")
    for name, suffix in _OPENCODE_PATHS.items():
        _table(providers, name)["options"] = {"baseURL": f"{link.url}{suffix}", "apiKey": link.key}


def _opencode_remove(doc: Any) -> bool:
    providers = doc.get("provider")
    if not isinstance(providers, dict):
        return False
    removed = False
    for name in _OPENCODE_PATHS:
        entry = providers.get(name)
        if isinstance(entry, dict) and _pop(entry, "options"):
            removed = True
            if not entry:
                del providers[name]
    if not providers:
        del doc["provider"]
    if removed and list(doc) == ["$schema"] and doc["$schema"] == OPENCODE_SCHEMA:
        del doc["$schema"]  # only what sync added is left
    return removed


def _opencode_base(doc: Any) -> str | None:
    for name in _OPENCODE_PATHS:
        base = _get(doc, "provider", name, "options", "baseURL")
        if isinstance(base, str):
            return base
    return None


def _opencode_synced(docs: Mapping[str, Any], url: str) -> bool:
    doc = docs.get("opencode.json")
    for name, suffix in _OPENCODE_PATHS.items():
        options = _get(doc, "provider", name, "options")
        if not hasattr(options, "get") or not options.get("apiKey"):
            return False
        if not same_url(options.get("baseURL"), f"{url}{suffix}"):
            return False
    return True


def _keep(doc: Any) -> bool:
    return False


def _none(doc: Any) -> str | None:
    return None


TARGETS = (
    Target(
        "claude-code",
        "Claude",
        "claude",
        (
            FileRule(".claude/settings.json", "json", _claude_write, _claude_remove, _claude_base),
            FileRule(".claude.json", "json", _onboarded, _keep, _none),
        ),
        _claude_synced,
    ),
    Target(
        "codex",
        "Codex",
        "codex",
        (
            FileRule(".codex/config.toml", "toml", _codex_write, _codex_remove, _codex_base),
            FileRule(".codex/auth.json", "json", _codex_auth_write, _codex_auth_remove, _none),
        ),
        _codex_synced,
    ),
    Target(
        "gemini-cli",
        "Gemini",
        "gemini",
        (
            FileRule(".gemini/.env", "env", _gemini_env_write, _gemini_env_remove, _gemini_base),
            FileRule(".gemini/settings.json", "json", _gemini_settings_write, _keep, _none),
        ),
        _gemini_synced,
    ),
    Target(
        "opencode",
        "OpenCode",
        "opencode",
        (
            FileRule(
                ".config/opencode/opencode.json", "json", _opencode_write, _opencode_remove, _opencode_base
            ),
        ),
        _opencode_synced,
    ),
)


def find_target(app_type: str) -> Target:
    """A target by `appType` (Claude, Codex, Gemini, OpenCode) or CLI name, any case; else 400."""
    wanted = app_type.strip().lower()
    for target in TARGETS:
        if wanted in (target.app_type.lower(), target.cli_name):
            return target
    names = ", ".join(t.cli_name for t in TARGETS)
    raise BadRequest(f"unknown appType {app_type!r}; use one of {names}")
