"""Relay benchmark: Gephyr against a bare pass-through floor, both in front of one cheap upstream.

Starts three child processes on loopback – the emulated upstream (``tests.benchmarks.upstream``), the
floor relay (``tests.benchmarks.floor_relay``) and ``gephyr serve`` on a throw-away data dir with one
OpenAI and one Anthropic account pointing at the upstream – pins each relay to one core with
``taskset`` when it can (the upstream and this driver get the other cores), then drives the same load
directly, through the floor and through Gephyr, in alternation, for four cases:

* ``same/non-stream``  OpenAI chat client → openai upstream (Gephyr's same-format fast path)
* ``same/stream``      the same with ``"stream": true``
* ``cross/non-stream`` OpenAI chat client, model ``claude-…`` → anthropic upstream (translated);
  direct and floor send the equivalent native Anthropic request, as nothing else can translate
* ``cross/stream``     the same with ``"stream": true``

at concurrency 1, 16 and 64. Every phase is bounded in time (``--duration``) and in count
(``--max-requests``), every request by ``--request-timeout``. The load generator is a minimal
keep-alive HTTP/1.1 client on asyncio (uvloop when installed), one connection per concurrent user.

Reported: throughput, p50/p99 latency (whole response), time to the first body byte, the latency a
relay adds over going direct, and CPU µs per request of each relay process from its own
``/proc/<pid>/stat`` (utime + stime) taken around each phase. Then pass/fail of each target.

Run from the repository root::

    python -m tests.benchmarks.run_relay_bench [--duration 2] [--rounds 2] [--output FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ctypes
import http.client
import json
import os
import platform
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
CONCURRENCY = (1, 16, 64)
TARGETS = ("direct", "floor", "gephyr")
OPENAI_KEY = "sk-bench-upstream-openai"
ANTHROPIC_KEY = "sk-ant-bench-upstream"
OPENAI_MODEL = "gpt-4o-mini"
CLAUDE_MODEL = "claude-3-5-haiku-20241022"
SYSTEM = "You are a terse assistant used by a relay benchmark."
PROMPT = "Say hello to the relay benchmark in one short sentence."
_CLK_TCK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


# --------------------------------------------------------------------------------------------
# cases


@dataclass(frozen=True)
class Leg:
    """What one target receives: a path, a JSON body, headers, and how a good answer ends."""

    path: str
    body: bytes
    headers: tuple[tuple[str, str], ...]
    marker: bytes


@dataclass(frozen=True)
class Case:
    name: str
    kind: str  # same | cross
    stream: bool
    native: Leg  # sent directly to the upstream and through the floor
    relayed: Leg  # sent to Gephyr


def _chat_body(model: str, stream: bool) -> bytes:
    body: dict[str, Any] = {
        "model": model,
        "messages": [{"role": "system", "content": SYSTEM}, {"role": "user", "content": PROMPT}],
        "max_tokens": 64,
        "temperature": 0.2,
    }
    if stream:
        body["stream"] = True
    return json.dumps(body).encode()


def _anthropic_body(stream: bool) -> bytes:
    body: dict[str, Any] = {
        "model": CLAUDE_MODEL,
        "system": SYSTEM,
        "messages": [{"role": "user", "content": PROMPT}],
        "max_tokens": 64,
        "temperature": 0.2,
    }
    if stream:
        body["stream"] = True
    return json.dumps(body).encode()


def build_cases(relay_key: str) -> list[Case]:
    relay_auth = (("authorization", f"Bearer {relay_key}"),)
    openai_auth = (("authorization", f"Bearer {OPENAI_KEY}"),)
    anthropic_auth = (("x-api-key", ANTHROPIC_KEY), ("anthropic-version", "2023-06-01"))
    cases = []
    for stream in (False, True):
        label = "stream" if stream else "non-stream"
        chat_marker = b"[DONE]" if stream else b'"choices"'
        cases.append(Case(
            f"same/{label}", "same", stream,
            Leg("/v1/chat/completions", _chat_body(OPENAI_MODEL, stream), openai_auth, chat_marker),
            Leg("/v1/chat/completions", _chat_body(OPENAI_MODEL, stream), relay_auth, chat_marker),
        ))
        cases.append(Case(
            f"cross/{label}", "cross", stream,
            Leg("/v1/messages", _anthropic_body(stream), anthropic_auth,
                b"message_stop" if stream else b'"content"'),
            Leg("/v1/chat/completions", _chat_body(CLAUDE_MODEL, stream), relay_auth, chat_marker),
        ))
    order = {"same/non-stream": 0, "same/stream": 1, "cross/non-stream": 2, "cross/stream": 3}
    return sorted(cases, key=lambda c: order[c.name])


def request_bytes(leg: Leg, port: int) -> bytes:
    head = [f"POST {leg.path} HTTP/1.1", f"host: 127.0.0.1:{port}", "content-type: application/json",
            f"content-length: {len(leg.body)}", "accept: */*"]
    head += [f"{k}: {v}" for k, v in leg.headers]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + leg.body


# --------------------------------------------------------------------------------------------
# load generator


class BadResponse(Exception):
    """A response that is not a complete 200 with the expected ending."""


class Conn:
    """One keep-alive HTTP/1.1 connection speaking just enough of the protocol for the benchmark."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def open(cls, port: int) -> Conn:
        reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=1 << 20)
        return cls(reader, writer)

    def close(self) -> None:
        self.writer.close()

    async def exchange(self, payload: bytes, marker: bytes) -> tuple[float, float]:
        """Send one request; (seconds to first body byte, seconds to the last byte)."""
        reader = self.reader
        start = time.perf_counter()
        self.writer.write(payload)
        head = await reader.readuntil(b"\r\n\r\n")
        if head[9:12] != b"200":
            raise BadResponse(head[:12].decode("latin-1", "replace"))
        lower = head.lower()
        tail = b""
        if b"transfer-encoding: chunked" in lower:
            first = 0.0
            while True:
                line = await reader.readuntil(b"\r\n")
                size = int(line.split(b";", 1)[0], 16)
                if size == 0:
                    await reader.readuntil(b"\r\n")
                    break
                data = await reader.readexactly(size + 2)
                if not first:
                    first = time.perf_counter()
                tail = tail[-64:] + data[:-2]
        else:
            at = lower.find(b"content-length:")
            if at < 0:
                raise BadResponse("no content-length and not chunked")
            length = int(lower[at + 15: lower.index(b"\r\n", at)])
            body = await reader.readexactly(length)
            first = time.perf_counter()
            tail = body
        end = time.perf_counter()
        if marker not in tail:
            raise BadResponse(f"answer does not contain {marker!r}: {tail[-120:]!r}")
        return first - start, end - start


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process (all threads), from its own /proc accounting."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            data = fh.read()
    except OSError:
        return float("nan")
    fields = data[data.rindex(b")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / _CLK_TCK


def self_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


@dataclass
class Phase:
    """Pooled measurements of one (case, target, concurrency), over every round."""

    requests: int = 0
    errors: int = 0
    wall: float = 0.0
    latencies: list[float] = field(default_factory=list)
    ttfbs: list[float] = field(default_factory=list)
    relay_cpu: float = 0.0
    upstream_cpu: float = 0.0
    driver_cpu: float = 0.0
    first_error: str = ""

    @property
    def rps(self) -> float:
        return self.requests / self.wall if self.wall else 0.0


def percentile(values: Sequence[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[index]


async def run_phase(port: int, payload: bytes, marker: bytes, concurrency: int, duration: float,
                    max_requests: int, timeout: float, relay_pid: int | None, upstream_pid: int,
                    into: Phase) -> None:
    """One bounded phase; results are added to ``into``."""
    conns = await asyncio.gather(*(Conn.open(port) for _ in range(concurrency)))
    try:
        async with asyncio.timeout(timeout):  # one unmeasured request per connection
            await asyncio.gather(*(c.exchange(payload, marker) for c in conns))
        relay0 = cpu_seconds(relay_pid) if relay_pid else 0.0
        upstream0, driver0 = cpu_seconds(upstream_pid), self_cpu()
        started = time.perf_counter()
        deadline = started + duration
        issued = 0
        latencies: list[float] = []
        ttfbs: list[float] = []

        async def user(index: int) -> None:
            nonlocal issued
            while issued < max_requests and time.perf_counter() < deadline:
                issued += 1
                try:
                    async with asyncio.timeout(timeout):
                        ttfb, total = await conns[index].exchange(payload, marker)
                except (OSError, EOFError, TimeoutError, ValueError, BadResponse,
                        asyncio.IncompleteReadError, asyncio.LimitOverrunError) as exc:
                    into.errors += 1
                    into.first_error = into.first_error or f"{type(exc).__name__}: {exc}"
                    conns[index].close()
                    if into.errors > 50:
                        raise RuntimeError(f"too many errors; first: {into.first_error}") from exc
                    conns[index] = await Conn.open(port)
                    continue
                latencies.append(total)
                ttfbs.append(ttfb)

        await asyncio.gather(*(user(i) for i in range(concurrency)))
        into.wall += time.perf_counter() - started
        into.relay_cpu += (cpu_seconds(relay_pid) - relay0) if relay_pid else 0.0
        into.upstream_cpu += cpu_seconds(upstream_pid) - upstream0
        into.driver_cpu += self_cpu() - driver0
        into.requests += len(latencies)
        into.latencies += latencies
        into.ttfbs += ttfbs
    finally:
        for conn in conns:
            conn.close()


# --------------------------------------------------------------------------------------------
# child processes


def _die_with_parent() -> None:
    """Child pre-exec: get SIGTERM if the driver dies (Linux prctl PR_SET_PDEATHSIG)."""
    with contextlib.suppress(Exception):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM, 0, 0, 0)


class Children:
    """Every child process started by the benchmark; all are stopped on exit, even on error."""

    def __init__(self, logs: Path) -> None:
        self.logs = logs
        self.procs: list[tuple[str, subprocess.Popen[bytes]]] = []

    def start(self, name: str, argv: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
        log = open(self.logs / f"{name}.log", "wb")  # closed right after the spawn
        try:
            proc = subprocess.Popen(argv, cwd=REPO, env=env, stdin=subprocess.DEVNULL, stdout=log,
                                    stderr=subprocess.STDOUT,
                                    preexec_fn=_die_with_parent if sys.platform == "linux" else None)
        finally:
            log.close()
        self.procs.append((name, proc))
        return proc

    def log_tail(self, name: str, lines: int = 30) -> str:
        path = self.logs / f"{name}.log"
        text = path.read_text(errors="replace") if path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def check(self, name: str, proc: subprocess.Popen[bytes]) -> None:
        if proc.poll() is not None:
            raise RuntimeError(f"{name} exited with {proc.returncode}:\n{self.log_tail(name)}")

    def stop_all(self) -> None:
        for _, proc in reversed(self.procs):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for _, proc in reversed(self.procs):
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)


def _wait_ready_file(children: Children, name: str, proc: subprocess.Popen[bytes], path: Path,
                     limit: float = 20.0) -> int:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        children.check(name, proc)
        if path.exists():
            return int(path.read_text())
        time.sleep(0.02)
    raise RuntimeError(f"{name} did not start within {limit:.0f} s:\n{children.log_tail(name)}")


def _wait_accepting(port: int, method: str = "GET", path: str = "/", limit: float = 20.0) -> None:
    """Wait until an HTTP request on loopback gets any answer."""
    deadline = time.monotonic() + limit
    while True:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        try:
            conn.request(method, path, body=b"{}" if method == "POST" else None)
            conn.getresponse().read()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)
        finally:
            conn.close()


def _taskset(cpus: Sequence[int] | None) -> list[str]:
    if not cpus:
        return []
    return ["taskset", "-c", ",".join(map(str, cpus))]


def child_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GEPHYR_", "ABV_"))}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH", "")]))
    env["NO_COLOR"] = "1"
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        env.pop(name, None)
    env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost"
    return env


def gephyr_cli(data_dir: Path, *args: str) -> str:
    argv = [sys.executable, "-m", "gephyr_cli", "--data-dir", str(data_dir), *args]
    done = subprocess.run(argv, cwd=REPO, env=child_env(), capture_output=True, timeout=60, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"gephyr {' '.join(args[:2])} failed: {done.stderr.decode(errors='replace')}")
    return done.stdout.decode()


def start_gephyr(children: Children, data_dir: Path, upstream: str, pin: list[str],
                 variant: str = "stock") -> tuple[int, int, str]:
    """(pid, port, relay API key) of a `gephyr serve` on ``data_dir`` routed at ``upstream``.

    ``variant`` other than ``stock`` runs it through the diagnostic ``tests.benchmarks.gephyr_variant``.
    """
    gephyr_cli(data_dir, "accounts", "add", "--provider", "openai", "--api-key", OPENAI_KEY,
               "--base-url", f"{upstream}/v1", "--label", "bench-openai")
    gephyr_cli(data_dir, "accounts", "add", "--provider", "anthropic", "--api-key", ANTHROPIC_KEY,
               "--base-url", upstream, "--label", "bench-anthropic")
    key = gephyr_cli(data_dir, "config", "get", "auth.api_key", "--reveal").strip()
    launcher = ["gephyr_cli"] if variant == "stock" else ["tests.benchmarks.gephyr_variant", "--variant",
                                                          variant, "--"]
    argv = [*pin, sys.executable, "-m", *launcher, "--data-dir", str(data_dir), "serve", "--port", "0"]
    proc = children.start("gephyr", argv, child_env())
    deadline = time.monotonic() + 30
    marker = data_dir / "server.json"
    while True:
        children.check("gephyr", proc)
        with contextlib.suppress(OSError, ValueError):
            info = json.loads(marker.read_text())
            if info.get("pid") == proc.pid:
                port = int(info["port"])
                break
        if time.monotonic() > deadline:
            raise RuntimeError(f"gephyr serve did not start:\n{children.log_tail('gephyr')}")
        time.sleep(0.05)
    _wait_accepting(port, "GET", "/health")
    return proc.pid, port, key


# --------------------------------------------------------------------------------------------
# report


@dataclass(frozen=True)
class Target:
    name: str
    threshold: float
    measured: float
    unit: str
    higher_is_better: bool

    @property
    def passed(self) -> bool:
        if self.measured != self.measured:  # nan
            return False
        return self.measured >= self.threshold if self.higher_is_better else self.measured <= self.threshold

    @property
    def margin(self) -> str:
        if self.passed:
            return ""
        if self.higher_is_better:
            return f"short by {self.threshold - self.measured:.2f}{self.unit}"
        return f"over by {self.measured - self.threshold:.2f}{self.unit}"


Results = dict[tuple[str, int, str], Phase]


def _ms(x: float) -> str:
    return f"{x * 1000:.2f}" if x == x else "–"


def evaluate(results: Results, cases: Sequence[Case]) -> list[Target]:
    targets: list[Target] = []
    for case in cases:
        floor = results[(case.name, 16, "floor")].rps
        gephyr = results[(case.name, 16, "gephyr")].rps
        need = 0.50 if case.kind == "same" else 0.35
        targets.append(Target(f"{case.name}: throughput c16 vs floor", need, gephyr / floor if floor else 0.0,
                              "", True))
    for case in cases:
        direct = percentile(results[(case.name, 1, "direct")].latencies, 50)
        relayed = percentile(results[(case.name, 1, "gephyr")].latencies, 50)
        limit = 1.5 if case.kind == "same" else 3.0
        targets.append(Target(f"{case.name}: added p50 c1 (ms)", limit, (relayed - direct) * 1000, " ms",
                              False))
    for case in cases:
        c16 = results[(case.name, 16, "gephyr")].rps
        c64 = results[(case.name, 64, "gephyr")].rps
        targets.append(Target(f"{case.name}: throughput c64 / c16", 0.80, c64 / c16 if c16 else 0.0, "",
                              True))
    phase = results.get(("same/non-stream", 16, "gephyr"))
    if phase is not None:
        cpu_us = phase.relay_cpu / phase.requests * 1e6 if phase.requests else float("nan")
        targets.append(Target("same/non-stream: relay CPU per request c16 (µs)", 1500, cpu_us, " µs", False))
    return targets


def render(results: Results, cases: Sequence[Case], env_line: str) -> str:
    out = [f"_{env_line}_", "", "### Throughput and relay CPU", "",
           "| case | conc | direct req/s | floor req/s | gephyr req/s | gephyr/floor | floor CPU µs/req "
           "| gephyr CPU µs/req | relay core % floor/gephyr | upstream+driver core % floor/gephyr | errors |",
           "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for case in cases:
        for conc in CONCURRENCY:
            d, f, g = (results[(case.name, conc, t)] for t in TARGETS)
            ratio = g.rps / f.rps if f.rps else 0.0
            fcpu = f.relay_cpu / f.requests * 1e6 if f.requests else float("nan")
            gcpu = g.relay_cpu / g.requests * 1e6 if g.requests else float("nan")
            relay_load = "/".join(f"{p.relay_cpu / p.wall * 100:.0f}" if p.wall else "–" for p in (f, g))
            load = "/".join(f"{(p.upstream_cpu + p.driver_cpu) / p.wall * 100:.0f}" if p.wall else "–"
                            for p in (f, g))
            errors = d.errors + f.errors + g.errors
            out.append(f"| {case.name} | {conc} | {d.rps:,.0f} | {f.rps:,.0f} | {g.rps:,.0f} | {ratio:.2f} "
                       f"| {fcpu:,.0f} | {gcpu:,.0f} | {relay_load} | {load} | {errors} |")
    out += ["", "### Latency (ms): direct, and what each relay adds over direct", "",
            "| case | conc | direct p50 | direct p99 | floor +p50 | floor +p99 | gephyr +p50 | gephyr +p99 "
            "| TTFB p50 direct | TTFB p50 floor | TTFB p50 gephyr | gephyr +TTFB p99 |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for case in cases:
        for conc in CONCURRENCY:
            d, f, g = (results[(case.name, conc, t)] for t in TARGETS)
            d50, d99 = percentile(d.latencies, 50), percentile(d.latencies, 99)
            cells = [_ms(d50), _ms(d99),
                     _ms(percentile(f.latencies, 50) - d50), _ms(percentile(f.latencies, 99) - d99),
                     _ms(percentile(g.latencies, 50) - d50), _ms(percentile(g.latencies, 99) - d99),
                     _ms(percentile(d.ttfbs, 50)), _ms(percentile(f.ttfbs, 50)), _ms(percentile(g.ttfbs, 50)),
                     _ms(percentile(g.ttfbs, 99) - percentile(d.ttfbs, 99))]
            out.append(f"| {case.name} | {conc} | " + " | ".join(cells) + " |")
    out += ["", "### Targets", "", "| target | measured | threshold | result |", "|---|---:|---:|---|"]
    for t in evaluate(results, cases):
        sign = "≥" if t.higher_is_better else "≤"
        verdict = "PASS" if t.passed else f"FAIL ({t.margin})"
        out.append(f"| {t.name} | {t.measured:.2f} | {sign} {t.threshold:g} | {verdict} |")
    first_errors = [f"- {k[0]} c{k[1]} {k[2]}: {p.errors} error(s), first: {p.first_error}"
                    for k, p in results.items() if p.errors]
    if first_errors:
        out += ["", "Errors:", *first_errors]
    return "\n".join(out)


# --------------------------------------------------------------------------------------------
# main


def code_state() -> str:
    """The commit measured, and whether gephyr_core differs from it (read-only git calls)."""
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True,
                              text=True, timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "gephyr_core"], cwd=REPO,
                               capture_output=True, text=True, timeout=10, check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "commit unknown"
    return f"commit {head}" + (" + uncommitted gephyr_core changes" if dirty else "")


def plan_cpus(no_pin: bool, relay_cpu: int | None) -> tuple[list[int] | None, list[int] | None]:
    """(relay cores, upstream+driver cores) or (None, None) when not pinning."""
    if no_pin or shutil.which("taskset") is None or not hasattr(os, "sched_getaffinity"):
        return None, None
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        return None, None
    relay = relay_cpu if relay_cpu is not None else cpus[-1]
    rest = [c for c in cpus if c != relay]
    return [relay], rest


@contextlib.contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    def handler(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


async def drive(args: argparse.Namespace, cases: Sequence[Case], ports: dict[str, int],
                pids: dict[str, int], progress: Callable[[str], None]) -> Results:
    results: Results = {}
    for case in cases:
        legs = {t: case.relayed if t == "gephyr" else case.native for t in TARGETS}
        payloads = {t: request_bytes(legs[t], ports[t]) for t in TARGETS}
        markers = {t: legs[t].marker for t in TARGETS}
        for target in TARGETS:  # warm-up, discarded
            await run_phase(ports[target], payloads[target], markers[target], 16, args.warmup,
                            args.max_requests, args.request_timeout, None, pids["upstream"], Phase())
        for conc in CONCURRENCY:
            for _ in range(args.rounds):
                for target in TARGETS:
                    phase = results.setdefault((case.name, conc, target), Phase())
                    await run_phase(ports[target], payloads[target], markers[target], conc, args.duration,
                                    args.max_requests, args.request_timeout, pids.get(target),
                                    pids["upstream"], phase)
            line = ", ".join(f"{t} {results[(case.name, conc, t)].rps:,.0f}/s" for t in TARGETS)
            progress(f"{case.name} c{conc}: {line}")
    return results


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description="Gephyr relay benchmark (loopback only).")
    ap.add_argument("--duration", type=float, default=2.0, help="seconds per measured phase")
    ap.add_argument("--rounds", type=int, default=3, help="alternations direct/floor/gephyr per point")
    ap.add_argument("--warmup", type=float, default=0.5, help="seconds of discarded warm-up per case+target")
    ap.add_argument("--max-requests", type=int, default=100_000, help="request cap per phase")
    ap.add_argument("--request-timeout", type=float, default=30.0)
    ap.add_argument("--chunks", type=int, default=8, help="content deltas per upstream reply")
    ap.add_argument("--floor-loop", default="auto", choices=("auto", "asyncio", "uvloop"))
    ap.add_argument("--gephyr-variant", default="stock", choices=("stock", "nodelay", "nodelay+uvloop"),
                    help="diagnostic: run gephyr serve with a candidate server fix (see gephyr_variant.py)")
    ap.add_argument("--relay-cpu", type=int, default=None, help="core for the relays (default: the last)")
    ap.add_argument("--no-pin", action="store_true", help="do not use taskset / affinity")
    ap.add_argument("--cases", default="", help="comma-separated subset, e.g. same/non-stream")
    ap.add_argument("--output", type=Path, default=None, help="also write the Markdown report here")
    ap.add_argument("--keep-data-dir", action="store_true")
    args = ap.parse_args(argv)
    known = {"same/non-stream", "same/stream", "cross/non-stream", "cross/stream"}
    if args.cases and not set(args.cases.split(",")) <= known:
        ap.error(f"--cases: choose from {sorted(known)}")
    if args.duration <= 0 or args.rounds < 1 or args.max_requests < 1:
        ap.error("--duration, --rounds and --max-requests must be positive")
    return args


@dataclass
class Stack:
    """The running children: ports and pids by target name (plus the upstream), relay API key."""

    ports: dict[str, int]
    pids: dict[str, int]
    procs: dict[str, subprocess.Popen[bytes]]
    key: str


def start_stack(children: Children, tmp: Path, args: argparse.Namespace, relay_cpus: list[int] | None,
                other_cpus: list[int] | None) -> Stack:
    env = child_env()
    ready = tmp / "upstream.port"
    argv_up = [*_taskset(other_cpus), sys.executable, "-m", "tests.benchmarks.upstream",
               "--ready-file", str(ready), "--chunks", str(args.chunks)]
    up = children.start("upstream", argv_up, env)
    up_port = _wait_ready_file(children, "upstream", up, ready)
    upstream = f"http://127.0.0.1:{up_port}"
    _wait_accepting(up_port, "POST", "/v1/chat/completions")

    ready = tmp / "floor.port"
    argv_floor = [*_taskset(relay_cpus), sys.executable, "-m", "tests.benchmarks.floor_relay",
                  "--upstream", upstream, "--ready-file", str(ready), "--loop", args.floor_loop]
    floor = children.start("floor", argv_floor, env)
    floor_port = _wait_ready_file(children, "floor", floor, ready)
    _wait_accepting(floor_port, "POST", "/v1/chat/completions")

    g_pid, g_port, key = start_gephyr(children, tmp / "gephyr-data", upstream, _taskset(relay_cpus),
                                      args.gephyr_variant)
    return Stack({"direct": up_port, "floor": floor_port, "gephyr": g_port},
                 {"upstream": up.pid, "floor": floor.pid, "gephyr": g_pid},
                 {"upstream": up, "floor": floor}, key)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    relay_cpus, other_cpus = plan_cpus(args.no_pin, args.relay_cpu)
    if other_cpus:
        os.sched_setaffinity(0, other_cpus)
    try:
        import uvloop
    except ImportError:
        uvloop = None  # type: ignore[assignment]

    tmp = Path(tempfile.mkdtemp(prefix="gephyr-bench-"))
    children = Children(tmp)
    with sigterm_as_interrupt():
        try:
            stack = start_stack(children, tmp, args, relay_cpus, other_cpus)
            cases = build_cases(stack.key)
            if args.cases:
                cases = [c for c in cases if c.name in set(args.cases.split(","))]
            pin = (f"relays on core {relay_cpus[0]}, upstream+driver on {other_cpus}" if relay_cpus
                   else "no pinning")
            env_line = (f"{code_state()}; {platform.python_implementation()} {platform.python_version()}, "
                        f"{os.cpu_count()} cores, {pin}; gephyr {args.gephyr_variant}; "
                        f"floor loop {args.floor_loop}; driver loop "
                        f"{'uvloop' if uvloop else 'asyncio'}; {args.rounds}×{args.duration:g} s per point, "
                        f"{args.chunks} deltas per reply")
            print(f"# {env_line}", file=sys.stderr)

            def progress(line: str) -> None:
                print(f"  {line}", file=sys.stderr, flush=True)
                for name, proc in stack.procs.items():
                    children.check(name, proc)

            runner: Callable[..., Any] = uvloop.run if uvloop else asyncio.run
            results = runner(drive(args, cases, stack.ports, stack.pids, progress))
            report = render(results, cases, env_line)
            print(report)
            if args.output:
                args.output.write_text(report + "\n")
            return 1 if any(not t.passed for t in evaluate(results, cases)) else 0
        finally:
            children.stop_all()
            if args.keep_data_dir:
                print(f"kept {tmp}", file=sys.stderr)
            else:
                shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
