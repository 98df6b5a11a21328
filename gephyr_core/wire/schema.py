"""Tool and response schemas: root normalisation and Gemini cleaning (protocols.md §4.2).

Cleaning walks only schema positions (`properties` values, `items`, `anyOf`, ...), so a
property *named* `format`, `title` or `default` is data and survives, and argument values
never pass through here.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from gephyr_core.wire.jsonx import dumps

Schema = dict[str, Any]

_MAP_KEYS = ("properties", "$defs", "definitions", "patternProperties")
_LIST_KEYS = ("anyOf", "oneOf", "allOf", "prefixItems")
_ONE_KEYS = ("additionalProperties", "not", "if", "then", "else", "propertyNames", "contains")
_LIGHT_KEEP = frozenset(
    "$id $defs $ref $anchor type format title description enum items prefixItems minItems "
    "maxItems minimum maximum anyOf oneOf properties additionalProperties required "
    "propertyOrdering".split()
)
_HINTS = (
    "pattern",
    "minLength",
    "maxLength",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "multipleOf",
    "uniqueItems",
    "default",
    "examples",
)
_FULL_DROP = ("$defs", "$id", "$anchor", "additionalProperties", "prefixItems", "title")


def object_root(schema: object) -> Schema:
    """A tool's parameters: absent → empty object schema; a root without `type` gets object."""
    if not isinstance(schema, dict) or not schema:
        return {"type": "object", "properties": {}}
    if "type" not in schema:
        return {"type": "object", **schema}
    return dict(schema)


def _map_children(node: Schema, fn: Callable[[Any], Any]) -> Schema:
    out = dict(node)
    for key in _MAP_KEYS:
        if isinstance(out.get(key), dict):
            out[key] = {k: fn(v) for k, v in out[key].items()}
    for key in _LIST_KEYS:
        if isinstance(out.get(key), list):
            out[key] = [fn(v) for v in out[key]]
    if isinstance(out.get("items"), list):
        out["items"] = [fn(v) for v in out["items"]]
    elif isinstance(out.get("items"), dict):
        out["items"] = fn(out["items"])
    for key in _ONE_KEYS:
        if isinstance(out.get(key), dict):
            out[key] = fn(out[key])
    return out


def openapi_to_json_schema(schema: object) -> Any:
    """Gemini OpenAPI subset → JSON Schema: lower-case types, `nullable` → anyOf null."""
    if not isinstance(schema, dict):
        return schema
    node = _map_children(schema, openapi_to_json_schema)
    node.pop("propertyOrdering", None)
    if isinstance(node.get("type"), str):
        node["type"] = node["type"].lower()
    if node.pop("nullable", False) is True:
        desc = node.pop("description", None)
        wrapped: Schema = {"anyOf": [node, {"type": "null"}]}
        if desc is not None:
            wrapped["description"] = desc
        return wrapped
    return node


def _hint(node: Schema, key: str) -> None:
    value = node.pop(key)
    text = value if isinstance(value, str) else dumps(value)
    desc = node.get("description")
    hint = f"({key}: {text})"
    node["description"] = f"{desc} {hint}" if isinstance(desc, str) and desc else hint


def _merge_all_of(node: Schema) -> Schema:
    parts = node.pop("allOf")
    if not all(isinstance(p, dict) for p in parts):
        return node
    merged: Schema = {}
    props: Schema = {}
    required: list[Any] = []
    for part in [node, *parts]:
        for key, value in part.items():
            if key == "properties" and isinstance(value, dict):
                props.update(value)
            elif key == "required" and isinstance(value, list):
                required += [r for r in value if r not in required]
            else:
                merged.setdefault(key, value)
    if props:
        merged["properties"] = props
    if required:
        merged["required"] = required
    return merged


def _light_node(node: Any) -> Any:
    if not isinstance(node, dict):
        return node
    node = dict(node)
    if "allOf" in node and isinstance(node["allOf"], list):
        node = _merge_all_of(node)
    if isinstance(node.get("definitions"), dict):
        defs = node.pop("definitions")
        node["$defs"] = {**defs, **(node.get("$defs") or {})}
    if isinstance(node.get("$ref"), str):
        node["$ref"] = node["$ref"].replace("#/definitions/", "#/$defs/")
        node = {k: v for k, v in node.items() if k.startswith("$")}
    if "const" in node:
        node["enum"] = [node.pop("const")]
    for key in _HINTS:
        if key in node:
            _hint(node, key)
    node = {k: v for k, v in node.items() if k in _LIGHT_KEEP}
    return _map_children(node, _light_node)


def light_clean(schema: object) -> Schema:
    """Gemini's documented JSON Schema subset, for `parametersJsonSchema`/`responseJsonSchema`."""
    out = _light_node(copy.deepcopy(object_root(schema)))
    return out if isinstance(out, dict) else {"type": "object"}


def _inline_refs(node: Any, defs: Schema, depth: int, seen: tuple[str, ...]) -> Any:
    if not isinstance(node, dict):
        return node
    ref = node.get("$ref")
    if isinstance(ref, str):
        name = ref.rsplit("/", 1)[-1]
        target = defs.get(name) if ref.startswith("#/$defs/") else None
        if target is None or depth >= 8 or name in seen:
            return {"type": "object", "description": f"(recursive or unresolved reference {ref})"}
        merged = {**target, **{k: v for k, v in node.items() if k != "$ref"}}
        return _inline_refs(merged, defs, depth + 1, (*seen, name))
    return _map_children(node, lambda v: _inline_refs(v, defs, depth, seen))


def _strip_null(node: Schema) -> Schema:
    kind = node.get("type")
    if isinstance(kind, list):
        others = [t for t in kind if t != "null"]
        if len(others) < len(kind):
            node["nullable"] = True
        node["type"] = others[0] if len(others) == 1 else (others or ["string"])[0]
    options = node.get("anyOf")
    if isinstance(options, list):
        non_null = [o for o in options if not (isinstance(o, dict) and o.get("type") == "null")]
        if len(non_null) < len(options):
            if len(non_null) == 1 and isinstance(non_null[0], dict):
                node.pop("anyOf")
                for key, value in non_null[0].items():
                    node.setdefault(key, value)
            else:
                node["anyOf"] = non_null
            node["nullable"] = True
    return node


def _enum_and_format(node: Schema) -> None:
    """`enum` only on strings (values stringified); `format` only `enum` and `date-time`."""
    if "enum" in node:
        values = [v if isinstance(v, str) else dumps(v) for v in node["enum"] or []]
        values = [v for v in values if v != ""]
        if values:
            node["enum"], node["type"] = values, "string"
        else:
            node.pop("enum")
    if "format" in node:
        if not (node.get("type") == "string" and node["format"] in ("enum", "date-time")):
            node.pop("format")


def _full_node(node: Any) -> Any:
    if not isinstance(node, dict):
        return node
    node = dict(node)
    for key in _FULL_DROP:
        node.pop(key, None)
    if "oneOf" in node:
        node["anyOf"] = node.pop("oneOf")
    node = _strip_null(node)
    _enum_and_format(node)
    props = node.get("properties")
    if isinstance(props, dict) and not props:
        node.pop("properties")
        props = None
    if isinstance(node.get("required"), list):
        names = props if isinstance(props, dict) else {}
        required = [r for r in node["required"] if r in names]
        if required:
            node["required"] = required
        else:
            node.pop("required")
    node = _map_children(node, _full_node)
    if isinstance(node.get("type"), str):
        node["type"] = node["type"].upper()
    return node


def full_clean(schema: object) -> Schema:
    """Gemini OpenAPI subset, for `parameters`/`responseSchema`: light clean, refs inlined, ..."""
    light = light_clean(schema)
    defs = light.get("$defs") if isinstance(light.get("$defs"), dict) else {}
    inlined = _inline_refs(light, defs or {}, 0, ())
    out = _full_node(inlined)
    return out if isinstance(out, dict) else {"type": "OBJECT"}


def has_properties(schema: Schema) -> bool:
    """False for a no-argument object schema (Gemini rejects an empty OBJECT `properties`)."""
    props = schema.get("properties")
    return bool(props) or any(k in schema for k in ("anyOf", "oneOf", "$ref", "items"))
