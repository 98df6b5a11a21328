"""One attempt against one account: the same-format fast path or the translated path."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import time
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any
from urllib.parse import quote

import httpx

from gephyr_core.config import Settings
from gephyr_core.monitor.capture import mark_interrupted
from gephyr_core.pool.router import Egress
from gephyr_core.relay.call import STREAM_HEADERS, AttemptFailed, ClientCall, Outcome, passthrough_headers
from gephyr_core.relay.http import ClientPool
from gephyr_core.relay.media_fetch import fetch_media
from gephyr_core.relay.tap import UsageTap, is_meaningful
from gephyr_core.relay.upstream import Credential, endpoint, outbound_headers
from gephyr_core.wire import ErrorInfo, Request, Usage, classify_upstream_error
from gephyr_core.wire.canonical import ClientContext, EncodeOptions
from gephyr_core.wire.errors import is_signature_error
from gephyr_core.wire.events import StreamError, UsageUpdate, aggregate
from gephyr_core.wire.ids import UpstreamContext
from gephyr_core.wire.jsonx import dumpb
from gephyr_core.wire.media import inline_media, media_urls
from gephyr_core.wire.registry import (
    client_stream_encoder,
    decode_upstream_response,
    encode_client_response,
    encode_upstream_request,
    upstream_stream_decoder,
)
from gephyr_core.wire.sse import SSEParser

_DIRECT = Egress()
Answered = Callable[[int, Mapping[str, str], bytes], None]  # status, headers, error body


def _network(exc: Exception) -> AttemptFailed:
    name = type(exc).__name__
    return AttemptFailed(ErrorInfo("upstream_error", 502, f"upstream unreachable ({name})"), network=True)


async def _send(
    pool: ClientPool,
    route: Egress,
    method: str,
    url: str,
    headers: dict[str, str],
    body: bytes,
    provider: str,
    observe: Answered | None = None,
) -> httpx.Response:
    client = pool.get(route.route, route.proxy)
    try:
        request = client.build_request(method, url, headers=headers, content=body)
        response = await client.send(request, stream=True)
    except httpx.HTTPError as exc:
        raise _network(exc) from exc
    if response.status_code >= 400:
        try:
            raw = await response.aread()
        except httpx.HTTPError:
            raw = b""
        finally:
            await response.aclose()
        if observe is not None:
            observe(response.status_code, response.headers, raw)
        info = classify_upstream_error(provider, response.status_code, raw)  # type: ignore[arg-type]
        retry = response.headers.get("retry-after")
        if info.retry_after is None and retry and retry.replace(".", "", 1).isdigit():
            info = ErrorInfo(info.kind, info.status, info.message, float(retry), info.code)
        raise AttemptFailed(
            info,
            signature_error=is_signature_error(response.status_code, raw),
            headers=dict(response.headers),
            body=raw,
        )
    if observe is not None:
        observe(response.status_code, response.headers, b"")
    return response


class Attempter:
    """Makes single attempts; settings are read per call so changes apply at once."""

    def __init__(self, pool: ClientPool) -> None:
        self.pool = pool
        # every upstream answer's status, headers and error body (the server's quota tap)
        self.on_answer: Callable[[Mapping[str, Any], str, str, int, Mapping[str, str], bytes], None] | None
        self.on_answer = None

    def _observer(self, cred: Credential, model: str) -> Answered | None:
        hook = self.on_answer
        if hook is None:
            return None
        return lambda status, headers, body: hook(cred.account, cred.provider, model, status, headers, body)

    def _headers(self, settings: Settings, call: ClientCall, cred: Credential, fast: bool) -> dict[str, str]:
        return outbound_headers(
            cred,
            call.headers,
            settings.get("protocols.passthrough_headers") or {},
            str(settings.get("providers.anthropic.anthropic_version")),
            fast,
            cred.account.get("profile_headers"),
            bool(settings.get("debug_logging.log_outbound_headers")),
        )

    # -- fast path -------------------------------------------------------------------------
    async def fast(
        self, settings: Settings, call: ClientCall, cred: Credential, model: str, route: Egress = _DIRECT
    ) -> Outcome:
        """Forward the client's bytes (model rewritten at most) and stream the answer back."""
        body, drop_usage = self._fast_body(call, model)
        url = self._fast_url(call, cred, model)
        headers = self._headers(settings, call, cred, fast=True)
        response = await _send(
            self.pool, route, "POST", url, headers, body, cred.provider, self._observer(cred, model)
        )
        tap = UsageTap(cred.provider, streaming=call.stream)
        if not call.stream:
            try:
                data = await response.aread()
            except httpx.HTTPError as exc:
                raise _network(exc) from exc
            finally:
                await response.aclose()
            tap.feed(data)
            usage = tap.close()
            return Outcome(
                response.status_code,
                passthrough_headers(response.headers),
                body=data,
                media_type=response.headers.get("content-type", "application/json"),
                usage=lambda: usage,
            )
        first, rest = await self._first_bytes(settings, response, call)
        tap.feed(first)
        chunks = _relay_bytes(first, rest, response, tap, drop_usage, call)
        headers_out = {**passthrough_headers(response.headers), **STREAM_HEADERS}
        return Outcome(
            response.status_code,
            headers_out,
            chunks=chunks,
            media_type=response.headers.get("content-type", "text/event-stream"),
            usage=lambda: tap.usage,  # complete once the stream has ended (the tap closes then)
        )

    def _fast_body(self, call: ClientCall, model: str) -> tuple[bytes, bool]:
        if call.fmt == "gemini":
            return call.raw, False
        body = call.body
        drop_usage = False
        if call.fmt == "chat" and call.stream and call.action == "generate":
            options = body.get("stream_options")
            if not (isinstance(options, dict) and options.get("include_usage") is True):
                body = {
                    **body,
                    "stream_options": {
                        **(options if isinstance(options, dict) else {}),
                        "include_usage": True,
                    },
                }
                drop_usage = True
        if body.get("model") == model and body is call.body:
            return call.raw, False
        return dumpb({**body, "model": model}), drop_usage

    def _fast_url(self, call: ClientCall, cred: Credential, model: str) -> str:
        if call.fmt != "gemini":
            return endpoint(cred, model, call.action, call.stream)
        action = (
            "countTokens"
            if call.action == "count"
            else ("streamGenerateContent" if call.stream else "generateContent")
        )
        url = f"{cred.base_url}/v1beta/models/{quote(model, safe='')}:{action}"
        return url + "?alt=sse" if call.stream and call.gemini_sse else url

    async def _first_bytes(
        self, settings: Settings, response: httpx.Response, call: ClientCall
    ) -> tuple[bytes, AsyncIterator[bytes]]:
        """Read until the first meaningful event; failures here are attempt failures."""
        iterator = response.aiter_bytes()
        parser = SSEParser() if call.fmt != "gemini" or call.gemini_sse else None
        buffered = bytearray()
        timeout = float(settings.get("routing.first_byte_timeout_seconds"))
        async with _closing_on_failure(response), asyncio.timeout(timeout):
            async for chunk in iterator:
                buffered += chunk
                if parser is None:
                    if chunk.strip(b"[ \r\n"):
                        return bytes(buffered), iterator
                    continue
                events = parser.feed(chunk)
                if any(e.event == "error" or e.data.startswith('{"error"') for e in events):
                    raise AttemptFailed(ErrorInfo("upstream_error", 502, _error_text(events)))
                if any(is_meaningful(e.data, e.event) for e in events):
                    return bytes(buffered), iterator
        await response.aclose()
        raise AttemptFailed(
            ErrorInfo("upstream_error", 502, "upstream closed the stream before any event"), network=True
        )

    async def count_translated(
        self, settings: Settings, call: ClientCall, cred: Credential, model: str, route: Egress = _DIRECT
    ) -> int:
        """Native counting on an account of the other family (anthropic ⇄ gemini)."""
        request = call.for_upstream(model)
        body = encode_upstream_request(cred.provider, request, self._options(settings))  # type: ignore[arg-type]
        if cred.provider == "anthropic":
            payload: dict[str, Any] = {
                k: body[k]
                for k in ("model", "messages", "system", "tools", "tool_choice", "thinking")
                if k in body
            }
        else:
            inner = {k: body[k] for k in ("contents", "systemInstruction", "tools") if k in body}
            payload = {"generateContentRequest": {"model": f"models/{model}", **inner}}
        headers = self._headers(settings, call, cred, fast=False)
        response = await _send(
            self.pool, route, "POST", endpoint(cred, model, "count", False), headers, dumpb(payload),
            cred.provider,
        )
        try:
            data = json.loads(await response.aread())
        except (httpx.HTTPError, ValueError) as exc:
            raise _network(exc) from exc
        finally:
            await response.aclose()
        value = data.get("input_tokens" if cred.provider == "anthropic" else "totalTokens")
        if not isinstance(value, int):
            raise AttemptFailed(ErrorInfo("upstream_error", 502, "upstream count answer has no token count"))
        return value

    async def _inline_media(self, settings: Settings, request: Request, route: Egress) -> Request:
        """Gemini takes media inline: fetch http(s) URLs (bounded, SSRF-guarded) on the attempt's route."""
        urls = media_urls(request.messages)
        if not urls:
            return request
        fetched = await fetch_media(self.pool.get(route.route, route.proxy), urls, settings)
        return dataclasses.replace(request, messages=inline_media(request.messages, fetched))

    def _options(self, settings: Settings) -> EncodeOptions:
        return EncodeOptions(
            gemini_schema_mode=settings.get("protocols.gemini_schema_mode"),
            default_max_output_tokens=int(settings.get("protocols.default_max_output_tokens")),
            openai_max_tokens_field=settings.get("protocols.openai_max_tokens_field"),
        )

    # -- translated path ---------------------------------------------------------------
    async def translated(
        self, settings: Settings, call: ClientCall, cred: Credential, model: str, route: Egress = _DIRECT
    ) -> Outcome:
        """Decode, encode for the account's provider, stream back translated (or aggregated)."""
        provider = cred.provider
        request = call.for_upstream(model)
        if provider == "gemini":
            request = await self._inline_media(settings, request, route)
        body = encode_upstream_request(provider, request, self._options(settings))  # type: ignore[arg-type]
        # Whole answers are asked for whole where the provider allows it (one JSON body to
        # decode instead of a stream to fold); openai upstreams are always streamed (§1.3).
        upstream_stream = call.stream or provider == "openai"
        if provider == "anthropic":
            body["stream"] = upstream_stream
        headers = self._headers(settings, call, cred, fast=False)
        url = endpoint(cred, model, "generate", upstream_stream)
        response = await _send(
            self.pool, route, "POST", url, headers, dumpb(body), provider, self._observer(cred, model)
        )
        upstream_ctx = UpstreamContext.for_request(request, provider)  # type: ignore[arg-type]
        ctx = ClientContext(call.canonical(), created=int(time.time()))
        if not upstream_stream:
            answer = await _whole_json(response)
            decoded = decode_upstream_response(provider, answer, upstream_ctx)  # type: ignore[arg-type]
            body_out = dumpb(encode_client_response(call.fmt, decoded, ctx))
            return Outcome(200, {}, body=body_out, usage=lambda: decoded.usage)
        decoder = upstream_stream_decoder(provider, upstream_ctx)  # type: ignore[arg-type]
        events = _events(response, decoder)
        if not call.stream:
            try:
                collected = await _collect(events)
            finally:
                await response.aclose()  # also when the upstream broke mid-answer
            whole = aggregate(collected)
            data = encode_client_response(call.fmt, whole, ctx)
            return Outcome(200, {}, body=dumpb(data), usage=lambda: whole.usage)
        encoder = client_stream_encoder(call.fmt, ctx, gemini_sse=call.gemini_sse)
        first = await _first_events(
            events, response, float(settings.get("routing.first_byte_timeout_seconds"))
        )
        media = "application/json" if call.fmt == "gemini" and not call.gemini_sse else "text/event-stream"
        seen = [Usage()]  # the latest UsageUpdate, read when the stream has ended
        return Outcome(
            200,
            dict(STREAM_HEADERS),
            chunks=_encode(first, events, encoder, response, seen),
            media_type=media,
            usage=lambda: seen[0],
        )


async def _whole_json(response: httpx.Response) -> Any:
    """A whole upstream JSON answer; a broken or non-JSON body fails the attempt."""
    try:
        return json.loads(await response.aread())
    except (httpx.HTTPError, ValueError) as exc:
        raise _network(exc) from exc
    finally:
        await response.aclose()


async def _collect(events: AsyncIterator[Any]) -> list[Any]:
    """Every event of a whole answer (non-stream clients); an in-band error fails the attempt."""
    collected = [e async for e in _guard_network(events)]
    for e in collected:
        if isinstance(e, StreamError):
            raise AttemptFailed(e.error)
    return collected


async def _first_events(events: AsyncIterator[Any], response: httpx.Response, timeout: float) -> list[Any]:
    """Events up to the first meaningful one; failures before it are attempt failures."""
    first: list[Any] = []
    async with _closing_on_failure(response), asyncio.timeout(timeout):
        async for event in events:
            if isinstance(event, StreamError):
                raise AttemptFailed(event.error)
            first.append(event)
            if type(event).__name__ != "Start":
                break
    return first


@contextlib.asynccontextmanager
async def _closing_on_failure(response: httpx.Response) -> AsyncIterator[None]:
    """Before the first byte: close the upstream on any failure; network trouble fails the attempt."""
    try:
        yield
    except (httpx.HTTPError, TimeoutError) as exc:
        await response.aclose()
        raise _network(exc) from exc
    except AttemptFailed:
        await response.aclose()
        raise


def _error_text(events: list[Any]) -> str:
    for e in events:
        try:
            obj = json.loads(e.data)
        except ValueError:
            continue
        err = obj.get("error") if isinstance(obj, dict) else None
        if isinstance(err, dict) and err.get("message"):
            return str(err["message"])
    return "upstream reported an error before the first event"


async def _events(response: httpx.Response, decoder: Any) -> AsyncIterator[Any]:
    parser = SSEParser()
    async for chunk in response.aiter_bytes():
        for sse in parser.feed(chunk):
            for event in decoder.feed(sse.data, sse.event):
                yield event
    for sse in parser.close():
        for event in decoder.feed(sse.data, sse.event):
            yield event
    for event in decoder.close():
        yield event


async def _guard_network(events: AsyncIterator[Any]) -> AsyncIterator[Any]:
    try:
        async for event in events:
            yield event
    except httpx.HTTPError as exc:
        raise _network(exc) from exc


async def _encode(
    first: list[Any], events: AsyncIterator[Any], encoder: Any, response: httpx.Response, seen: list[Usage]
) -> AsyncIterator[bytes]:
    """Encode canonical events for the client; a broken upstream becomes one in-band error."""
    from gephyr_core.wire.anthropic_stream import interruption

    try:
        for event in first:
            if type(event) is UsageUpdate:
                seen[0] = event.usage
            yield encoder.feed(event)
        try:
            async for event in events:
                if type(event) is UsageUpdate:
                    seen[0] = event.usage
                elif type(event) is StreamError:  # a cut upstream, or its own in-band error
                    mark_interrupted(event.error.message)
                frame = encoder.feed(event)
                if frame:
                    yield frame
                if encoder.done:
                    break
        except httpx.HTTPError as exc:
            if not encoder.done:
                mark_interrupted(f"upstream connection lost ({type(exc).__name__})")
                yield encoder.feed(interruption())
    finally:
        await response.aclose()


async def _relay_bytes(
    first: bytes,
    rest: AsyncIterator[bytes],
    response: httpx.Response,
    tap: UsageTap,
    drop_usage: bool,
    call: ClientCall,
) -> AsyncIterator[bytes]:
    """Pass upstream bytes through; only the injected usage-only chat chunk is removed.

    A stream that breaks or ends without its format's terminator gets one in-band error.
    """
    from gephyr_core.relay.frames import TERMINATORS, UPSTREAM_ERRORS, UsageChunkFilter, inband_error

    filt = UsageChunkFilter() if drop_usage else None
    # a terminator or the upstream's own in-band error ends the stream: no error of ours after it
    markers = (TERMINATORS.get(call.fmt, b""), *UPSTREAM_ERRORS.get(call.fmt, ()))
    ended = any(m in first for m in markers)
    tail = first[-16:]
    problem = "upstream ended the stream before it finished"
    try:
        yield filt.feed(first) if filt else first
        try:
            async for chunk in rest:
                tap.feed(chunk)
                ended = ended or any(m in tail + chunk for m in markers)
                tail = chunk[-16:]
                out = filt.feed(chunk) if filt else chunk
                if out:
                    yield out
        except httpx.HTTPError as exc:
            problem = f"upstream connection lost ({type(exc).__name__})"
        if filt:
            rest_frames = filt.close()
            if rest_frames:
                yield rest_frames
        if not ended:
            mark_interrupted(problem)
            yield inband_error(call.fmt, call.gemini_sse, problem)
    finally:
        tap.close()
        await response.aclose()
