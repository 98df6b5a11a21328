"""Minted ids, tool names (§1.3, §4.4) and the gph1. carrier (§4.7)."""

from __future__ import annotations

import random
import re

from hypothesis import given
from hypothesis import strategies as st

from gephyr_core.wire import carrier
from gephyr_core.wire.canonical import Signature, ThinkingPart
from gephyr_core.wire.ids import (
    GEMINI_NAME,
    OPENAI_NAME,
    TOOL_ID,
    IdMinter,
    mint_id,
    sanitize_history_id,
    sha8,
    upstream_tool_name,
)


def test_mint_id_shape() -> None:
    for prefix in ("chatcmpl-", "cmpl-", "resp_", "msg_", "rs_", "fc_", "call_"):
        minted = mint_id(prefix)
        assert re.fullmatch(re.escape(prefix) + r"[0-9A-Za-z]{24}", minted)
    assert mint_id("x", random.Random(3)) == mint_id("x", random.Random(3))


def test_sanitize_history_id_golden() -> None:
    assert sanitize_history_id("call_abc-1") == "call_abc-1"
    assert sanitize_history_id("functions.Bash:0") == f"functions_Bash_0_{sha8('functions.Bash:0')}"
    long_id = "a" * 80
    assert sanitize_history_id(long_id) == "a" * 55 + "_" + sha8(long_id)


@given(st.text(max_size=90))
def test_sanitized_history_ids_are_valid_and_deterministic(raw: str) -> None:
    assert TOOL_ID.match(sanitize_history_id(raw))
    assert sanitize_history_id(raw) == sanitize_history_id(raw)


def test_minter_keeps_valid_unused_ids_and_replaces_others() -> None:
    minter = IdMinter(used={"call_0"}, rng=random.Random(0))
    assert minter.take("toolu_1") == "toolu_1"
    again = minter.take("toolu_1")
    reused = minter.take("call_0")
    bad = minter.take("functions.Bash:0")
    empty = minter.take(None)
    for minted in (again, reused, bad, empty):
        assert re.fullmatch(r"call_[0-9A-Za-z]{24}", minted)
    assert len({again, reused, bad, empty}) == 4


def test_upstream_tool_name_golden() -> None:
    assert upstream_tool_name("get_weather", "openai") == "get_weather"
    assert upstream_tool_name("mcp.server:tool", "gemini") == "mcp.server:tool"
    assert (
        upstream_tool_name("mcp.server:tool", "openai")
        == f"mcp_server_tool_{sha8('mcp.server:tool')}"
    )
    assert upstream_tool_name("9lives", "gemini") == f"_9lives_{sha8('9lives')}"
    long_name = "x" * 70
    assert upstream_tool_name(long_name, "anthropic") == "x" * 55 + "_" + sha8(long_name)


@given(st.text(min_size=1, max_size=100))
def test_invariant_5_upstream_names_valid(name: str) -> None:
    assert OPENAI_NAME.match(upstream_tool_name(name, "openai"))
    assert OPENAI_NAME.match(upstream_tool_name(name, "anthropic"))
    assert GEMINI_NAME.match(upstream_tool_name(name, "gemini"))


def test_carrier_golden() -> None:
    part = ThinkingPart("hmm", Signature("anthropic", "SIG"), False, "anthropic")
    value = carrier.encode_carrier("anthropic", [part])
    assert value == "gph1.a.W3sidCI6ImhtbSIsInMiOiJTSUcifV0"
    assert carrier.decode_carrier(value, "ignored") == [part]
    gem = carrier.encode_carrier(
        "gemini", [ThinkingPart("t", Signature("gemini", "G"), False, "gemini")]
    )
    assert gem == "gph1.g.W3sicyI6IkcifV0"
    assert carrier.decode_carrier(gem, "client text") == [
        ThinkingPart("client text", Signature("gemini", "G"), False, "gemini")
    ]


def test_carrier_malformed_is_dropped() -> None:
    assert carrier.decode_carrier("gph1.z.W10") is None
    assert carrier.decode_carrier("gph1.a.%%%") is None
    assert carrier.read_slot("gph1.a.bad", "t", "anthropic") == []


def test_read_slot_provenance() -> None:
    assert carrier.read_slot("SIG", "t", "anthropic") == [
        ThinkingPart("t", Signature("anthropic", "SIG"), False, "anthropic")
    ]
    assert carrier.read_slot(None, "t", None) == [ThinkingPart("t", None, False, "foreign")]
    assert carrier.read_slot("RAW", "t", None) == [ThinkingPart("t", None, False, "foreign")]
    assert carrier.read_slot("", "", "anthropic") == []


def test_write_slot_native_or_carrier() -> None:
    native = ThinkingPart("t", Signature("anthropic", "S"), False, "anthropic")
    assert carrier.write_slot(native, "anthropic") == "S"
    assert carrier.write_slot(native, "gemini") == carrier.encode_carrier("anthropic", [native])
    openai = ThinkingPart("why", None, False, "openai")
    assert carrier.write_slot(openai, "anthropic") == carrier.encode_carrier("openai", [openai])
    assert carrier.write_slot(ThinkingPart("t", None, False, "gemini"), "anthropic") is None


providers = st.sampled_from(["anthropic", "gemini", "openai"])
sig_values = st.text(alphabet=st.characters(blacklist_characters="."), min_size=1, max_size=30)


@given(
    providers,
    st.lists(st.tuples(st.text(max_size=20), sig_values, st.booleans()), min_size=1, max_size=4),
)
def test_invariant_7_carrier_roundtrip_never_alters_signatures(
    provider: str, items: list[tuple[str, str, bool]]
) -> None:
    parts = [
        ThinkingPart("" if red else text, Signature(provider, sig), red, provider)  # type: ignore[arg-type]
        for text, sig, red in items
    ]
    value = carrier.encode_carrier(provider, parts)  # type: ignore[arg-type]
    assert value.startswith("gph1.") and "=" not in value
    decoded = carrier.decode_carrier(value, "x")
    assert decoded is not None
    assert [p.signature for p in decoded] == [p.signature for p in parts]
    assert all(p.origin == provider for p in decoded)
