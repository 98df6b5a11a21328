"""The three callback result pages (oauth.md §5); every interpolated value is escaped."""

from __future__ import annotations

from html import escape

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Gephyr: {title}</title></head>
<body style="font-family: sans-serif; max-width: 40em; margin: 4em auto">
<h1>{title}</h1><p>{text}</p></body></html>
"""


def page(phase: str, detail: str) -> str:
    """Refused, failed (with the detail) or received: linking continues."""
    if phase == "rejected":
        return _PAGE.format(title="Authorization refused", text="You declined access; no account was linked.")
    if phase == "failed":
        return _PAGE.format(title="Authorization failed", text=escape(detail))
    return _PAGE.format(
        title="Authorization received",
        text="Gephyr is linking the account; you may close this window.",
    )
