"""Case-insensitive model globs: `*` matches any run, `?` one character, nothing else is special."""

from __future__ import annotations

import functools
import re


@functools.lru_cache(maxsize=4096)
def glob_regex(pattern: str) -> re.Pattern[str]:
    """Compile a glob to an anchored, case-insensitive regex."""
    parts = (".*" if ch == "*" else "." if ch == "?" else re.escape(ch) for ch in pattern)
    return re.compile("".join(parts), re.IGNORECASE | re.DOTALL)


def glob_match(pattern: str, name: str) -> bool:
    """True when `name` matches `pattern` as a whole."""
    return glob_regex(pattern).fullmatch(name) is not None


def matches_any(patterns: list[str], name: str) -> bool:
    """True when any pattern matches."""
    return any(glob_match(p, name) for p in patterns)


def specificity(pattern: str) -> tuple[int, int]:
    """Sort key: more literal characters first, then fewer wildcards."""
    wild = pattern.count("*") + pattern.count("?")
    return (len(pattern) - wild, -wild)
