"""Model mapping operations (routing.md §2, config.md §5): `routing.mapping` in config.toml."""

from __future__ import annotations

from typing import Any

import tomlkit
from tomlkit.toml_document import TOMLDocument

from gephyr_core.admin import audit as snap
from gephyr_core.admin.context import AdminContext
from gephyr_core.admin.registry import Audit, operation
from gephyr_core.config.values import runtime_apply
from gephyr_core.errors import BadRequest


@operation("mapping.list", "GET", "/api/proxy/mapping")
def list_mapping(ctx: AdminContext) -> dict[str, Any]:
    """The custom model mapping."""
    return {"custom_mapping": ctx.config.persisted()["routing"].get("mapping", {})}


def _check_target(key: Any, target: Any) -> None:
    if not isinstance(key, str) or not key.strip():
        raise BadRequest("mapping keys must be non-empty strings")
    if not isinstance(target, str | dict):
        raise BadRequest(f"mapping target for {key!r} must be a string or an object")


def _apply(
    doc: TOMLDocument, replace: dict[str, Any] | None, set_: dict[str, Any], remove: list[str]
) -> dict[str, list[str]]:
    routing = doc.setdefault("routing", tomlkit.table())
    if "mapping" not in routing:
        routing["mapping"] = tomlkit.table()
    table = routing["mapping"]
    before = dict(table.unwrap())
    if replace is not None:
        for key in list(table):
            del table[key]
        set_ = {**replace, **set_}
    for key, target in set_.items():
        table[key] = target
    for key in remove:
        if key in table:
            del table[key]
    after = table.unwrap()
    return {
        "added": sorted(k for k in after if k not in before),
        "removed": sorted(k for k in before if k not in after),
        "updated": sorted(k for k in after if k in before and before[k] != after[k]),
    }


@operation(
    "mapping.save",
    "POST",
    "/api/proxy/mapping",
    audit=Audit("config.update_mapping", snap.mapping_entries, snap.mapping_changes),
)
def save_mapping(
    ctx: AdminContext,
    custom_mapping: dict[str, Any] | None = None,
    set: dict[str, Any] | None = None,
    remove: list[str] | None = None,
    config: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Replace the mapping, or set and remove single keys."""
    if custom_mapping is None and isinstance(config, dict):
        custom_mapping = config.get("custom_mapping")
    if custom_mapping is None and set is None and remove is None:
        raise BadRequest("give custom_mapping, or set and/or remove")
    for key, target in {**(custom_mapping or {}), **(set or {})}.items():
        _check_target(key, target)
    changes: dict[str, list[str]] = {}

    def mutate(doc: TOMLDocument) -> None:
        changes.update(_apply(doc, custom_mapping, set or {}, remove or []))

    changed, _warnings = ctx.config.update(mutate)
    ctx.config_changed()
    mapping = ctx.config.persisted()["routing"].get("mapping", {})
    n = sum(len(v) for v in changes.values())
    return {
        "ok": True,
        "saved": True,
        "message": f"{n} mapping change(s)",
        "runtime_apply": runtime_apply(changed),
        "custom_mapping": mapping,
        "changes": changes,
    }
