"""Generate the CLI's shell completions, man pages and README reference from its command tree.

Everything is derived by walking the command tree Typer builds from `gephyr_cli.app.app`, so new
commands and options appear without touching this module. Output is deterministic (no dates, no
paths). `python -m gephyr_cli.docgen` rewrites the files; `--check` lists stale ones and exits 1;
`tests/test_generated.py` runs the same generator in memory to catch drift.
"""

from __future__ import annotations

import argparse
import inspect
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

import typer
from typer import _click
from typer._click.shell_completion import ShellComplete, get_completion_class
from typer._completion_classes import completion_init
from typer.core import TyperArgument, TyperGroup, TyperOption
from typer.main import get_command

from gephyr_cli.app import app
from gephyr_core import __version__

PROG = "gephyr"
COMPLETE_VAR = "_GEPHYR_COMPLETE"
SHELLS = ("bash", "zsh", "fish")
README = "README.md"
START, END = "<!-- cli-reference:start -->", "<!-- cli-reference:end -->"
REPO_ROOT = Path(__file__).resolve().parent.parent
EXIT_STATUS: tuple[tuple[int, str], ...] = (
    (0, "Success."),
    (1, "The operation failed."),
    (2, "Usage error: bad arguments, options or input."),
    (3, "Not found: the account, key or setting does not exist."),
    (4, "Authentication or authorisation failed."),
    (5, "Needs confirmation (re-run with the confirming option) or conflicts with the current state."),
    (6, "The gephyr server is unreachable or not running."),
    (130, "Interrupted (Ctrl-C)."),
)


@dataclass(frozen=True)
class Node:
    """One command or group in the tree, with the context it would run in."""

    ctx: typer.Context
    command: _click.Command

    @property
    def path(self) -> str:
        return self.ctx.command_path

    @property
    def page(self) -> str:
        return self.path.replace(" ", "-")

    def children(self) -> list[Node]:
        group = self.command
        if not isinstance(group, TyperGroup):
            return []
        subs = [(name, group.get_command(self.ctx, name)) for name in group.list_commands(self.ctx)]
        return [
            Node(typer.Context(sub, info_name=name, parent=self.ctx, **sub.context_settings), sub)
            for name, sub in subs
            if sub is not None and not sub.hidden
        ]


def walk(node: Node | None = None) -> list[Node]:
    """Every visible command and group, root first, depth first in registration order."""
    if node is None:
        root = get_command(app)
        node = Node(typer.Context(root, info_name=PROG, **root.context_settings), root)
    return [node, *(n for child in node.children() for n in walk(child))]


def help_text(command: _click.Command) -> str:
    """The command's help as `--help` shows it, without Click's `\\f` tail or `\\b` markers."""
    text = inspect.cleandoc((command.help or "").split("\f", 1)[0])
    return "\n".join(line for line in text.splitlines() if line.strip() != "\b").strip()


def summary(command: _click.Command) -> str:
    """The one-line help: `short_help`, else the first paragraph joined into one line."""
    first = (command.short_help or help_text(command)).split("\n\n", 1)[0]
    return " ".join(first.split())


def usage(node: Node) -> str:
    return " ".join([node.path, *node.command.collect_usage_pieces(node.ctx)])


def _plain(value: object) -> str:
    text = str(value.value if isinstance(value, Enum) else value)
    home = str(Path.home())
    return text.replace(home, "~") if len(home) > 1 else text


def default_text(param: TyperOption | TyperArgument, ctx: typer.Context) -> str | None:
    """The default as a user would type it, or None when there is nothing worth showing."""
    if isinstance(param.show_default, str):
        return param.show_default
    if not (param.show_default or ctx.show_default):
        return None
    value = param.get_default(ctx, call=False)
    if callable(value):
        return "(computed at run time)"
    if value is None or (isinstance(value, list | tuple) and not value):
        return None
    if isinstance(param, TyperOption) and param.is_bool_flag:
        if param.secondary_opts:
            return (param.opts if value else param.secondary_opts)[0]
        return None if value is False else "on"
    if isinstance(value, list | tuple):
        return ", ".join(_plain(v) for v in value)
    return _plain(value)


def option_flags(param: TyperOption, ctx: typer.Context) -> str:
    opts = param.opts
    if param is ctx.command.get_help_option(ctx):  # Click collects these names in a set: fix the order
        opts = [name for name in ctx.help_option_names if name in opts]
    metavar = "" if param.is_flag or param.count else f" {param.display_type_rich(ctx)}"
    flags = ", ".join(opts) + metavar
    return flags + (" / " + ", ".join(param.secondary_opts) if param.secondary_opts else "")


def param_facts(param: TyperOption | TyperArgument, ctx: typer.Context) -> list[str]:
    """Env var, default, range and requiredness, one short sentence each."""
    facts = []
    if param.envvar:
        names = [param.envvar] if isinstance(param.envvar, str) else list(param.envvar)
        facts.append("Environment variable: " + ", ".join(names) + ".")
    default = default_text(param, ctx)
    if default is not None:
        facts.append(f"Default: {default}.")
    low, high = getattr(param, "min", None), getattr(param, "max", None)
    if low is not None or high is not None:
        facts.append("Range: " + "<=".join(str(v) for v in (low, "x", high) if v is not None) + ".")
    if param.required:
        facts.append("Required.")
    return facts


def completion_script(shell: str) -> str:
    """What `gephyr --show-completion SHELL` prints: the Typer completion class's source script."""
    completion_init()
    cls = get_completion_class(shell)
    if cls is None:
        raise ValueError(f"Typer has no completion class for {shell}")
    comp = cls(get_command(app), {}, PROG, COMPLETE_VAR)
    # The base `source` formats the template; Bash's override would also probe the local bash version.
    return ShellComplete.source(comp).strip() + "\n"


def _roff(text: str) -> str:
    text = text.replace("\\", "\\e").replace("-", "\\-")
    return "\n".join("\\&" + line if line.startswith((".", "'")) else line for line in text.splitlines())


def _roff_help(text: str) -> list[str]:
    """Help paragraphs as `.PP` blocks; `Example:` lines become indented literal examples."""
    out: list[str] = []
    for para in re.split(r"\n\s*\n", text):
        lines = [line.strip() for line in para.splitlines() if line.strip()]
        at = next((i for i, line in enumerate(lines) if line.startswith("Example:")), len(lines))
        if lines[:at]:
            out += [".PP", _roff(" ".join(lines[:at]))]
        example = [lines[at].removeprefix("Example:").strip(), *lines[at + 1 :]] if at < len(lines) else []
        if example:
            out += [".PP", "Example:", ".RS 4", ".nf", *(_roff(e) for e in example if e), ".fi", ".RE"]
    return out


def _param_entries(node: Node, params: Sequence[TyperOption | TyperArgument]) -> list[str]:
    out: list[str] = []
    for p in params:
        if isinstance(p, TyperOption):
            term = f"\\fB{_roff(option_flags(p, node.ctx))}\\fR"
        else:
            term = f"\\fI{_roff(' '.join(p.get_usage_pieces(node.ctx)))}\\fR"
        out += [".TP", term, _roff(" ".join((p.help or "").split())) or "(no help)"]
        for fact in param_facts(p, node.ctx):
            out += [".br", _roff(fact)]
    return out


def man_page(node: Node) -> str:
    """One roff page: NAME, SYNOPSIS, DESCRIPTION, ARGUMENTS, OPTIONS, COMMANDS, EXIT STATUS, SEE ALSO."""
    params = [p for p in node.command.get_params(node.ctx) if not getattr(p, "hidden", False)]
    options = [p for p in params if isinstance(p, TyperOption)]
    arguments = [p for p in params if isinstance(p, TyperArgument)]
    pieces = " ".join(node.command.collect_usage_pieces(node.ctx))
    out = [
        f'.TH "{_roff(node.page.upper())}" "1" "" "{PROG} {__version__}" "Gephyr Manual"',
        ".SH NAME",
        f"{_roff(node.page)} \\- {_roff(summary(node.command))}",
        ".SH SYNOPSIS",
        f"\\fB{_roff(node.path)}\\fR {_roff(pieces)}",
        ".SH DESCRIPTION",
        *_roff_help(help_text(node.command)),
    ]
    out += [".SH ARGUMENTS", *_param_entries(node, arguments)] if arguments else []
    out += [".SH OPTIONS", *_param_entries(node, options)]
    children = node.children()
    if children:
        out.append(".SH COMMANDS")
        for child in children:
            out += [
                ".TP",
                f"\\fB{_roff(child.ctx.info_name or '')}\\fR",
                f"{_roff(summary(child.command))} See \\fB{_roff(child.page)}\\fR(1).",
            ]
    out.append(".SH EXIT STATUS")
    for code, meaning in EXIT_STATUS:
        out += [".TP", f"\\fB{code}\\fR", _roff(meaning)]
    related = ([node.ctx.parent] if node.ctx.parent else []) + [c.ctx for c in children]
    refs = [f"\\fB{_roff(c.command_path.replace(' ', '-'))}\\fR(1)" for c in related]
    out += [".SH SEE ALSO", ",\n".join(refs)] if refs else []
    return "\n".join(out) + "\n"


def _md(text: str) -> str:
    return re.sub(r"([\\`*_<>\[\]])", r"\\\1", text)


def reference_markdown() -> str:
    """The CLI reference: every group and command with its one-line help and usage line."""
    out = ["<!-- Generated by `python -m gephyr_cli.docgen` from the command tree; do not edit. -->", ""]
    for node in walk():
        kind = "group" if isinstance(node.command, TyperGroup) else "command"
        out += [
            f"### `{node.path}`",
            "",
            f"{_md(summary(node.command))} ({kind}; `man {node.page}`)",
            "",
            "```text",
            usage(node),
            "```",
            "",
        ]
    return "\n".join(out)


def readme_with_reference(current: str) -> str:
    """`current` with the marked section replaced, or a `## CLI reference` section appended."""
    block = f"{START}\n{reference_markdown()}{END}"
    start, end = current.find(START), current.find(END)
    if 0 <= start < end:
        return current[:start] + block + current[end + len(END) :]
    lead = current + ("\n" if current and not current.endswith("\n") else "") + ("\n" if current else "")
    return f"{lead}## CLI reference\n\n{block}\n"


def generate(root: Path = REPO_ROOT) -> dict[str, str]:
    """Every artefact's repo-relative path and content (README.md spliced into its current text)."""
    files = {f"completions/{PROG}.{shell}": completion_script(shell) for shell in SHELLS}
    files.update({f"man/{node.page}.1": man_page(node) for node in walk()})
    files[README] = readme_with_reference(_read(root / README) or "")
    return files


def _read(path: Path) -> str | None:
    return path.read_text(encoding="utf-8") if path.exists() else None


def _pending(root: Path) -> tuple[dict[str, str], list[str]]:
    """Files whose content would change, and man pages of commands that no longer exist."""
    files = generate(root)
    changed = {rel: text for rel, text in sorted(files.items()) if _read(root / rel) != text}
    on_disk = {f"man/{p.name}" for p in (root / "man").glob("*.1")}
    return changed, sorted(on_disk - files.keys())


def stale(root: Path = REPO_ROOT) -> list[str]:
    """Repo-relative paths that are out of date, missing, or no longer generated."""
    changed, gone = _pending(root)
    return [*changed, *gone]


def write(root: Path = REPO_ROOT) -> list[str]:
    """Regenerate every artefact under `root`; return the paths written or removed."""
    changed, gone = _pending(root)
    for rel, text in changed.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text, encoding="utf-8")
    for rel in gone:
        (root / rel).unlink()
    return [*changed, *gone]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser("python -m gephyr_cli.docgen", description="Regenerate CLI artefacts.")
    parser.add_argument("--check", action="store_true", help="list stale files and exit 1 if any")
    parser.add_argument("--root", type=Path, default=REPO_ROOT, help="repository root (default: here)")
    args = parser.parse_args(argv)
    if args.check:
        bad = stale(args.root)
        hint = "run `python -m gephyr_cli.docgen` to regenerate\n" if bad else ""
        sys.stderr.write("".join(f"stale: {rel}\n" for rel in bad) + hint)
        return 1 if bad else 0
    for rel in write(args.root):
        sys.stdout.write(f"wrote {rel}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
