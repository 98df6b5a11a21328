"""The relay pipeline: route → pick account → attempt → fail over → render (routing.md §10)."""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any

from gephyr_core.config import Settings
from gephyr_core.errors import GephyrError
from gephyr_core.relay.account_flags import AccountFlags, flags_for
from gephyr_core.relay.attempt import Attempter
from gephyr_core.relay.bindings import Bindings
from gephyr_core.relay.call import AttemptFailed, ClientCall, Outcome
from gephyr_core.relay.compliance import ComplianceGuard
from gephyr_core.relay.http import ClientPool
from gephyr_core.relay.keepalive import with_keepalive
from gephyr_core.relay.ratelimit_parse import default_delay, hinted_delay, reason_of
from gephyr_core.relay.routes import Route, RouteError, normalise_model, request_type, resolve
from gephyr_core.relay.scheduler import NoAccount, Plan, Scheduler
from gephyr_core.relay.selection import RoundRobin, Selector
from gephyr_core.relay.session import session_id
from gephyr_core.relay.state import LimitRecord, MemoryState
from gephyr_core.relay.trace import Trace
from gephyr_core.relay.upstream import Credential
from gephyr_core.wire import ErrorInfo, WireError, estimate_tokens
from gephyr_core.wire.errors import render_error, retry_after_headers
from gephyr_core.wire.jsonx import dumpb

if TYPE_CHECKING:
    from gephyr_core.oauth.relay import RelayTokens
    from gephyr_core.pool.router import EgressRouter

_RETRY_SAME = {500, 502, 503, 504, 529}
ROUTE_CACHE_SIZE = 4096


class Relay:
    """Serves generation and counting calls over the accounts a runtime holds."""

    def __init__(
        self,
        settings: Callable[[], Settings],
        accounts: Callable[[], list[dict[str, Any]]],
        decrypt: Callable[[str, str], str],
        selector: Selector | None = None,
        state: MemoryState | None = None,
        bindings: Bindings | None = None,
        guard: ComplianceGuard | None = None,
    ) -> None:
        self._settings = settings
        self._accounts = accounts
        self._decrypt = decrypt
        self.selector = selector or RoundRobin()
        self.state = state if state is not None else MemoryState()
        self.bindings = bindings if bindings is not None else Bindings()  # empty Bindings is falsy
        self.scheduler = Scheduler(self.state, self.bindings, settings)
        self.guard = guard if guard is not None else ComplianceGuard(settings)
        self.scheduler.on_switch = self.guard.switched
        self.on_trace: Callable[[dict[str, Any]], None] | None = None
        self.account_flags: AccountFlags | None = None  # set by the server
        # called with every generation outcome before its body is sent (the monitor's hook)
        self.on_outcome: Callable[[Outcome, bool], None] | None = None
        self.pool = ClientPool()
        self.attempter = Attempter(self.pool)
        self._secrets: dict[str, str] = {}
        self._routes: dict[str, Route] = {}
        self._route_source: tuple[Settings, list[dict[str, Any]]] | None = None
        self.oauth: RelayTokens | None = None  # set by the server: OAuth access-token refresh
        self.egress: EgressRouter | None = None  # set by the server: the egress proxy pool

    async def aclose(self) -> None:
        await self.pool.aclose()

    def credential(self, account: dict[str, Any]) -> Credential:
        """The account with its secret (an OAuth account's access token) decrypted, cached by ciphertext."""
        field = "access_token" if account.get("credential_kind") == "oauth" else "secret"
        stored = str(account.get(field) or "")
        secret = self._secrets.get(stored)
        if secret is None:
            secret = self._decrypt(f"account.{field}", stored)
            self._secrets[stored] = secret
        return Credential(account, secret)

    async def _count_native(self, call: ClientCall, route: Route) -> Outcome | None:
        """Count on an anthropic or gemini account (fast path or translated), None to estimate."""
        settings = self._settings()
        # one provider's group, cached on the route: no pass over the accounts per call
        same = sorted(p for p in route.providers if call.fast_path_for(p))
        native = sorted(p for p in route.providers if p in ("anthropic", "gemini"))
        chosen = same or native
        if not chosen:
            return None
        account = self.selector.pick(route.by_provider[chosen[0]], set())
        if account is None:
            return None
        from gephyr_core.pool.lease import choose, held, hold

        try:
            cred = self.credential(account)
            egress = await choose(self.egress, self.pool, account["id"])  # the account's route; 503 if closed
            if same:
                fast, model = self.attempter.fast, route.upstream_model
                return await hold(
                    self.egress, self.pool, egress, lambda: fast(settings, call, cred, model, egress)
                )
            async with held(self.egress, self.pool, egress):
                n = await self.attempter.count_translated(settings, call, cred, route.upstream_model, egress)
        except AttemptFailed as failed:
            if failed.network or failed.status == 429 or failed.status >= 500:
                return None  # counting falls back to the estimate (protocols.md §7)
            return error_outcome(call, failed.info, route)
        except GephyrError:
            return None
        body = {"input_tokens": n} if call.fmt == "anthropic" else {"totalTokens": n}
        return Outcome(200, {}, body=dumpb(body))

    def route(self, model: str) -> Route:
        """Resolve a client model against the mapping and the current accounts.

        Routes are cached per model while the settings and account list objects stay the
        same (both are replaced, never mutated, on reload), so a request does not rescan
        every account.
        """
        settings = self._settings()
        accounts = self._accounts()
        source = self._route_source
        if source is None or source[0] is not settings or source[1] is not accounts:
            self._routes.clear()
            self.scheduler.forget()
            self._route_source = (settings, accounts)
        cached = self._routes.get(model) if isinstance(model, str) else None
        if cached is not None:
            return cached
        defaults = {p: settings.get(f"providers.{p}.models") for p in ("openai", "anthropic", "gemini")}
        route = resolve(settings.get("routing.mapping") or {}, accounts, model, defaults)
        if len(self._routes) < ROUTE_CACHE_SIZE:
            self._routes[model] = route
        return route

    async def handle(self, call: ClientCall) -> Outcome:
        """Run a generation call and return what the client gets (errors in its protocol)."""
        outcome = await self._handle(call)
        if self.on_outcome is not None:
            self.on_outcome(outcome, call.stream)
        return outcome

    async def _handle(self, call: ClientCall) -> Outcome:
        try:
            route = self.route(call.model)
        except RouteError as exc:
            return error_outcome(call, ErrorInfo("invalid_request", 400, exc.message))
        problem = _route_problem(route, bool(self._accounts()))
        if problem is not None:
            return error_outcome(call, problem, route)
        try:
            if any(not call.fast_path_for(p) for p in route.providers):
                call.canonical()  # bad input is refused once, before any attempt
        except WireError as exc:
            return error_outcome(call, exc.info(), route)
        return await self._attempts(call, route)

    def _plan(self, call: ClientCall, route: Route) -> Plan:
        sid = session_id(call.fmt, call.headers, call.body, call.raw)
        model = normalise_model(route.upstream_model)
        provider = route.provider or (route.routable[0]["provider"] if route.routable else "any")
        trace = Trace(call.request_id, sid.value, sid.source, model, route.trace_ids)
        trace.candidate_count = len(route.candidates)
        return Plan(
            sid.value, model, provider, request_type(route.upstream_model, call.body.get("tools")), trace
        )

    async def _attempts(self, call: ClientCall, route: Route) -> Outcome:
        settings = self._settings()
        candidates = route.routable
        budget = self.guard.budget(min(int(settings.get("routing.max_attempts")), len(candidates) + 1))
        plan = self._plan(call, route)
        last: AttemptFailed | None = None
        again: tuple[dict[str, Any], str] | None = None
        for attempt in range(budget):
            plan.attempt = attempt
            try:
                chosen = again or await self.scheduler.select(candidates, plan)
            except NoAccount as exc:
                info = ErrorInfo(
                    "rate_limited" if exc.status == 429 else "unavailable",
                    exc.status,
                    exc.message,
                    exc.retry_after,
                    "no_account_available" if exc.status == 503 else None,
                )
                return self._traced(error_outcome(call, info, route), plan)
            again = None
            if chosen is None:
                if len(candidates) != 1 or last is None or not _same_again(last):
                    break
                chosen = (candidates[0], "sole_candidate_retry")
            account, step = chosen
            plan.tried.add(account["id"])
            entry = plan.trace.attempt(account["id"], step)
            refusal = self.guard.acquire(account["id"])
            if refusal is not None:  # a refusal consumes the attempt without calling the provider
                entry.update(status=429, outcome=f"guard_refused: {refusal}")
                last = AttemptFailed(ErrorInfo("rate_limited", 429, refusal))
                continue
            try:
                outcome = await self._attempt(settings, call, route, account)
            except AttemptFailed as failed:
                last = failed
                entry.update(status=failed.status, outcome="network_error" if failed.network else "failed")
                go_on, again = await self._after_failure(
                    settings, call, plan, account, failed, budget, candidates
                )
                if not go_on:
                    break
                continue
            entry.update(status=outcome.status, outcome="ok")
            self.state.succeeded(account["id"])
            self._release_when_done(outcome, account["id"])
            outcome.headers["x-mapped-model"] = header_safe(route.upstream_model)
            interval = float(settings.get("protocols.ping_interval_seconds"))
            if outcome.chunks is not None and interval > 0:
                outcome.chunks = with_keepalive(outcome.chunks, call.fmt, interval)
            return self._traced(outcome, plan)
        assert last is not None
        return self._traced(error_outcome(call, _final(last, budget), route), plan)

    async def _after_failure(
        self,
        settings: Settings,
        call: ClientCall,
        plan: Plan,
        account: dict[str, Any],
        failed: AttemptFailed,
        budget: int,
        candidates: list[dict[str, Any]],
    ) -> tuple[bool, tuple[dict[str, Any], str] | None]:
        """Record a failed attempt and wait as §10.2 says: (try again?, same account next?)."""
        self.guard.release(account["id"])
        more = plan.attempt + 1 < budget
        if failed.status == 401 and more and await self._refresh_after_401(plan, account):
            return True, (account, "auth_refresh_retry")
        if _pool_refused(failed):  # the egress pool, not the account, refused: nothing to record
            return more and len(plan.tried) < len(candidates), None
        self.guard.risk(account["id"], failed.status)
        self._record_failure(settings, plan, account, failed)
        if failed.signature_error and not call.strip_thinking:
            # Same account once more, thinking signatures stripped (routing.md §10.2).
            call.strip_thinking = True
            await asyncio.sleep(0.2)
            return True, (account, "signature_retry")
        delay = _delay_ms(settings, failed, plan.attempt)
        more = more and (  # tried ⊆ candidates: comparing sizes avoids a pass over the pool
            len(plan.tried) < len(candidates) or (len(candidates) == 1 and _same_again(failed))
        )
        if delay is None or not more:  # never wait out a backoff with nothing left to try
            return False, None
        if delay:
            await asyncio.sleep(delay / 1000)
        return True, None

    async def _refresh_after_401(self, plan: Plan, account: dict[str, Any]) -> bool:
        """OAuth: one forced token refresh, then the same account again (routing.md §10.2)."""
        aid = account["id"]
        if self.oauth is None or account.get("credential_kind") != "oauth" or aid in plan.refreshed:
            return False
        try:
            await self.oauth.ensure(account, force=True)
        except AttemptFailed:
            plan.refreshed[aid] = False  # invalid_grant already disabled it; fail over as usual
            return False
        plan.refreshed[aid] = True
        return True

    def _traced(self, outcome: Outcome, plan: Plan) -> Outcome:
        outcome.trace = plan.trace.to_dict()
        if self.on_trace is not None:
            self.on_trace(outcome.trace)
        return outcome

    def _release_when_done(self, outcome: Outcome, account_id: str) -> None:
        """The guard's in-flight slot is held until the body is done (streams: to the end)."""
        if outcome.chunks is None:
            self.guard.release(account_id)
            return
        chunks = outcome.chunks

        async def release_at_end() -> AsyncIterator[bytes]:
            try:
                async for chunk in chunks:
                    yield chunk
            finally:
                self.guard.release(account_id)
                close = getattr(chunks, "aclose", None)
                if close is not None:
                    await close()

        outcome.chunks = release_at_end()

    def _record_failure(
        self, settings: Settings, plan: Plan, account: dict[str, Any], failed: AttemptFailed
    ) -> None:
        """Health down, failure streak, and a rate-limit record scoped by its reason (§6)."""
        aid = account["id"]
        failures = self.state.failed(aid)
        if failed.status in (401, 403):
            self.bindings.drop_account(aid)
            kind = str(account.get("credential_kind") or "api_key")
            fields = flags_for(failed.status, failed.body, kind, refreshed=plan.refreshed.get(aid, False))
            if fields is not None and self.account_flags is not None:
                self.account_flags.apply(aid, fields)
        if failed.network or not settings.get("circuit_breaker.enabled"):
            return
        reason = reason_of(failed.status, failed.body)
        if reason is None:
            return
        now = self.state.clock()
        delay = hinted_delay(failed.status, failed.headers, failed.body, now)
        if delay is None:
            delay = default_delay(reason, failures, list(settings.get("circuit_breaker.backoff_steps") or []))
        scoped = reason in ("QUOTA_EXHAUSTED", "RATE_LIMIT_EXCEEDED", "MODEL_CAPACITY_EXHAUSTED")
        self.state.lock(LimitRecord(aid, plan.model if scoped else "*", reason, now + delay))

    async def _attempt(
        self, settings: Settings, call: ClientCall, route: Route, account: dict[str, Any]
    ) -> Outcome:
        if self.oauth is not None and account.get("credential_kind") == "oauth":
            await self.oauth.ensure(account)  # refresh inside the window; AttemptFailed on failure
        try:
            cred = self.credential(account)
        except GephyrError as exc:
            raise AttemptFailed(ErrorInfo("upstream_error", 500, exc.message)) from exc
        from gephyr_core.pool.lease import choose, hold

        egress = await choose(self.egress, self.pool, account["id"])  # 503 AttemptFailed when fail-closed
        run = self.attempter.fast if call.fast_path_for(cred.provider) else self.attempter.translated
        return await hold(
            self.egress, self.pool, egress, lambda: run(settings, call, cred, route.upstream_model, egress)
        )

    async def count(self, call: ClientCall) -> Outcome:
        """count_tokens / countTokens: native on a same-family account, else an estimate."""
        try:
            route = self.route(call.model)
            request = call.canonical()
        except RouteError as exc:
            return error_outcome(call, ErrorInfo("invalid_request", 400, exc.message))
        except WireError as exc:
            return error_outcome(call, exc.info())
        if not route.candidates:
            problem = _route_problem(route, bool(self._accounts())) or ErrorInfo("not_found", 404, "no route")
            return error_outcome(call, problem, route)
        counted = await self._count_native(call, route)
        if counted is not None:
            counted.headers["x-gephyr-token-count"] = "native"
            return counted
        n = estimate_tokens(request)
        body = {"input_tokens": n} if call.fmt == "anthropic" else {"totalTokens": n}
        return Outcome(200, {"x-gephyr-token-count": "estimated"}, body=dumpb(body))


def _pool_refused(failed: AttemptFailed) -> bool:
    """A fail-closed egress rejection (pool/lease.py), as opposed to an upstream 503."""
    return failed.info.code == "no_account_available"


def _same_again(failed: AttemptFailed) -> bool:
    """A sole candidate gets a second try after a 5xx, 529 or network failure (routing.md §10.1)."""
    return (failed.network or failed.status in _RETRY_SAME) and not _pool_refused(failed)


def _route_problem(route: Route, any_accounts: bool = True) -> ErrorInfo | None:
    if not any_accounts:
        return ErrorInfo(
            "unavailable",
            503,
            "no upstream account is configured; add one with"
            " `gephyr accounts add --provider openai|anthropic|gemini --api-key KEY`",
            code="no_account_available",
        )
    if not route.candidates:
        return ErrorInfo(
            "not_found",
            404,
            f"model {route.client_model!r} is not served by any account;"
            " add one with `gephyr accounts add` or map the model with `gephyr mapping set`",
        )
    if not route.routable:
        return ErrorInfo(
            "unavailable",
            503,
            f"no account available for model {route.client_model!r}: every"
            " candidate is disabled or signed out (see `gephyr accounts list`)",
            code="no_account_available",
        )
    return None


def _delay_ms(settings: Settings, failed: AttemptFailed, attempt: int) -> float | None:
    """Pause before the next attempt, or None to stop (routing.md §10.2)."""
    if failed.network or failed.status in (408, 429):
        return 0
    status = failed.status
    if status in (401, 403):
        return 200
    if status == 404:
        return 0
    if status in (500, 502, 504):
        return float(settings.get("routing.retry_server_error_step_ms")) * (attempt + 1)
    if status in (503, 529):
        base = float(settings.get("routing.retry_overload_base_ms"))
        cap = float(settings.get("routing.retry_overload_cap_ms"))
        return min(base * 2.0**attempt, cap)
    return None


def _final(last: AttemptFailed, budget: int) -> ErrorInfo:
    info = last.info
    if last.network:
        return ErrorInfo("upstream_error", 502, f"all {budget} attempts failed: {info.message}")
    kind, status = info.kind, info.status
    if status in (401, 403):
        kind, status = "unavailable", 503
    message = f"all attempts failed (last upstream status {info.status}): {info.message}"
    if status == 400 or (400 <= status < 500 and status not in (401, 403, 404, 408, 429)):
        message = info.message
    code = "no_account_available" if kind == "unavailable" else info.code
    return ErrorInfo(kind, status, message, info.retry_after, code)


def header_safe(text: str) -> str:
    """A header value from client text: printable ASCII kept, anything else percent-encoded."""
    if text.isascii() and text.isprintable():
        return text
    from urllib.parse import quote

    return quote(text, safe="")


def error_outcome(call: ClientCall, info: ErrorInfo, route: Route | None = None) -> Outcome:
    """A pre-stream failure rendered in the client's error shape."""
    status, body = render_error(info, call.fmt, call.request_id)
    headers: dict[str, str] = {}
    if info.retry_after is not None:
        headers.update(retry_after_headers(math.ceil(info.retry_after), call.fmt))
    if route is not None:
        headers["x-mapped-model"] = header_safe(route.upstream_model)
    return Outcome(status, headers, body=dumpb(body))
