"""Route resolution (routing.md §2–3): client model → upstream model and candidate accounts."""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from gephyr_core.accounts.view import routable
from gephyr_core.globs import matches_any

PROVIDERS = ("openai", "anthropic", "gemini")
_INFER = (
    (re.compile(r"^(gpt-|o1|o3|o4|chatgpt-)", re.I), "openai"),
    (re.compile(r"^claude-", re.I), "anthropic"),
    (re.compile(r"^gemini-", re.I), "gemini"),
)
_DATE_SUFFIX = re.compile(r"(-\d{8}|-\d{4}-\d{2}-\d{2}|-latest|(?<=-preview)-\d{2}-\d{2})$")


class RouteError(Exception):
    """No route: `model_not_found` (404) or `no_account_available` (503), or a bad model (400)."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message


TRACE_CANDIDATES = 32


@dataclass(frozen=True)
class Route:
    """Where a client model goes."""

    client_model: str
    upstream_model: str
    provider: str | None
    matched_rule: str
    candidates: tuple[dict[str, Any], ...] = field(default=())

    @functools.cached_property
    def routable(self) -> list[dict[str, Any]]:
        """Candidates that may take traffic now (computed once per route)."""
        return [a for a in self.candidates if routable(a)]

    @functools.cached_property
    def providers(self) -> frozenset[str]:
        """Providers of the routable candidates (so a request never scans the accounts)."""
        return frozenset(a["provider"] for a in self.routable)

    @functools.cached_property
    def by_provider(self) -> dict[str, list[dict[str, Any]]]:
        """The routable candidates grouped by provider, in candidate order."""
        groups: dict[str, list[dict[str, Any]]] = {}
        for acc in self.routable:
            groups.setdefault(acc["provider"], []).append(acc)
        return groups

    @functools.cached_property
    def trace_ids(self) -> list[str]:
        """The candidate ids a decision trace names: the first TRACE_CANDIDATES of them."""
        return [a["id"] for a in self.candidates[:TRACE_CANDIDATES]]


def clean_model(model: Any) -> str:
    """Trim and drop a leading `models/`; empty or non-string → 400."""
    if not isinstance(model, str) or not model.strip():
        raise RouteError("invalid_request", "model is required")
    text = model.strip()
    return text.removeprefix("models/").strip()


def normalise_model(model: str) -> str:
    """Bucket id: lower-case, no `provider:`/`models/` prefix, date and `-latest` suffixes removed."""
    text = model.strip().lower().removeprefix("models/")
    head, sep, rest = text.partition(":")
    if sep and head in PROVIDERS:
        text = rest
    while True:
        stripped = _DATE_SUFFIX.sub("", text)
        if stripped == text:
            return text
        text = stripped


def _wildcard(key: str) -> re.Pattern[str]:
    return re.compile(".*".join(re.escape(part) for part in key.split("*")), re.DOTALL)


def match_mapping(mapping: Mapping[str, Any], model: str) -> tuple[str, Any] | None:
    """(rule, target): exact key first, then the most specific wildcard key."""
    if model in mapping:
        return f"exact:{model}", mapping[model]
    wild = [k for k in mapping if "*" in k and _wildcard(k).fullmatch(model)]
    if not wild:
        return None
    best = min(wild, key=lambda k: (-(len(k) - k.count("*")), k))
    return f"wildcard:{best}", mapping[best]


def parse_target(target: Any, client_model: str) -> tuple[str, str | None, list[str] | None]:
    """(upstream model, provider or None, account refs or None) of a mapping target."""
    if isinstance(target, str):
        head, sep, rest = target.partition(":")
        if sep and head in PROVIDERS:
            return rest.strip() or client_model, head, None
        return target.strip() or client_model, None, None
    if isinstance(target, Mapping):
        model = str(target.get("model") or "").strip() or client_model
        provider = target.get("provider") or None
        accounts = target.get("accounts")
        return model, provider, list(accounts) if isinstance(accounts, list) else None
    return client_model, None, None


def infer_provider(model: str) -> str | None:
    """Provider inferred from the model name."""
    for pattern, provider in _INFER:
        if pattern.match(model):
            return provider
    return None


def serves(account: Mapping[str, Any], model: str, defaults: Mapping[str, Sequence[str]]) -> bool:
    """True when the account's model globs (or its provider's defaults) match the model."""
    patterns = list(account.get("models") or defaults.get(account["provider"], ()))
    return matches_any(patterns, model)


def resolve(
    mapping: Mapping[str, Any],
    accounts: Sequence[dict[str, Any]],
    model: Any,
    defaults: Mapping[str, Sequence[str]],
) -> Route:
    """Resolve a client model to a Route with its candidate accounts (may be empty)."""
    client = clean_model(model)
    found = match_mapping(mapping, client)
    rule, target = found if found else ("any", client)
    upstream, provider, refs = parse_target(target, client)
    if refs is not None:
        wanted = {str(r).lower() for r in refs}
        cands = [a for a in accounts if a["id"] in wanted or (a.get("label") or "").lower() in wanted]
        return Route(client, upstream, provider, "accounts" if not found else rule, tuple(cands))
    if provider is not None:
        cands = [a for a in accounts if a["provider"] == provider and serves(a, upstream, defaults)]
        return Route(client, upstream, provider, rule, tuple(cands))
    inferred = infer_provider(upstream)
    if inferred is not None:
        cands = [a for a in accounts if a["provider"] == inferred and serves(a, upstream, defaults)]
        if cands:
            return Route(client, upstream, inferred, rule if found else f"inferred:{inferred}", tuple(cands))
    cands = [a for a in accounts if serves(a, upstream, defaults)]
    return Route(client, upstream, None, rule, tuple(cands))


def request_type(upstream_model: str, tools: Any) -> str:
    """`image_gen`, `web_search` or `agent` (routing.md §3)."""
    low = upstream_model.lower()
    if "image" in low or low.startswith(("dall-e", "imagen")):
        return "image_gen"
    names = {
        "web_search",
        "web_search_preview",
        "web_search_20250305",
        "google_search",
        "google_search_retrieval",
    }
    for tool in tools if isinstance(tools, list) else []:
        if not isinstance(tool, dict):
            continue
        if tool.get("type") in names or tool.get("name") in names or any(k in names for k in tool):
            return "web_search"
        fn = tool.get("function")
        if isinstance(fn, dict) and fn.get("name") in names:
            return "web_search"
        for decl in tool.get("functionDeclarations") or tool.get("function_declarations") or []:
            if isinstance(decl, dict) and decl.get("name") in names:
                return "web_search"
    return "agent"
