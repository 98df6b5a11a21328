"""Error bodies per client format and upstream classification (§6)."""

from __future__ import annotations

import pytest

from gephyr_core.wire.canonical import ErrorInfo
from gephyr_core.wire.errors import (
    WireError,
    classify_upstream_error,
    is_signature_error,
    parse_duration,
    render_error,
    retry_after_headers,
)


@pytest.mark.parametrize(
    ("kind", "openai", "anthropic", "gemini"),
    [
        (
            "invalid_request",
            (400, "invalid_request_error", None),
            (400, "invalid_request_error"),
            (400, "INVALID_ARGUMENT"),
        ),
        (
            "context_too_long",
            (400, "invalid_request_error", "context_length_exceeded"),
            (400, "invalid_request_error"),
            (400, "INVALID_ARGUMENT"),
        ),
        (
            "authentication",
            (401, "authentication_error", "invalid_api_key"),
            (401, "authentication_error"),
            (401, "UNAUTHENTICATED"),
        ),
        (
            "permission",
            (403, "permission_error", None),
            (403, "permission_error"),
            (403, "PERMISSION_DENIED"),
        ),
        (
            "not_found",
            (404, "not_found_error", "model_not_found"),
            (404, "not_found_error"),
            (404, "NOT_FOUND"),
        ),
        (
            "too_large",
            (413, "invalid_request_error", "request_too_large"),
            (413, "request_too_large"),
            (413, "INVALID_ARGUMENT"),
        ),
        (
            "rate_limited",
            (429, "rate_limit_error", "rate_limit_exceeded"),
            (429, "rate_limit_error"),
            (429, "RESOURCE_EXHAUSTED"),
        ),
        (
            "quota_exhausted",
            (429, "rate_limit_error", "insufficient_quota"),
            (429, "rate_limit_error"),
            (429, "RESOURCE_EXHAUSTED"),
        ),
        (
            "overloaded",
            (503, "server_error", "overloaded"),
            (529, "overloaded_error"),
            (503, "UNAVAILABLE"),
        ),
        (
            "upstream_error",
            (502, "server_error", "upstream_error"),
            (502, "api_error"),
            (500, "INTERNAL"),
        ),
        (
            "unavailable",
            (503, "server_error", "no_account_available"),
            (503, "api_error"),
            (503, "UNAVAILABLE"),
        ),
        (
            "timeout",
            (504, "server_error", "timeout"),
            (504, "timeout_error"),
            (504, "DEADLINE_EXCEEDED"),
        ),
    ],
)
def test_render_error_table(
    kind: str,
    openai: tuple[int, str, str | None],
    anthropic: tuple[int, str],
    gemini: tuple[int, str],
) -> None:
    err = ErrorInfo(kind, 502, "boom")
    for fmt in ("chat", "completions", "responses"):
        assert render_error(err, fmt) == (  # type: ignore[arg-type]
            openai[0],
            {"error": {"message": "boom", "type": openai[1], "param": None, "code": openai[2]}},
        )
    assert render_error(err, "anthropic", "req_1") == (
        anthropic[0],
        {
            "type": "error",
            "error": {"type": anthropic[1], "message": "boom"},
            "request_id": "req_1",
        },
    )
    assert render_error(err, "gemini") == (
        gemini[0],
        {"error": {"code": gemini[0], "message": "boom", "status": gemini[1]}},
    )


def test_render_error_extras() -> None:
    status, body = render_error(ErrorInfo("rate_limited", 429, "slow", retry_after=1.5), "gemini")
    assert body["error"]["details"] == [
        {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "1.5s"}
    ]
    assert (
        render_error(ErrorInfo("unavailable", 503, "x", code="service_disabled"), "chat")[1][
            "error"
        ]["code"]
        == "service_disabled"
    )
    assert render_error(ErrorInfo("upstream_error", 500, "x"), "chat")[0] == 500
    assert retry_after_headers(1.2, "chat") == {"retry-after": "2", "retry-after-ms": "1200"}
    assert retry_after_headers(1.2, "gemini") == {"retry-after": "2"}


def test_wire_error_info() -> None:
    err = WireError("unsupported", "n > 1", "n")
    assert (err.kind, err.message, err.param) == ("unsupported", "n > 1", "n")
    assert err.info() == ErrorInfo("invalid_request", 400, "n > 1")


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("30s", 30.0),
        ("1.5s", 1.5),
        ("1h2m3.5s", 3723.5),
        ("200ms", 0.2),
        ("", None),
        ("soon", None),
    ],
)
def test_parse_duration(text: str, seconds: float | None) -> None:
    assert parse_duration(text) == seconds


def test_classify_upstream_errors() -> None:
    gemini_429 = {
        "error": {
            "code": 429,
            "message": "Resource has been exhausted",
            "status": "RESOURCE_EXHAUSTED",
            "details": [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "30s"}],
        }
    }
    assert classify_upstream_error("gemini", 429, gemini_429) == ErrorInfo(
        "rate_limited", 429, "Resource has been exhausted", 30.0
    )
    too_long = (
        b'{"type":"error","error":{"type":"invalid_request_error",'
        b'"message":"prompt is too long: 300000 tokens"}}'
    )
    assert classify_upstream_error("anthropic", 400, too_long).kind == "context_too_long"
    quota = {"error": {"message": "You exceeded your quota", "type": "insufficient_quota"}}
    assert classify_upstream_error("openai", 429, quota).kind == "quota_exhausted"
    assert classify_upstream_error("anthropic", 529, None).kind == "overloaded"
    assert classify_upstream_error("openai", 503, "no healthy upstream") == ErrorInfo(
        "unavailable", 503, "no healthy upstream", None, "service_disabled"
    )
    assert classify_upstream_error("openai", 504, "").kind == "timeout"
    assert classify_upstream_error("openai", 500, "").message == "upstream returned HTTP 500"
    assert classify_upstream_error("gemini", 404, [{"error": {"message": "nf"}}]).message == "nf"  # type: ignore[arg-type]


def test_signature_error_detection() -> None:
    body = {"error": {"message": "messages.1.content.0: Invalid `signature` in `thinking` block"}}
    assert is_signature_error(400, body)
    assert not is_signature_error(429, body)
    assert not is_signature_error(400, {"error": {"message": "bad signature"}})
