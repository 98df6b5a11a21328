"""Human rendering of accounts (JSON output bypasses this)."""

from __future__ import annotations

from typing import Any

from gephyr_cli.output import Output


def state_of(acc: dict[str, Any]) -> str:
    if acc["disabled"]:
        return f"disabled ({acc.get('disabled_reason') or ''})".replace(" ()", "")
    if acc["forbidden"]:
        return "forbidden"
    if acc["validation_blocked"]:
        return "validation-blocked"
    if acc["proxy_disabled"]:
        return "proxy-disabled"
    return "ok"


def account_table(out: Output, accounts: list[dict[str, Any]]) -> None:
    if not accounts:
        out.console.print("No accounts. Add one: gephyr accounts add --provider openai --api-key sk-…")
        return
    rows = [
        (
            "*" if a["is_current"] else "",
            a["id"][:8],
            a["provider"],
            a["label"],
            a.get("email") or "",
            a.get("credential_hint") or "",
            ",".join(a["models"]) or "(default)",
            state_of(a),
        )
        for a in accounts
    ]
    out.table(["", "id", "provider", "label", "email", "key", "models", "state"], rows)


def account_detail(out: Output, acc: dict[str, Any] | None) -> None:
    if acc is None:
        out.console.print("No current account.")
        return
    keys = (
        "id",
        "provider",
        "label",
        "email",
        "base_url",
        "credential_kind",
        "credential_hint",
        "models",
        "discovered_models",
        "probe_model",
        "priority",
        "is_current",
    )
    items = [(k, acc.get(k)) for k in keys] + [("state", state_of(acc))]
    quota = acc.get("quota") or {}
    if quota.get("models"):
        items.append(("quota", "; ".join(_quota_line(m) for m in quota["models"])))
    if acc.get("warnings"):
        items.append(("warnings", acc["warnings"]))
    out.pairs(items)


def _quota_line(m: dict[str, Any]) -> str:
    left = "?" if m.get("percentage") is None else f"{m['percentage']}%"
    used = f", {m['request_count']} request(s) since the snapshot" if "request_count" in m else ""
    return f"{m['name']}: {left} left{used}"
