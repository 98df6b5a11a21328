"""The shapes a relayed request passes through: the client call, an outcome, a failed attempt."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from gephyr_core.wire import ErrorInfo, Request, Usage
from gephyr_core.wire.canonical import ClientFormat
from gephyr_core.wire.history import strip_thinking
from gephyr_core.wire.registry import decode_client_request

#: the upstream provider whose wire format equals each client format (the fast path)
SAME_FORMAT = {"chat": "openai", "anthropic": "anthropic", "gemini": "gemini"}


@dataclass
class ClientCall:
    """One client request, decoded only as far as routing needs."""

    fmt: ClientFormat
    action: str  # generate | count
    body: dict[str, Any]
    raw: bytes
    model: str
    stream: bool
    headers: Mapping[str, str]
    request_id: str
    gemini_sse: bool = True
    completions_default_max_tokens: int = 16
    strip_thinking: bool = False  # set for the one retry after a thinking-signature error
    _canonical: Request | None = field(default=None, repr=False)

    def canonical(self) -> Request:
        """The canonical request (decoded once, on first need); WireError on bad input."""
        if self._canonical is None:
            self._canonical = decode_client_request(
                self.fmt,
                self.body,
                model=self.model,
                stream=self.stream,
                count_tokens=self.action == "count",
                completions_default_max_tokens=self.completions_default_max_tokens,
            )
        return self._canonical

    def for_upstream(self, model: str) -> Request:
        """The canonical request with the upstream model (thinking stripped on the retry)."""
        request = dataclasses.replace(self.canonical(), model=model)
        if self.strip_thinking:
            request = dataclasses.replace(request, messages=strip_thinking(request.messages))
        return request

    def fast_path_for(self, provider: str) -> bool:
        """Same format and no thinking carrier in the body (carriers need the translator)."""
        return SAME_FORMAT.get(self.fmt) == provider and b'"gph1.' not in self.raw and not self.strip_thinking


@dataclass
class Outcome:
    """What goes back to the client: a whole body or a stream of frames."""

    status: int
    headers: dict[str, str]
    body: bytes | None = None
    chunks: AsyncIterator[bytes] | None = None
    media_type: str = "application/json"
    trace: dict[str, Any] | None = None
    usage: Callable[[], Usage] | None = None  # read once the body is done (streams: at the end)


class AttemptFailed(Exception):
    """One attempt failed before anything reached the client."""

    def __init__(
        self,
        info: ErrorInfo,
        network: bool = False,
        signature_error: bool = False,
        headers: Mapping[str, str] | None = None,
        body: bytes = b"",
    ) -> None:
        super().__init__(info.message)
        self.info = info
        self.network = network
        self.signature_error = signature_error
        self.headers: Mapping[str, str] = headers or {}
        self.body = body

    @property
    def status(self) -> int:
        return self.info.status


STREAM_HEADERS = {"cache-control": "no-cache", "x-accel-buffering": "no"}
_DROP = {
    "content-length",
    "content-encoding",
    "transfer-encoding",
    "connection",
    "keep-alive",
    "set-cookie",
    "date",
    "server",
}


def passthrough_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """Upstream response headers kept on the fast path (hop-by-hop and cookies dropped)."""
    return {k: v for k, v in headers.items() if k.lower() not in _DROP}
