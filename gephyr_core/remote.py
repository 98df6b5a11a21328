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
        self, base_url: str, admin_key: str | None = None, local_token: str | None = None,
        actor: str | None = None, timeout: float = 60.0,
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

        path = op.path
        query: dict[str, Any] = {}
        body: Any = None
        headers: dict[str, str] = {}
        for p in op.params:
            if p.name not in kwargs:
                continue
            value = kwargs[p.name]
            if p.source == "path":
                path = path.replace("{" + p.name + "}", quote(str(value), safe=""))
            elif p.source == "query":
                if value is not None:
                    query[p.name] = _text(value)
            elif p.source == "header":
                if value is not None:
                    headers[p.header] = _text(value)
            elif p.source == "whole_body":
                body = value
            else:
                body = body if isinstance(body, dict) else {}
                body[p.name] = value
        if body is None and op.method in {"POST", "PATCH", "PUT"}:
            body = {}
        if body is not None:
            headers["content-type"] = "application/json"
        try:
            resp = self._client.request(
                op.method, path, params=query, headers=headers,
                content=None if body is None else json.dumps(body),
            )
        except httpx.HTTPError as exc:
            raise ServerUnreachable(f"cannot reach {self.base_url}: {_reason(exc)}") from exc
        if resp.status_code == 204:
            return None
        try:
            data = resp.json() if resp.content else None
        except ValueError as exc:
            if resp.status_code >= 400:
                raise error_from_body(resp.status_code, None) from exc
            raise GephyrError(f"{self.base_url} answered with invalid JSON") from exc
        if resp.status_code >= 400:
            raise error_from_body(resp.status_code, data)
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
