"""Explicit verification of one account: the quota probe (accounts.md §9.3) and list-models checks.

Both calls go out with the account's credential and header profile, like relay traffic.
`Verifier` applies the outcomes to the store (forbidden, `invalid_api_key`, cleared flags,
snapshots with quota protection) and refreshes OAuth tokens through the shared refresher.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from gephyr_core.accounts import quota
from gephyr_core.config import Settings
from gephyr_core.errors import BadRequest, CredentialInvalid, NotFound, UpstreamError, UpstreamUnreachable
from gephyr_core.oauth.tokens import TokenRefresher
from gephyr_core.pool.egress import EgressHttp, Send
from gephyr_core.providers import list_models_url
from gephyr_core.relay.routes import normalise_model
from gephyr_core.relay.upstream import Credential, endpoint, outbound_headers
from gephyr_core.secrets import SecretBox
from gephyr_core.store import Store
from gephyr_core.store import accounts as table
from gephyr_core.store import quota as qstore
from gephyr_core.store.profiles import current_headers

PROBE_RETRIES = 2


@dataclass
class Response:
    """An upstream answer: status, lower-case headers and body."""

    status: int
    headers: dict[str, str]
    body: bytes


def probe_body(provider: str, model: str) -> dict[str, Any]:
    """One user message "ping", output capped at 1 token, non-streaming."""
    if provider == "gemini":
        return {
            "contents": [{"role": "user", "parts": [{"text": "ping"}]}],
            "generationConfig": {"maxOutputTokens": 1},
        }
    messages = [{"role": "user", "content": "ping"}]
    return {"model": model, "max_tokens": 1, "stream": False, "messages": messages}


def send(
    method: str, url: str, headers: dict[str, str], timeout: float, body: Any = None, via: Send | None = None
) -> Response:
    """One HTTP call on the account's egress route `via`; transport failures → `upstream_unreachable`."""
    import httpx

    try:
        if via is not None:
            resp = via(method, url, timeout=timeout, headers=headers, json=body)
        else:
            with httpx.Client(timeout=timeout) as client:
                resp = client.request(method, url, headers=headers, json=body)
    except httpx.HTTPError as exc:
        raise UpstreamUnreachable(f"cannot reach {url.split('?')[0]}: {type(exc).__name__}") from exc
    return Response(resp.status_code, {k.lower(): v for k, v in resp.headers.items()}, resp.content)


class Verifier:
    """Probes and list-models checks of stored accounts, with their effects on the records."""

    def __init__(
        self,
        store: Store,
        box: SecretBox,
        settings: Callable[[], Settings],
        refresher: TokenRefresher | None = None,
        retry_delay: float = 1.0,
        egress: EgressHttp | None = None,
    ) -> None:
        self.store = store
        self.box = box
        self.settings = settings
        self.refresher = refresher or TokenRefresher(store, box, settings)
        self.egress = egress or self.refresher.egress  # the account's route, a server's pooled clients
        self.retry_delay = retry_delay

    def row(self, account_id: str) -> dict[str, Any]:
        row = table.get_account(self.store, account_id)
        if row is None:
            raise NotFound(f"account {account_id} not found")
        if not row.get("secret"):
            raise BadRequest(f"account {row['label']} is signed out")
        return row

    def _secret(self, row: dict[str, Any]) -> str:
        if row["credential_kind"] == "oauth":
            return self.refresher.access_token(row)
        return self.box.decrypt("account.secret", row["secret"])

    def _headers(self, row: dict[str, Any]) -> dict[str, str]:
        settings = self.settings()
        profile = current_headers(self.store).get(row["id"])
        version = str(settings.get("providers.anthropic.anthropic_version"))
        cred = Credential(row, self._secret(row))
        return outbound_headers(cred, {}, {}, version, fast_path=True, profile=profile)

    def list_models(self, row: dict[str, Any], timeout: float) -> Response:
        """The provider's list-models call for this account."""
        url = list_models_url(row["provider"], row["base_url"])
        return send("GET", url, self._headers(row), timeout, via=self.egress.sender(row["id"]))

    def probe_model(self, row: dict[str, Any]) -> str:
        return str(row.get("probe_model") or self.settings().get(f"providers.{row['provider']}.probe_model"))

    def _generate(self, row: dict[str, Any], model: str, timeout: float) -> Response:
        """The probe call, retried twice 1 s apart on network errors and 5xx."""
        url = endpoint(Credential(row, ""), model, "generate", stream=False)
        for attempt in range(PROBE_RETRIES + 1):
            last = attempt == PROBE_RETRIES
            try:
                body = probe_body(row["provider"], model)
                resp = send("POST", url, self._headers(row), timeout, body, self.egress.sender(row["id"]))
            except UpstreamUnreachable:
                if last:
                    raise
            else:
                if resp.status < 500 or last:
                    return resp
            time.sleep(self.retry_delay)
        raise AssertionError("unreachable")

    def probe(self, account_id: str, timeout: float = 30.0) -> dict[str, Any]:
        """Probe one account, store the snapshot (with protection) → QuotaData."""
        row = self.row(account_id)
        oauth = row["credential_kind"] == "oauth"
        if oauth:
            row = self.refresher.refresh(account_id, change=True)  # invalid_grant disables and raises
        model = self.probe_model(row)
        resp = self._generate(row, model, timeout)
        if resp.status == 401 and oauth:
            row = self.refresher.refresh(account_id, force=True, change=True)
            resp = self._generate(row, model, timeout)
        return self._probe_outcome(row, model, resp)

    def _probe_outcome(self, row: dict[str, Any], model: str, resp: Response) -> dict[str, Any]:
        name = normalise_model(model)
        if resp.status == 401:
            if row["credential_kind"] == "oauth":
                qstore.mark_forbidden(self.store, row["id"], "upstream_401")
            else:
                qstore.mark_disabled(self.store, row["id"], "invalid_api_key")
            raise CredentialInvalid(f"{row['provider']} rejected the credential of {row['label']} (HTTP 401)")
        if resp.status == 403:
            qstore.mark_forbidden(self.store, row["id"], f"upstream_403: {_text(resp)}")
            return self.store_snapshot(row["id"], quota.quota_data([], "probe", forbidden=True))
        if resp.status == 429:
            models = quota.from_error_body(row["provider"], 429, resp.body, model)
            entry = quota.from_headers(row["provider"], resp.headers, model)
            exhausted = quota.quota_model(name, {"requests": (None, 0, None)})
            models = models or [entry or exhausted]
            return self.store_snapshot(row["id"], quota.quota_data(models, "probe"))
        if resp.status >= 300:
            raise UpstreamError(f"probe of {row['label']} answered HTTP {resp.status}: {_text(resp)}")
        qstore.mark_verified(self.store, row["id"])
        entry = quota.from_headers(row["provider"], resp.headers, model) or quota.quota_model(name, {})
        return self.store_snapshot(row["id"], quota.quota_data([entry], "probe"))

    def store_snapshot(self, account_id: str, snapshot: dict[str, Any]) -> dict[str, Any]:
        """Merge and store a snapshot, updating `protected_models` when protection is on."""
        settings = self.settings()
        protect = None
        if settings.get("quota_protection.enabled"):
            threshold = int(settings.get("quota_protection.threshold_percentage"))
            monitored = list(settings.get("quota_protection.monitored_models") or [])

            def protect(current: list[str], snap: dict[str, Any]) -> list[str]:
                return quota.protect(current, snap, threshold, monitored)

        try:
            return qstore.save_snapshot(
                self.store, account_id, lambda old: quota.merge(old, snapshot), protect
            )
        except KeyError:
            raise NotFound(f"account {account_id} not found") from None


def _text(resp: Response) -> str:
    """A short description of an error body (the provider's message when it has one)."""
    import json

    try:
        doc = json.loads(resp.body)
    except ValueError:
        doc = None
    if isinstance(doc, list) and doc:
        doc = doc[0]
    err = doc.get("error") if isinstance(doc, dict) else None
    if isinstance(err, dict) and err.get("message"):
        return str(err["message"])[:300]
    return f"HTTP {resp.status}"
