"""Request and response bodies of the request log (observability.md §2, "Bodies").

On the request path bytes are only copied into bounded buffers (`Bodies.request`,
`Bodies.response`); nothing is decoded or parsed there. The writer thread renders them:
text as received, a streamed answer as a summary JSON built from its native events (OpenAI
chat/completions/responses deltas, Anthropic content blocks, Gemini parts), capped and
marked `…[truncated <n> bytes]`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from gephyr_core.wire import Usage

# A stream is kept raw up to this many times the cap: its summary is far smaller than its frames.
STREAM_FACTOR = 4
_TEXTUAL = ("json", "text/", "xml", "javascript")


@dataclass(slots=True)
class Bodies:
    """The bounded copies of one request's bodies (made only when capture is on)."""

    cap: int
    req: bytearray = field(default_factory=bytearray)
    req_size: int = 0
    resp: bytearray = field(default_factory=bytearray)
    resp_size: int = 0
    resp_cap: int = 0
    content_type: str = ""

    def request(self, chunk: bytes) -> None:
        self.req_size += len(chunk)
        room = self.cap - len(self.req)
        if room > 0:
            self.req += chunk[:room]

    def start(self, headers: list[tuple[bytes, bytes]]) -> None:
        for name, value in headers:
            if name.lower() == b"content-type":
                self.content_type = value.decode("latin-1").lower()
        stream = "event-stream" in self.content_type
        self.resp_cap = self.cap * STREAM_FACTOR if stream else self.cap

    def response(self, chunk: bytes) -> None:
        self.resp_size += len(chunk)
        room = self.resp_cap - len(self.resp)
        if room > 0:
            self.resp += chunk[:room]

    def render(
        self, protocol: str | None, route: str | None, stream: bool, usage: Usage
    ) -> tuple[str | None, str | None]:
        """(request_body, response_body) as stored (writer thread)."""
        request = None
        if self.req_size:
            text = _text(bytes(self.req), self.req_size > len(self.req))
            request = "[binary request body]" if text is None else text
        return _capped(request, self.cap, self.req_size), self._response(protocol, route, stream, usage)

    def _response(self, protocol: str | None, route: str | None, stream: bool, usage: Usage) -> str | None:
        if not self.resp_size and not self.content_type:
            return None
        whole = self.resp_size == len(self.resp)
        media = self.content_type.split(";")[0].strip()
        if "event-stream" in media or (stream and protocol == "gemini"):
            summary = summarize(protocol, route, bytes(self.resp), usage) if whole else None
            if summary is not None:
                return _capped(summary, self.cap, None)
        elif media and not any(t in media for t in _TEXTUAL):
            return f"[{media}]"
        text = _text(bytes(self.resp), not whole)
        if text is None:
            return f"[{media or 'binary response body'}]"
        return _capped(text, self.cap, self.resp_size)


def _text(data: bytes, cut: bool) -> str | None:
    """UTF-8 text (a character split by the cap is dropped), or None for binary."""
    for trim in range(4 if cut else 1):
        try:
            return data[: len(data) - trim].decode("utf-8")
        except UnicodeDecodeError:
            continue
    return None


def _capped(text: str | None, cap: int, size: int | None) -> str | None:
    """`text` cut to `cap` bytes, ending with `…[truncated <n> bytes]` (n of the original)."""
    if text is None:
        return None
    raw = text.encode("utf-8")
    total = max(size or 0, len(raw))
    if total <= cap:
        return text
    kept = raw[:cap].decode("utf-8", "ignore")
    return f"{kept}…[truncated {total - len(kept.encode('utf-8'))} bytes]"


def summarize(protocol: str | None, route: str | None, data: bytes, usage: Usage) -> str | None:
    """The summary JSON of a streamed answer, or None when its events cannot be read."""
    summary = _Summary()
    try:
        objects = _payloads(data)
        fold = {
            "anthropic": summary.anthropic,
            "gemini": summary.gemini,
            "openai": summary.responses if route == "responses" else summary.openai,
        }.get(protocol or "")
        if fold is None:
            return None
        for obj in objects:
            if isinstance(obj, dict):
                fold(obj)
    except (ValueError, TypeError, AttributeError, KeyError, IndexError):
        return None
    return summary.dump(usage)


def _payloads(data: bytes) -> list[Any]:
    """The JSON objects of an SSE stream's data lines, or of a Gemini JSON-array stream."""
    text = data.decode("utf-8")
    if text.lstrip().startswith("["):
        parsed = json.loads(text)
        return parsed if isinstance(parsed, list) else [parsed]
    out = []
    for line in text.splitlines():
        if line.startswith("data:"):
            payload = line[5:].strip()
            if payload and payload != "[DONE]":
                out.append(json.loads(payload))
    return out


class _Summary:
    """Folds native stream payloads into `{content, thinking, tool_calls, finish_reason, ...}`."""

    def __init__(self) -> None:
        self.content: list[str] = []
        self.thinking: list[str] = []
        self.signature = ""
        self.tools: dict[Any, dict[str, Any]] = {}
        self.finish: str | None = None

    def _tool(self, key: Any, id_: Any = None, name: Any = None, args: str = "") -> None:
        tool = self.tools.setdefault(key, {"id": None, "name": None, "arguments": ""})
        tool["id"] = id_ or tool["id"]
        tool["name"] = name or tool["name"]
        tool["arguments"] += args

    def openai(self, obj: dict[str, Any]) -> None:
        for choice in obj.get("choices") or []:
            delta = choice.get("delta") or {}
            self.content.append(delta.get("content") or choice.get("text") or "")
            self.thinking.append(delta.get("reasoning_content") or delta.get("reasoning") or "")
            for call in delta.get("tool_calls") or []:
                fn = call.get("function") or {}
                self._tool(call.get("index", 0), call.get("id"), fn.get("name"), fn.get("arguments") or "")
            self.finish = choice.get("finish_reason") or self.finish

    def responses(self, obj: dict[str, Any]) -> None:
        kind = str(obj.get("type", ""))
        if kind == "response.output_text.delta":
            self.content.append(obj.get("delta") or "")
        elif kind.startswith("response.reasoning") and kind.endswith(".delta"):
            self.thinking.append(obj.get("delta") or "")
        elif kind == "response.output_item.done" and (obj.get("item") or {}).get("type") == "function_call":
            item = obj["item"]
            self._tool(
                item.get("call_id") or item.get("id"),
                item.get("call_id"),
                item.get("name"),
                item.get("arguments") or "",
            )
        elif kind in ("response.completed", "response.incomplete", "response.failed"):
            self.finish = (obj.get("response") or {}).get("status") or kind.rsplit(".", 1)[-1]

    def anthropic(self, obj: dict[str, Any]) -> None:
        kind = obj.get("type")
        if kind == "content_block_start" and (obj.get("content_block") or {}).get("type") == "tool_use":
            block = obj["content_block"]
            self._tool(obj.get("index"), block.get("id"), block.get("name"))
        elif kind == "content_block_delta":
            delta = obj.get("delta") or {}
            self.content.append(delta.get("text") or "")
            self.thinking.append(delta.get("thinking") or "")
            self.signature += delta.get("signature") or ""
            if delta.get("type") == "input_json_delta":
                self._tool(obj.get("index"), args=delta.get("partial_json") or "")
        elif kind == "message_delta":
            self.finish = (obj.get("delta") or {}).get("stop_reason") or self.finish

    def gemini(self, obj: dict[str, Any]) -> None:
        for cand in obj.get("candidates") or []:
            for part in (cand.get("content") or {}).get("parts") or []:
                text = part.get("text") or ""
                (self.thinking if part.get("thought") else self.content).append(text)
                self.signature += part.get("thoughtSignature") or ""
                call = part.get("functionCall")
                if isinstance(call, dict):
                    args = json.dumps(call.get("args") or {}, ensure_ascii=False)
                    self._tool(len(self.tools), call.get("id"), call.get("name"), args)
            self.finish = cand.get("finishReason") or self.finish

    def dump(self, usage: Usage) -> str | None:
        out: dict[str, Any] = {
            "content": "".join(self.content),
            "thinking": "".join(self.thinking),
            "thinking_signature": self.signature,
            "tool_calls": [
                {"id": t["id"], "name": t["name"], "arguments": t["arguments"]} for t in self.tools.values()
            ],
            "finish_reason": self.finish,
            "input_tokens": usage.input_total,
            "output_tokens": usage.output_total,
        }
        if not (out["content"] or out["thinking"] or out["tool_calls"] or out["finish_reason"]):
            return None
        return json.dumps({k: v for k, v in out.items() if v}, ensure_ascii=False)
