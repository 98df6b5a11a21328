"""Tool schema normalisation and Gemini cleaning (protocols.md §4.2; invariant 10)."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from gephyr_core.wire.schema import (
    full_clean,
    has_properties,
    light_clean,
    object_root,
    openapi_to_json_schema,
)

CLAUDE_CODE_TOOL: dict[str, Any] = {
    "$schema": "http://json-schema.org/draft-07/schema#",
    "type": "object",
    "additionalProperties": False,
    "propertyNames": {"pattern": "^[a-z]+$"},
    "properties": {
        "format": {"type": "string", "description": "output format", "format": "uri"},
        "title": {"type": "string", "default": "x"},
        "default": {"const": "only"},
        "count": {"type": "integer", "exclusiveMinimum": 0},
        "mode": {"anyOf": [{"type": "string", "pattern": "^a"}, {"type": "null"}]},
    },
    "required": ["format", "missing"],
}


def test_object_root() -> None:
    assert object_root(None) == {"type": "object", "properties": {}}
    assert object_root({}) == {"type": "object", "properties": {}}
    assert object_root({"properties": {"a": {}}}) == {"type": "object", "properties": {"a": {}}}


def test_light_clean_claude_code_tool() -> None:
    assert light_clean(CLAUDE_CODE_TOOL) == {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "format": {"type": "string", "description": "output format", "format": "uri"},
            "title": {"type": "string", "description": "(default: x)"},
            "default": {"enum": ["only"]},
            "count": {"type": "integer", "description": "(exclusiveMinimum: 0)"},
            "mode": {
                "anyOf": [{"type": "string", "description": "(pattern: ^a)"}, {"type": "null"}]
            },
        },
        "required": ["format", "missing"],
    }


def test_full_clean_claude_code_tool() -> None:
    assert full_clean(CLAUDE_CODE_TOOL) == {
        "type": "OBJECT",
        "properties": {
            "format": {"type": "STRING", "description": "output format"},
            "title": {"type": "STRING", "description": "(default: x)"},
            "default": {"enum": ["only"], "type": "STRING"},
            "count": {"type": "INTEGER", "description": "(exclusiveMinimum: 0)"},
            "mode": {"type": "STRING", "description": "(pattern: ^a)", "nullable": True},
        },
        "required": ["format"],
    }


def test_light_clean_definitions_and_refs_and_all_of() -> None:
    schema = {
        "type": "object",
        "definitions": {"Item": {"type": "string", "x-extra": 1}},
        "properties": {"item": {"$ref": "#/definitions/Item", "description": "dropped"}},
        "allOf": [{"properties": {"b": {"type": "number"}}, "required": ["b"]}],
    }
    assert light_clean(schema) == {
        "type": "object",
        "$defs": {"Item": {"type": "string"}},
        "properties": {"item": {"$ref": "#/$defs/Item"}, "b": {"type": "number"}},
        "required": ["b"],
    }


def test_full_clean_inlines_refs_and_stops_cycles() -> None:
    schema = {
        "type": "object",
        "$defs": {
            "Node": {"type": "object", "properties": {"next": {"$ref": "#/$defs/Node"}}},
            "Leaf": {"type": "integer", "enum": [1, 2]},
        },
        "properties": {"node": {"$ref": "#/$defs/Node"}, "leaf": {"$ref": "#/$defs/Leaf"}},
    }
    cleaned = full_clean(schema)
    assert cleaned["properties"]["leaf"] == {"type": "STRING", "enum": ["1", "2"]}
    nxt = cleaned["properties"]["node"]["properties"]["next"]
    assert nxt["type"] == "OBJECT" and "recursive" in nxt["description"]
    assert "$defs" not in cleaned


def test_full_clean_type_arrays_and_formats() -> None:
    schema = {
        "type": "object",
        "properties": {
            "when": {"type": ["string", "null"], "format": "date-time"},
            "mail": {"type": "string", "format": "email"},
            "items": {
                "type": "array",
                "items": {"oneOf": [{"type": "string"}, {"type": "integer"}]},
            },
        },
        "required": [],
    }
    assert full_clean(schema) == {
        "type": "OBJECT",
        "properties": {
            "when": {"type": "STRING", "format": "date-time", "nullable": True},
            "mail": {"type": "STRING"},
            "items": {
                "type": "ARRAY",
                "items": {"anyOf": [{"type": "STRING"}, {"type": "INTEGER"}]},
            },
        },
    }


def test_openapi_to_json_schema() -> None:
    schema = {
        "type": "OBJECT",
        "propertyOrdering": ["a"],
        "properties": {"a": {"type": "STRING", "nullable": True, "description": "d"}},
    }
    assert openapi_to_json_schema(schema) == {
        "type": "object",
        "properties": {"a": {"anyOf": [{"type": "string"}, {"type": "null"}], "description": "d"}},
    }


def test_has_properties() -> None:
    assert not has_properties(light_clean(None))
    assert has_properties(light_clean({"type": "object", "properties": {"a": {"type": "string"}}}))


KEYWORDS = ["format", "title", "default", "pattern", "type", "enum", "const", "$ref", "items"]
names = st.one_of(st.sampled_from(KEYWORDS), st.text(min_size=1, max_size=8))
leaf = st.fixed_dictionaries({"type": st.sampled_from(["string", "integer", "boolean"])})


@given(st.dictionaries(names, leaf, min_size=1, max_size=6))
def test_invariant_10_property_names_survive_cleaning(props: dict[str, Any]) -> None:
    """Cleaning touches only schema objects: properties named like keywords are data."""
    schema = {"type": "object", "properties": props, "required": list(props)}
    light, full = light_clean(schema), full_clean(schema)
    assert set(light["properties"]) == set(props)
    assert set(full["properties"]) == set(props)
    assert full["required"] == list(props)
    assert schema == {"type": "object", "properties": props, "required": list(props)}
