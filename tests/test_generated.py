"""Generated artefacts (completions, man pages, README CLI reference) match the command tree.

When one of these fails after a CLI change, run `python -m gephyr_cli.docgen` and commit the result.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.core import TyperGroup

from gephyr_cli import docgen
from gephyr_cli.output import ExitCode

ROOT = Path(__file__).resolve().parent.parent
REGENERATE = "run `python -m gephyr_cli.docgen` and commit the result"
HEAVY = ("httpx", "sqlite_utils", "uvicorn", "cryptography", "tomlkit", "starlette")


@pytest.fixture(scope="module")
def generated() -> dict[str, str]:
    return docgen.generate(ROOT)


def _committed(rel: str) -> str | None:
    path = ROOT / rel
    return path.read_text(encoding="utf-8") if path.exists() else None


@pytest.mark.parametrize("shell", docgen.SHELLS)
def test_completion_script_is_current(generated: dict[str, str], shell: str) -> None:
    rel = f"completions/gephyr.{shell}"
    assert _committed(rel) == generated[rel], f"{rel} is stale: {REGENERATE}"


@pytest.mark.parametrize("shell", docgen.SHELLS)
def test_completion_script_is_what_the_cli_prints(shell: str) -> None:
    env = {**os.environ, "_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION": "1"}
    done = subprocess.run([sys.executable, "-m", "gephyr_cli", "--show-completion", shell],
                          capture_output=True, text=True, env=env, cwd=ROOT, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout == docgen.completion_script(shell)


def test_man_pages_are_current(generated: dict[str, str]) -> None:
    pages = {rel: text for rel, text in generated.items() if rel.startswith("man/")}
    on_disk = {f"man/{p.name}" for p in (ROOT / "man").glob("*.1")}
    stale = sorted(rel for rel, text in pages.items() if _committed(rel) != text)
    orphaned = sorted(on_disk - pages.keys())
    assert not stale and not orphaned, f"stale {stale}, no longer generated {orphaned}: {REGENERATE}"


def test_readme_cli_reference_is_current(generated: dict[str, str]) -> None:
    current = _committed(docgen.README)
    assert current == generated[docgen.README], f"README.md CLI reference is stale: {REGENERATE}"


def test_every_command_and_group_has_help() -> None:
    missing = [node.path for node in docgen.walk() if not docgen.help_text(node.command)]
    assert not missing, f"commands without help text: {missing}"


def _has_example(help_text: str) -> bool:
    return any(line.strip().startswith("Example:") for line in help_text.splitlines())


def test_every_leaf_command_help_ends_with_an_example() -> None:
    leaves = [node for node in docgen.walk() if not isinstance(node.command, TyperGroup)]
    assert leaves
    missing = [node.path for node in leaves if not _has_example(docgen.help_text(node.command))]
    assert not missing, f"commands whose docstring lacks an 'Example:' line: {missing}"


def test_exit_status_section_documents_every_exit_code() -> None:
    assert [code for code, _ in docgen.EXIT_STATUS] == sorted(int(code) for code in ExitCode)


def test_importing_the_cli_does_not_import_heavy_modules() -> None:
    code = (
        "import json, sys\n"
        "import gephyr_cli.app\n"
        f"heavy = {HEAVY!r}\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in heavy)))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=False)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == [], "import heavy modules inside the commands that need them"


def test_readme_reference_is_appended_once_then_replaced_in_place() -> None:
    original = "# Gephyr\n\nIntro text."
    first = docgen.readme_with_reference(original)
    assert first.startswith(original + "\n\n## CLI reference\n\n" + docgen.START)
    assert first.rstrip().endswith(docgen.END)
    edited = first.replace(docgen.START, docgen.START + "\nhand edit", 1) + "\n## After\n"
    second = docgen.readme_with_reference(edited)
    assert second == first + "\n## After\n"
    assert second.count(docgen.START) == 1


def test_check_mode_lists_stale_files_and_write_fixes_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "man").mkdir()
    (tmp_path / "man" / "gephyr-gone.1").write_text("old\n", encoding="utf-8")
    assert docgen.main(["--check", "--root", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "stale: man/gephyr.1" in err and "stale: man/gephyr-gone.1" in err
    assert "python -m gephyr_cli.docgen" in err
    assert docgen.main(["--root", str(tmp_path)]) == 0
    assert not (tmp_path / "man" / "gephyr-gone.1").exists()
    assert (tmp_path / "completions" / "gephyr.bash").exists()
    assert docgen.main(["--check", "--root", str(tmp_path)]) == 0
