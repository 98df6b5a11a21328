"""The admin operations over HTTP, for a running server (derived from the declarations)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from gephyr_core.admin.registry import Operation
from gephyr_core.errors import GephyrError, ServerUnreachable, error_from_body


class RemoteClient:
    """Calls operations on `base_url` with the admin credential or the local token."""

    def __init__(
        self,
        base_url: str,
        admin_key: str | None = None,
        local_token: str | None = None,
        actor: str | None = None,
        timeout: float = 60.0,
    ) -> None:
        import httpx

        headers = {"accept": "application/json"}
        if admin_key:
            headers["authorization"] = f"Bearer {admin_key}"
        if local_token:
            headers["x-gephyr-local-token"] = local_token
            if actor:
                headers["x-gephyr-actor"] = actor
        self.base_url = base_url.rstrip("/")
        self._client = httpx.Client(base_url=self.base_url, headers=headers, timeout=timeout)

    def close(self) -> None:
        self._client.close()

    def call(self, op: Operation, kwargs: Mapping[str, Any]) -> Any:
        """Invoke one operation remotely and return its JSON result (typed errors on failure)."""
        import httpx

        path, query, body, headers = encode_request(op, kwargs)
        if body is not None:
            headers["content-type"] = "application/json"
        try:
            resp = self._client.request(
                op.method,
                path,
                params=query,
                headers=headers,
                content=None if body is None else json.dumps(body),
            )
        except httpx.HTTPError as exc:
            raise ServerUnreachable(f"cannot reach {self.base_url}: {_reason(exc)}") from exc
        return decode_response(resp.status_code, resp.content, self.base_url)


def encode_request(
    op: Operation, kwargs: Mapping[str, Any]
) -> tuple[str, dict[str, str], Any, dict[str, str]]:
    """(path, query, JSON body or None, headers) for one call, from the declaration."""
    path = op.path
    query: dict[str, str] = {}
    headers: dict[str, str] = {}
    body: Any = {} if op.method in {"POST", "PATCH", "PUT"} else None
    for p in op.params:
        value = kwargs.get(p.name)
        if p.name not in kwargs or (value is None and p.source in {"query", "header"}):
            continue
        if p.source == "path":
            path = path.replace("{" + p.name + "}", quote(str(value), safe=""))
        elif p.source == "query":
            query[p.name] = _text(value)
        elif p.source == "header":
            headers[p.header] = _text(value)
        elif p.source == "whole_body":
            body = value
        else:
            body[p.name] = value
    return path, query, body, headers


def decode_response(status: int, content: bytes, base_url: str) -> Any:
    """The JSON result of a response, or the typed error it carries."""
    if status == 204:
        return None
    try:
        data = json.loads(content) if content else None
    except ValueError as exc:
        if status >= 400:
            raise error_from_body(status, None) from exc
        raise GephyrError(f"{base_url} answered with invalid JSON") from exc
    if status >= 400:
        raise error_from_body(status, data)
    return data


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ",".join(str(v) for v in value)
    return str(value)


def _reason(exc: Exception) -> str:
    text = str(exc) or type(exc).__name__
    return text.splitlines()[0]
