"""Request checks the real APIs make, with messages modelled on theirs.

Each function returns ``None`` for a valid body, else an :class:`Invalid` the emulator turns
into a provider-shaped 400. Only the checks that matter to a relay are modelled: required
fields, empty texts, tool-call/result pairing, identifier patterns.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

_OPENAI_TOOL_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
_ANTHROPIC_TOOL_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,128}$")
_ANTHROPIC_ID = re.compile(r"^[a-zA-Z0-9_-]+$")
_GEMINI_TOOL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_.:-]{0,63}$")
_OPENAI_ROLES = ("system", "developer", "user", "assistant", "tool", "function")
GEMINI_SIGNATURE_BYPASS = frozenset(
    {"skip_thought_signature_validator", "context_engineering_is_the_way_to_go"}
)


@dataclass
class Invalid:
    message: str
    param: str | None = None
    code: str | None = None


def _blocks(content: Any) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    if isinstance(content, list):
        return [b for b in content if isinstance(b, dict)]
    return []


def validate_openai_chat(body: Any) -> Invalid | None:
    if not isinstance(body, dict):
        return Invalid("We could not parse the JSON body of your request.")
    if not body.get("model"):
        return Invalid("you must provide a model parameter", None, None)
    messages = body.get("messages")
    if messages is None:
        return Invalid("Missing required parameter: 'messages'.", "messages", "missing_required_parameter")
    if not isinstance(messages, list) or not messages:
        return Invalid(
            "Invalid 'messages': empty array. Expected an array with minimum length 1, "
            "but got an empty array instead.",
            "messages",
            "empty_array",
        )
    if body.get("stream_options") is not None and not body.get("stream"):
        return Invalid(
            "The 'stream_options' parameter is only allowed when 'stream' is enabled.",
            "stream_options",
        )
    for i, tool in enumerate(body.get("tools") or []):
        name = (tool.get("function") or {}).get("name", "") if isinstance(tool, dict) else ""
        if not _OPENAI_TOOL_NAME.match(str(name)):
            return Invalid(
                f"Invalid 'tools[{i}].function.name': string does not match pattern. "
                "Expected a string that matches the pattern '^[a-zA-Z0-9_-]+$'.",
                f"tools[{i}].function.name",
                "invalid_value",
            )
    return _openai_message_order(messages)


def _openai_message_order(messages: list[Any]) -> Invalid | None:
    open_calls: list[str] = []
    for i, message in enumerate(messages):
        role = message.get("role") if isinstance(message, dict) else None
        if role not in _OPENAI_ROLES:
            return Invalid(
                f"Invalid value: '{role}'. Supported values are: 'system', 'assistant', 'user', "
                "'function', 'tool', and 'developer'.",
                f"messages[{i}].role",
                "invalid_value",
            )
        assert isinstance(message, dict)
        if role == "tool":
            call_id = message.get("tool_call_id")
            if call_id not in open_calls:
                return Invalid(
                    "Invalid parameter: messages with role 'tool' must be a response to a "
                    "preceeding message with 'tool_calls'.",
                    f"messages.[{i}].role",
                )
            open_calls.remove(call_id)
            continue
        if open_calls:
            return Invalid(
                "An assistant message with 'tool_calls' must be followed by tool messages "
                "responding to each 'tool_call_id'. The following tool_call_ids did not have "
                f"response messages: {', '.join(open_calls)}",
                f"messages.[{i}].role",
            )
        if role == "assistant":
            open_calls = [c.get("id") for c in message.get("tool_calls") or []]
    if open_calls:
        return Invalid(
            "An assistant message with 'tool_calls' must be followed by tool messages responding "
            f"to each 'tool_call_id'. The following tool_call_ids did not have response "
            f"messages: {', '.join(open_calls)}",
            "messages",
        )
    return None


def validate_anthropic(body: Any, *, count_tokens: bool = False) -> Invalid | None:
    if not isinstance(body, dict):
        return Invalid("Request body must be a JSON object")
    required = ("model", "messages") if count_tokens else ("model", "max_tokens", "messages")
    for name in required:
        if name not in body:
            return Invalid(f"{name}: Field required")
    if not count_tokens and (not isinstance(body["max_tokens"], int) or body["max_tokens"] < 1):
        return Invalid("max_tokens: Input should be greater than or equal to 1")
    messages = body["messages"]
    if not isinstance(messages, list) or not messages:
        return Invalid("messages: at least one message is required")
    system = body.get("system")
    if isinstance(system, list) and any(not b.get("text") for b in _blocks(system)):
        return Invalid("system: text content blocks must be non-empty")
    for i, tool in enumerate(body.get("tools") or []):
        if "name" in tool and not _ANTHROPIC_TOOL_NAME.match(str(tool["name"])):
            return Invalid(f"tools.{i}.custom.name: String should match pattern '^[a-zA-Z0-9_-]{{1,128}}$'")
    problem = _anthropic_thinking(body) if not count_tokens else None
    return problem or _anthropic_messages(messages)


def _anthropic_thinking(body: dict[str, Any]) -> Invalid | None:
    thinking = body.get("thinking")
    if not isinstance(thinking, dict) or thinking.get("type") != "enabled":
        return None
    budget = thinking.get("budget_tokens")
    if not isinstance(budget, int) or budget < 1024:
        return Invalid("thinking.enabled.budget_tokens: Input should be greater than or equal to 1024")
    if budget >= body["max_tokens"]:
        return Invalid(
            "`max_tokens` must be greater than `thinking.budget_tokens`. Please consult our "
            "documentation at https://docs.claude.com/en/docs/build-with-claude/extended-thinking"
        )
    return None


def _unanswered(index: int, ids: list[str]) -> Invalid:
    return Invalid(
        f"messages.{index}: `tool_use` ids were found without `tool_result` blocks immediately "
        f"after: {', '.join(ids)}. Each `tool_use` block must have a corresponding "
        "`tool_result` block in the next message."
    )


def _anthropic_content(i: int, message: dict[str, Any], final: bool) -> Invalid | None:
    blocks = _blocks(message.get("content"))
    if (not blocks or message.get("content") == "") and not final:
        return Invalid(
            f"messages.{i}: all messages must have non-empty content except for the "
            "optional final assistant message"
        )
    if any(b.get("type") == "text" and not b.get("text") for b in blocks):
        return Invalid("messages: text content blocks must be non-empty")
    for j, block in enumerate(blocks):
        if block.get("type") == "tool_use" and not _ANTHROPIC_ID.match(str(block.get("id", ""))):
            return Invalid(
                f"messages.{i}.content.{j}.tool_use.id: String should match pattern '^[a-zA-Z0-9_-]+$'"
            )
    text = blocks[-1].get("text") if final and blocks else None
    if isinstance(text, str) and text != text.rstrip():
        return Invalid("messages: final assistant content cannot end with trailing whitespace")
    return None


def _anthropic_messages(messages: list[Any]) -> Invalid | None:
    pending: list[str] = []
    last = len(messages) - 1
    for i, message in enumerate(messages):
        role = message.get("role") if isinstance(message, dict) else None
        if not isinstance(message, dict) or role not in ("user", "assistant"):
            return Invalid(f"messages.{i}.role: Input should be 'user' or 'assistant'")
        problem = _anthropic_content(i, message, final=i == last and role == "assistant")
        if problem:
            return problem
        blocks = _blocks(message.get("content"))
        results = [b.get("tool_use_id") for b in blocks if b.get("type") == "tool_result"]
        unexpected = [r for r in results if r not in pending]
        if unexpected:
            return Invalid(
                f"messages.{i}.content.0: unexpected `tool_use_id` found in `tool_result` blocks: "
                f"{unexpected[0]}. Each `tool_result` block must have a corresponding `tool_use` "
                "block in the previous message."
            )
        missing = [p for p in pending if p not in results]
        if missing:
            return _unanswered(i - 1, missing)
        pending = [str(b["id"]) for b in blocks if b.get("type") == "tool_use"]
        if role == "user":
            pending = []
    return _unanswered(last, pending) if pending else None


def _part_ok(part: Any) -> bool:
    if not isinstance(part, dict):
        return False
    data = {
        k: v
        for k, v in part.items()
        if k not in ("thought", "thoughtSignature", "thought_signature", "partMetadata")
    }
    return any(v not in ("", None, {}) for v in data.values())


def _has(part: dict[str, Any], camel: str, snake: str) -> bool:
    return camel in part or snake in part


def _gemini_tools(body: dict[str, Any]) -> Invalid | None:
    for tool in body.get("tools") or []:
        decls = tool.get("functionDeclarations") or tool.get("function_declarations") or []
        for j, decl in enumerate(decls):
            if not _GEMINI_TOOL_NAME.match(str(decl.get("name", ""))):
                return Invalid(
                    f"* GenerateContentRequest.tools[0].function_declarations[{j}].name: Invalid "
                    "function name. Must start with a letter or an underscore. Must be alphameric "
                    "(a-z, A-Z, 0-9), underscores (_), dots (.), colons (:), or dashes (-), with a "
                    "maximum length of 64.\n"
                )
    return None


def _gemini_content(i: int, content: Any) -> Invalid | None:
    role = content.get("role", "user") if isinstance(content, dict) else None
    if not isinstance(content, dict) or role not in ("user", "model"):
        return Invalid("Please use a valid role: user, model.")
    parts = content.get("parts")
    if not parts or not isinstance(parts, list):
        return Invalid(f"* GenerateContentRequest.contents[{i}].parts: contents.parts must not be empty.\n")
    for j, part in enumerate(parts):
        if not _part_ok(part):
            return Invalid(
                f"* GenerateContentRequest.contents[{i}].parts[{j}].data: required oneof "
                "field 'data' must have one initialized field\n"
            )
    return None


def validate_gemini(body: Any, model: str) -> Invalid | None:
    if not isinstance(body, dict):
        return Invalid("Invalid JSON payload received. Expected an object.")
    contents = body.get("contents")
    if not contents or not isinstance(contents, list):
        return Invalid("* GenerateContentRequest.contents: contents is not specified\n")
    problem = _gemini_tools(body)
    calls_open = 0
    for i, content in enumerate(contents):
        problem = problem or _gemini_content(i, content)
        if problem:
            return problem
        parts = content["parts"]
        responses = sum(1 for p in parts if _has(p, "functionResponse", "function_response"))
        if calls_open and responses != calls_open:
            return Invalid(
                "Please ensure that the number of function response parts is equal to the number "
                "of function call parts of the function call turn."
            )
        calls_open = 0
        if content.get("role") == "model":
            calls_open = sum(1 for p in parts if _has(p, "functionCall", "function_call"))
    return _gemini_signatures(contents) if model.startswith("gemini-3") else problem


def _gemini_signatures(contents: list[dict[str, Any]]) -> Invalid | None:
    """Gemini 3: the first functionCall of each model step in the current turn needs one."""
    start = 0
    for i, content in enumerate(contents):
        parts = content.get("parts") or []
        if content.get("role", "user") == "user" and any(
            not _has(p, "functionResponse", "function_response") for p in parts
        ):
            start = i
    for i, content in enumerate(contents[start:], start):
        calls = [p for p in content.get("parts") or [] if _has(p, "functionCall", "function_call")]
        if content.get("role") == "model" and calls:
            signature = calls[0].get("thoughtSignature") or calls[0].get("thought_signature")
            if not signature:
                name = (calls[0].get("functionCall") or calls[0].get("function_call") or {}).get("name")
                return Invalid(
                    "Function call is missing a thought_signature in functionCall parts. This is "
                    "required for tools to work correctly, and missing thought_signature may lead "
                    f"to degraded model performance. Additional data, function call `{name}` , "
                    f"position {i + 1}. Please refer to "
                    "https://ai.google.dev/gemini-api/docs/thought-signatures for more details."
                )
    return None
