"""Prometheus metrics of one running server (observability.md §5), held in memory, no I/O.

Each runtime owns its own `CollectorRegistry` (never the process-global one: tests run
several servers in one process). Request-level series are fed from every finished monitor
record, whether or not request logging is on; upstream outcomes, failovers and compliance
refusals are read from the record's decision trace. Gauges, and the counters other parts
keep (OAuth refreshes, admin auth failures, IP blocks, proxy selections, dropped log
writes, rate-limit records), are read when `/metrics` is scraped.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

from gephyr_core import __version__
from gephyr_core.accounts.view import routable
from gephyr_core.monitor.record import Record, classify

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
DURATION_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)
FIRST_BYTE_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60)
PROVIDERS = ("openai", "anthropic", "gemini")
STATES = ("routable", "disabled", "proxy_disabled", "forbidden", "validation_blocked", "rate_limited")
OUTCOMES = ("success", "rate_limited", "auth_error", "client_error", "server_error", "network_error")
#: the guard's refusal texts (relay/compliance.py) → the `cap` label
CAPS = (
    ("account cooldown", "cooldown"),
    ("global requests-per-minute", "global_rpm"),
    ("account requests-per-minute", "account_rpm"),
    ("concurrency", "concurrency"),
)
MODEL_LABEL_CHARS = 200  # a client-chosen model name must not bloat every scrape


def outcome_of(outcome: str, status: Any) -> str:
    """The `outcome` label of one trace attempt."""
    if outcome == "network_error":
        return "network_error"
    code = status if isinstance(status, int) else 0
    if code == 0:
        return "success" if outcome == "ok" else "server_error"
    if code < 400:
        return "success"
    if code == 429:
        return "rate_limited"
    if code in (401, 403):
        return "auth_error"
    return "client_error" if code < 500 else "server_error"


def cap_of(refusal: str) -> str:
    """The `cap` label of a `guard_refused: …` outcome."""
    return next((cap for text, cap in CAPS if text in refusal), "concurrency")


def account_state(account: Mapping[str, Any], limited: bool) -> str:
    """One state per account, the most severe first, so the states sum to the account count."""
    for flag in ("disabled", "proxy_disabled", "forbidden", "validation_blocked"):
        if account.get(flag):
            return flag
    if not routable(dict(account)):
        return "disabled"  # no credential: as unusable as a disabled account
    return "rate_limited" if limited else "routable"


class _Histograms:
    """A histogram family kept in plain dicts. Each label set picks its own buckets, which one
    `prometheus_client.Histogram` cannot do (`upstream_latency_seconds` phases differ, §5)."""

    def __init__(
        self, name: str, doc: str, labels: list[str], buckets: Callable[[tuple[str, ...]], tuple[float, ...]]
    ) -> None:
        self.name, self.doc, self.labels, self.buckets = name, doc, labels, buckets
        self.series: dict[tuple[str, ...], tuple[tuple[float, ...], list[int], list[float]]] = {}

    def observe(self, labels: tuple[str, ...], seconds: float) -> None:
        found = self.series.get(labels)
        if found is None:
            bounds = self.buckets(labels)
            found = self.series[labels] = (bounds, [0] * (len(bounds) + 1), [0.0])
        bounds, counts, total = found
        counts[next((i for i, bound in enumerate(bounds) if seconds <= bound), len(bounds))] += 1
        total[0] += seconds

    def family(self) -> HistogramMetricFamily:
        fam = HistogramMetricFamily(self.name, self.doc, labels=self.labels)
        for labels, (bounds, counts, total) in sorted(self.series.items()):
            running, buckets = 0, []
            for bound, n in zip((*(_le(b) for b in bounds), "+Inf"), counts, strict=True):
                running += n
                buckets.append((bound, float(running)))
            fam.add_metric(list(labels), buckets, total[0])
        return fam


class _Counters:
    """A counter family kept in a plain dict: cheaper on the request path than
    `prometheus_client.Counter` (no lock, no per-call label checks; all on the event loop)."""

    def __init__(self, name: str, doc: str, labels: list[str]) -> None:
        self.name, self.doc, self.labels = name, doc, labels
        self.values: dict[tuple[str, ...], float] = {}

    def inc(self, labels: tuple[str, ...], amount: float = 1) -> None:
        self.values[labels] = self.values.get(labels, 0.0) + amount

    def family(self) -> CounterMetricFamily:
        fam = CounterMetricFamily(self.name, self.doc, labels=self.labels)
        for labels, value in sorted(self.values.items()):
            fam.add_metric(list(labels), value)
        return fam


def _latency_buckets(labels: tuple[str, ...]) -> tuple[float, ...]:
    return FIRST_BYTE_BUCKETS if labels[1] == "first_byte" else DURATION_BUCKETS


def _le(bound: float) -> str:
    return repr(float(bound))


class _Folded:
    """Turns per-key running totals kept elsewhere into monotonic counters by another label
    (rate-limit records are counted per account; the metric is per provider, and an account
    may be deleted between scrapes without its provider's count going down)."""

    def __init__(self) -> None:
        self.seen: dict[Any, int] = {}
        self.values: dict[tuple[str, ...], float] = {}

    def fold(self, totals: Mapping[Any, int], labels: Callable[[Any], tuple[str, ...]]) -> None:
        for key, total in list(totals.items()):
            before = self.seen.get(key, 0)
            delta = total - before if total >= before else total  # the source was reset
            self.seen[key] = total
            if delta:
                name = labels(key)
                self.values[name] = self.values.get(name, 0.0) + delta


class Metrics:
    """Every metric of §5 for one runtime; `observe` runs on the request path and stays cheap."""

    def __init__(self, rt: Any) -> None:
        self.rt = rt
        self.registry = CollectorRegistry(auto_describe=False)
        self._models: set[str] = set()
        self._index: tuple[list[dict[str, Any]] | None, dict[str, dict[str, Any]]] = (None, {})
        self.requests = _Counters(
            "gephyr_requests",
            "Public requests by protocol, route, status class and client model.",
            ["protocol", "route", "status_class", "model"],
        )
        self.duration = _Histograms(
            "gephyr_request_duration_seconds",
            "Public request duration until the last byte.",
            ["protocol", "route"],
            lambda _: DURATION_BUCKETS,
        )
        self.upstream = _Counters(
            "gephyr_upstream_requests",
            "Upstream attempts by provider, account and outcome.",
            ["provider", "account_id", "outcome"],
        )
        self.latency = _Histograms(
            "gephyr_upstream_latency_seconds",
            "Latency of answered relayed requests (first byte, total).",
            ["provider", "phase"],
            _latency_buckets,
        )
        self.failovers = _Counters(
            "gephyr_failovers", "Failed attempts followed by another attempt.", ["provider", "reason"]
        )
        self.interrupted = _Counters(
            "gephyr_streams_interrupted", "Answers cut off before their end.", ["provider"]
        )
        self.tokens = _Counters(
            "gephyr_tokens",
            "Tokens reported by providers, by upstream model and direction.",
            ["provider", "model", "direction"],
        )
        self.refusals = _Counters("gephyr_compliance_refusals", "Attempts the guard refused.", ["cap"])
        for _, cap in CAPS:
            self.refusals.inc((cap,), 0)
        self.rate_limits = _Folded()
        self.in_flight = 0  # public requests between `started` and `observe`
        self.registry.register(_Live(self))

    # -- the request path ------------------------------------------------------------------
    def started(self) -> None:
        """A public request began (the capture layer; one plain increment)."""
        self.in_flight += 1

    def observe(self, rec: Record) -> None:
        """Count one finished public request (called by the capture layer, logging on or off)."""
        self.in_flight = max(0, self.in_flight - 1)
        protocol, route, path_model = classify(rec.path)
        protocol, route = protocol or "unknown", route or "unknown"
        client_model = path_model or rec.state.get("model")
        status_class = f"{min(max(rec.status // 100, 1), 5)}xx"
        self.requests.inc((protocol, route, status_class, self.model_label(client_model)))
        self.duration.observe((protocol, route), rec.duration_ms / 1000)
        attempts = (rec.trace or {}).get("attempts") or []
        if attempts:
            self._attempts(attempts)
            if attempts[-1].get("outcome") == "ok":
                self._answered(rec, self.provider(str(attempts[-1].get("account_id"))), client_model)

    def _attempts(self, attempts: list[dict[str, Any]]) -> None:
        for i, attempt in enumerate(attempts):
            account_id = str(attempt.get("account_id"))
            provider = self.provider(account_id)
            outcome = str(attempt.get("outcome") or "")
            if outcome.startswith("guard_refused"):  # no upstream call was made
                self.refusals.inc((cap_of(outcome),))
                reason = "compliance"
            else:
                reason = outcome_of(outcome, attempt.get("status"))
                self.upstream.inc((provider, account_id, reason))
            if i + 1 < len(attempts):
                self.failovers.inc((provider, reason))

    def _answered(self, rec: Record, provider: str, client_model: Any) -> None:
        if rec.ttfb_ms is not None:
            self.latency.observe((provider, "first_byte"), rec.ttfb_ms / 1000)
        self.latency.observe((provider, "total"), rec.duration_ms / 1000)
        if rec.interrupted:  # the client left, or the relay marked the stream broken (stream_interrupted)
            self.interrupted.inc((provider,))
        usage = rec.usage
        if usage is not None and (usage.input_total or usage.output_total):
            model = self.model_label(rec.mapped_model or client_model)
            self.tokens.inc((provider, model, "input"), usage.input_total)
            self.tokens.inc((provider, model, "output"), usage.output_total)

    def model_label(self, model: Any) -> str:
        """The model as a label value: at most `metrics.max_model_labels` distinct ones, then `other`."""
        if not isinstance(model, str) or not model:
            return "none"
        name = model[:MODEL_LABEL_CHARS]
        if name in self._models:
            return name
        if len(self._models) < int(self.rt.settings.get("metrics.max_model_labels") or 1):
            self._models.add(name)
            return name
        return "other"

    def accounts_by_id(self) -> dict[str, dict[str, Any]]:
        accounts = self.rt.accounts
        if self._index[0] is not accounts:  # the runtime replaces the list on reload, never mutates it
            self._index = (accounts, {a["id"]: a for a in accounts})
        return self._index[1]

    def provider(self, account_id: str) -> str:
        account = self.accounts_by_id().get(account_id)
        return str(account["provider"]) if account else "unknown"

    # -- the scrape ------------------------------------------------------------------------
    def render(self) -> bytes:
        """The text exposition (format 0.0.4)."""
        return generate_latest(self.registry)


class _Live(Collector):
    """Series computed at scrape time from the runtime's live state and others' counters."""

    def __init__(self, metrics: Metrics) -> None:
        self.m = metrics

    def collect(self) -> Iterator[Metric]:
        m, rt = self.m, self.m.rt
        info = GaugeMetricFamily("gephyr_build_info", "Gephyr version.", labels=["version"])
        info.add_metric([__version__], 1)
        yield info
        for own in (
            m.requests,
            m.duration,
            m.upstream,
            m.latency,
            m.failovers,
            m.interrupted,
            m.tokens,
            m.refusals,
        ):
            yield own.family()
        yield from self._accounts(rt)
        yield self._rate_limit_events(rt)
        yield _gauge("gephyr_requests_in_flight", "Public requests being served now.", m.in_flight)
        yield _gauge("gephyr_session_bindings", "Live session bindings.", len(rt.scheduling.bindings))
        yield _gauge("gephyr_log_queue_depth", "Records waiting for the log writer.", len(rt.monitor.queue))
        yield _counter(
            "gephyr_log_writes_dropped", "Records dropped because the log queue was full.", rt.monitor.dropped
        )
        yield from self._pool(rt)
        refreshes = CounterMetricFamily(
            "gephyr_oauth_refresh", "OAuth access-token refreshes by result.", labels=["result"]
        )
        for result, n in sorted(rt.oauth.refresher.results.items()):
            refreshes.add_metric([result], n)
        yield refreshes
        yield _counter(
            "gephyr_admin_auth_failures", "Failed admin authentications.", rt.security.lockout.failures_total
        )
        blocked = CounterMetricFamily("gephyr_ip_blocked", "Requests the IP filter refused.", labels=["list"])
        for name, n in sorted(rt.security.blocked.items()):
            blocked.add_metric([name], n)
        yield blocked

    def _accounts(self, rt: Any) -> Iterator[Metric]:
        state = rt.scheduling.state
        limited = {r.account_id for r in state.records()}
        counts = {(p, s): 0 for p in PROVIDERS for s in STATES}
        info = GaugeMetricFamily(
            "gephyr_account_info",
            "One series per account (join on account_id).",
            labels=["account_id", "label", "provider"],
        )
        for account in rt.accounts:
            key = (str(account["provider"]), account_state(account, account["id"] in limited))
            counts[key] = counts.get(key, 0) + 1
            info.add_metric([account["id"], str(account.get("label") or ""), key[0]], 1)
        accounts = GaugeMetricFamily(
            "gephyr_accounts", "Accounts by provider and state.", labels=["provider", "state"]
        )
        for (provider, name), n in sorted(counts.items()):
            accounts.add_metric([provider, name], n)
        yield accounts
        yield info

    def _rate_limit_events(self, rt: Any) -> Metric:
        folded = self.m.rate_limits
        folded.fold(rt.scheduling.state.locks_total, lambda key: (self.m.provider(key[0]), key[1]))
        fam = CounterMetricFamily(
            "gephyr_rate_limit_events", "Rate-limit records set, by reason.", labels=["provider", "reason"]
        )
        for labels, n in sorted(folded.values.items()):
            fam.add_metric(list(labels), n)
        return fam

    def _pool(self, rt: Any) -> Iterator[Metric]:
        proxies = rt.pool.config().proxies
        up = GaugeMetricFamily(
            "gephyr_proxy_up", "1 when the proxy passed its last health check.", labels=["proxy"]
        )
        for spec in proxies:
            up.add_metric([spec.id], 1 if spec.enabled and rt.pool.healthy(spec.id) else 0)
        yield up
        selections = CounterMetricFamily(
            "gephyr_proxy_selections", "Calls routed through each proxy.", labels=["proxy"]
        )
        for proxy_id, n in sorted(rt.pool.counters.selections.items()):
            selections.add_metric([proxy_id], n)
        yield selections


def _gauge(name: str, doc: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, doc, value=value)


def _counter(name: str, doc: str, value: float) -> CounterMetricFamily:
    return CounterMetricFamily(name, doc, value=value)
