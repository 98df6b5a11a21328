"""One OAuth flow at a time: prepare (local listener or web), deliver the code, consume (oauth.md §3)."""

from __future__ import annotations

import base64
import hashlib
import queue
import secrets
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlencode, urlsplit

from gephyr_core.config import Settings
from gephyr_core.errors import GephyrError, KeyUnavailable
from gephyr_core.oauth import client
from gephyr_core.oauth.identity import DomainNotAllowed, Identity, JwksCache, identify
from gephyr_core.oauth.listener import LoopbackListener

if TYPE_CHECKING:
    from gephyr_core.pool.egress import Send
from gephyr_core.oauth.pages import page
from gephyr_core.oauth.provider import ProviderConfig, provider_config
from gephyr_core.oauth.tracker import FlowTracker, flow_error

#: saves a verified identity with its tokens; returns the account id
Linker = Callable[[ProviderConfig, dict[str, Any], Identity], str]


def pkce_pair() -> tuple[str, str]:
    """(verifier, S256 challenge): 32 random bytes, base64url without padding."""
    verifier = base64.urlsafe_b64encode(secrets.token_bytes(32)).rstrip(b"=").decode()
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def authorization_url(cfg: ProviderConfig, redirect_uri: str, state: str, challenge: str) -> str:
    query = {
        "response_type": "code",
        "client_id": cfg.client_id,
        "redirect_uri": redirect_uri,
        "scope": " ".join(cfg.scopes),
        "state": state,
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        **cfg.extra_params,
    }
    sep = "&" if "?" in cfg.authorization_endpoint else "?"
    return cfg.authorization_endpoint + sep + urlencode(query)


@dataclass
class Flow:
    """An active flow; the verifier never leaves this object."""

    kind: str  # local | web
    cfg: ProviderConfig
    state: str
    verifier: str
    redirect_uri: str
    url: str
    started_at: int
    expires_at: int
    inbox: queue.Queue[str | GephyrError] = field(default_factory=queue.Queue)
    consumed: bool = False
    code_received: bool = False
    listener: LoopbackListener | None = None

    def view(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "redirect_uri": self.redirect_uri,
            "started_at": self.started_at,
            "expires_at": self.expires_at,
        }


class FlowManager:
    """The flow state machine; thread-safe, one active flow."""

    def __init__(self, settings: Callable[[], Settings], linker: Linker) -> None:
        self._settings = settings
        self._linker = linker
        self._lock = threading.RLock()
        self.tracker = FlowTracker()
        self.jwks = JwksCache()
        # the egress of linking calls (made for no account yet); the OAuth runtime sets it
        self.send: Callable[[], Send | None] = lambda: None
        self.active: Flow | None = None
        self._background: list[threading.Thread] = []

    # -- preparing ---------------------------------------------------------------------------
    def _new(self, kind: str, redirect_uri: str, cfg: ProviderConfig) -> Flow:
        verifier, challenge = pkce_pair()
        state = str(uuid.uuid4())
        now = int(time.time())
        return Flow(
            kind,
            cfg,
            state,
            verifier,
            redirect_uri,
            authorization_url(cfg, redirect_uri, state, challenge),
            now,
            now + cfg.flow_timeout_seconds,
        )

    def _supersede(self) -> None:
        old = self.active
        if old is not None:
            self.tracker.record("cancelled", "oauth_flow_superseded")
            self._end(old, flow_error("oauth.cancelled", "the sign-in was replaced by a newer one"))

    def prepare_local(self) -> Flow:
        """A local-listener flow; an unconsumed one is returned again (`oauth_flow_reused`)."""
        cfg = provider_config(self._settings())
        with self._lock:
            self._expire_due()
            old = self.active
            if old is not None and old.kind == "local" and not old.consumed:
                self.tracker.record("prepared", "oauth_flow_reused")
                return old
            self._supersede()
            listener = LoopbackListener(self._on_listener_callback)
            flow = self._new("local", listener.redirect_uri, cfg)
            flow.listener = listener
            self.active = flow
            self.tracker.record("prepared", "oauth_flow_prepared")
            return flow

    def prepare_web(self, redirect_uri: str) -> Flow:
        """A web flow (code via the server's /auth/callback or submit-code) with a background consumer."""
        cfg = provider_config(self._settings())
        with self._lock:
            self._expire_due()
            self._supersede()
            flow = self._new("web", redirect_uri, cfg)
            flow.consumed = True
            self.active = flow
            self.tracker.record("prepared", "oauth_flow_prepared")
            worker = threading.Thread(
                target=self._consume_in_background, args=(flow,), name="gephyr-oauth-web-flow", daemon=True
            )
            self._background = [t for t in self._background if t.is_alive()] + [worker]
            worker.start()
            return flow

    def for_consumer(self) -> Flow:
        """The unconsumed local flow made by prepare, else a new one; marked consumed."""
        with self._lock:
            self._expire_due()
            old = self.active
            flow = (
                old if old is not None and old.kind == "local" and not old.consumed else self.prepare_local()
            )
            flow.consumed = True
            return flow

    # -- delivering the code -----------------------------------------------------------------
    def _on_listener_callback(self, params: dict[str, str]) -> str:
        phase, detail, _ = self.deliver(
            params.get("code"), params.get("state"), params.get("error"), params.get("error_description")
        )
        return page(phase, detail)

    def callback_page(self, params: dict[str, str]) -> str:
        """The server's GET /auth/callback: feed the active flow, return the result page."""
        return self._on_listener_callback(params)

    def submit(self, code_or_url: str, state: str | None) -> None:
        """submit-code: a bare code or the pasted redirect URL (its code and state are taken)."""
        text = code_or_url.strip()
        error = description = None
        if text.startswith(("http://", "https://")) or "?" in text:
            query = {k: v[-1] for k, v in parse_qs(urlsplit(text).query, keep_blank_values=True).items()}
            text = query.get("code", "")
            state = state or query.get("state")
            error, description = query.get("error"), query.get("error_description")
        _, _, failure = self.deliver(text or None, state, error, description)
        if failure is not None:
            raise failure

    def deliver(
        self, code: str | None, state: str | None, error: str | None, description: str | None
    ) -> tuple[str, str, GephyrError | None]:
        """Apply the callback rules; returns (phase, detail, failure) and wakes the consumer."""
        with self._lock:
            self._expire_due()
            flow = self.active
            if flow is None:
                return self._fail(None, "oauth_flow_not_active", "no sign-in is in progress")
            if flow.code_received:
                err = flow_error("oauth.flow_not_active", "this sign-in already received its code")
                return "failed", "oauth_flow_not_active", err
            if error == "access_denied":
                self.tracker.record("rejected", "oauth_access_denied")
                failure = flow_error("oauth.access_denied", "access was denied at the identity provider")
                self._end(flow, failure)
                return "rejected", "oauth_access_denied", failure
            if error:
                detail = f"oauth_error_{error}" + (f": {description}" if description else "")
                return self._fail(flow, detail, f"the identity provider answered {error}")
            if not code:
                return self._fail(flow, "authorization_code_missing_in_callback", "the callback has no code")
            if not state:
                return self._fail(flow, "oauth_state_missing", "no state given with the code")
            if not secrets.compare_digest(state, flow.state):
                return self._fail(flow, "oauth_state_mismatch", "the state does not match this sign-in")
            flow.code_received = True
            self.tracker.record("callback_received", "oauth_callback_received")
            flow.inbox.put(code)
            return "callback_received", "oauth_callback_received", None

    def _fail(self, flow: Flow | None, detail: str, message: str) -> tuple[str, str, GephyrError]:
        code = self.tracker.record("failed", detail) or "oauth.unknown_failure"
        failure = flow_error(code, message)
        if flow is not None:
            self._end(flow, failure)
        return "failed", detail, failure

    # -- consuming ---------------------------------------------------------------------------
    def consume(self, flow: Flow) -> str:
        """Wait for the code, exchange it, verify the identity, save: the linked account id."""
        remaining = max(0.0, flow.expires_at - time.time())
        try:
            item = flow.inbox.get(timeout=remaining)
        except queue.Empty:
            with self._lock:
                if self.active is flow:
                    self.tracker.record("cancelled", "oauth_flow_expired")
                    self._end(flow, None)
            raise flow_error("oauth.flow_expired", "the sign-in was not completed in time") from None
        if flow.listener is not None:
            flow.listener.close()  # waits until the browser has its page
        if isinstance(item, GephyrError):
            raise item
        try:
            return self._link(flow, item)
        finally:
            with self._lock:
                if self.active is flow:
                    self._end(flow, None)

    def _link(self, flow: Flow, code: str) -> str:
        cfg = flow.cfg
        self.tracker.record("exchanging_token", "oauth_token_exchange_started")
        try:
            send = self.send()
            tokens = client.exchange_code(cfg, code, flow.redirect_uri, flow.verifier, send=send)
        except GephyrError as exc:
            raise self._failure(
                f"oauth_exchange_failed: {exc.message}", f"token exchange failed: {exc.message}"
            ) from exc
        if not tokens.get("refresh_token"):
            raise self._failure(
                "oauth_refresh_token_missing",
                "the provider returned no refresh token: revoke Gephyr's access in your account"
                " settings at the identity provider and sign in again",
            )
        self.tracker.record("fetching_user_info", "oauth_fetch_user_info")
        try:
            who = identify(cfg, tokens, self.jwks, send)
        except DomainNotAllowed as exc:
            raise self._failure(f"oauth_domain_not_allowed: {exc.domain or 'none'}", exc.message) from exc
        except GephyrError as exc:
            raise self._failure(
                f"oauth_user_info_failed: {exc.message}", f"identity check failed: {exc.message}"
            ) from exc
        self.tracker.record("saving_account", "oauth_save_account", who.email)
        try:
            account_id = self._linker(cfg, tokens, who)
        except KeyUnavailable as exc:
            raise self._failure(
                f"oauth_save_account_failed: {exc.message}", exc.message, "oauth.key_unavailable"
            ) from exc
        except GephyrError as exc:
            detail = f"oauth_save_account_failed: {exc.message}"
            raise self._failure(detail, f"saving failed: {exc.message}") from exc
        self.tracker.record("linked", "oauth_account_linked", who.email)
        return account_id

    def _failure(self, detail: str, message: str, code: str | None = None) -> GephyrError:
        return flow_error(
            self.tracker.record("failed", detail, code=code) or "oauth.unknown_failure", message
        )

    def _consume_in_background(self, flow: Flow) -> None:
        try:
            self.consume(flow)
        except GephyrError:
            return  # already recorded as the flow's phase
        except Exception as exc:  # a bug must still end the flow visibly
            self.tracker.record("failed", f"oauth_background_flow_failed: {type(exc).__name__}: {exc}")
            with self._lock:
                if self.active is flow:
                    self._end(flow, None)

    # -- ending ------------------------------------------------------------------------------
    def cancel(self) -> bool:
        """Cancel the active flow; False when there is none."""
        with self._lock:
            self._expire_due()
            flow = self.active
            if flow is None:
                return False
            self.tracker.record("cancelled", "oauth_flow_cancelled")
            self._end(flow, flow_error("oauth.cancelled", "the sign-in was cancelled"))
            return True

    def _expire_due(self) -> None:
        flow = self.active
        if flow is not None and time.time() >= flow.expires_at and not flow.code_received:
            self.tracker.record("cancelled", "oauth_flow_expired")
            self._end(flow, flow_error("oauth.flow_expired", "the sign-in was not completed in time"))

    def _end(self, flow: Flow, failure: GephyrError | None) -> None:
        """Clear the flow: wake its consumer with `failure`, close listeners, drop the verifier."""
        if self.active is flow:
            self.active = None
        if failure is not None:
            flow.inbox.put(failure)
        flow.verifier = ""
        if flow.listener is not None:
            flow.listener.close()

    def status(self) -> dict[str, Any]:
        with self._lock:
            self._expire_due()
            snap = self.tracker.snapshot()
            snap["flow"] = self.active.view() if self.active else None
        order = ("phase", "detail", "account_email", "updated_at_unix", "flow", "recent_events", "counters")
        return {k: snap[k] for k in order}

    def close(self) -> None:
        """Server shutdown: end the active flow quietly and wait for the background consumer."""
        with self._lock:
            if self.active is not None:
                self._end(self.active, flow_error("oauth.cancelled", "the server is shutting down"))
        for worker in self._background:
            worker.join(5)
