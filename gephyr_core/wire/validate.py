"""Small typed readers over client JSON that raise `WireError` naming the field."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gephyr_core.wire.errors import invalid


def obj(value: object, field: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise invalid(f"{field}: expected an object", field)
    return value


def req_str(body: Mapping[str, Any], key: str, field: str | None = None) -> str:
    value = body.get(key)
    if not isinstance(value, str) or not value:
        raise invalid(f"{field or key}: a non-empty string is required", field or key)
    return value


def opt_str(body: Mapping[str, Any], key: str) -> str | None:
    value = body.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise invalid(f"{key}: expected a string", key)
    return value


def opt_int(body: Mapping[str, Any], key: str) -> int | None:
    value = body.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or int(value) != value:
        raise invalid(f"{key}: expected an integer", key)
    return int(value)


def opt_float(body: Mapping[str, Any], key: str) -> float | None:
    value = body.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise invalid(f"{key}: expected a number", key)
    return float(value)


def opt_bool(body: Mapping[str, Any], key: str) -> bool | None:
    value = body.get(key)
    if value is None:
        return None
    if not isinstance(value, bool):
        raise invalid(f"{key}: expected a boolean", key)
    return value


def lst(value: object, field: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise invalid(f"{field}: expected an array", field)
    return value


def stop_list(value: object, field: str = "stop") -> tuple[str, ...]:
    """A stop string or list of strings."""
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and all(isinstance(s, str) for s in value):
        return tuple(value)
    raise invalid(f"{field}: expected a string or an array of strings", field)


def str_field(body: Mapping[str, Any], key: str = "description") -> str:
    """An optional free-text field; anything but a string reads as empty."""
    value = body.get(key)
    return value if isinstance(value, str) else ""
