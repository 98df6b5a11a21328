"""Client tool sync (integrations.md §1): point Claude Code, Codex, Gemini CLI and OpenCode
at the relay by editing exactly the documented keys of their config files, with backups.

`targets` says which keys each tool's files get, `formats` parses and dumps JSON, TOML and
`.env` files, `sync` runs status / sync / restore / show under one home directory, and
`detect` finds the tool's executable and version.
"""

from gephyr_core.integrations.sync import restore, show, status, sync
from gephyr_core.integrations.targets import TARGETS, Link, Target, find_target

__all__ = ["TARGETS", "Link", "Target", "find_target", "restore", "show", "status", "sync"]
