"""The documentation: the quickstart runs as written; the CLI reference matches the CLI."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parent.parent / "docs"


def _python_blocks(page: Path) -> list[str]:
    return re.findall(r"```python\n(.*?)```", page.read_text(), flags=re.S)


@pytest.mark.slow
def test_quickstart_runs_as_written(tmp_path):
    script = "\n".join(_python_blocks(DOCS / "quickstart.md"))
    out = subprocess.run(
        [sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=900
    )
    assert out.returncode == 0, out.stderr[-4000:]
    assert "return of the exported policy:" in out.stdout
    iterations = [int(m) for m in re.findall(r"^(\d+) \d+ \[", out.stdout, flags=re.M)]
    assert iterations == [1, 2, 3]


def test_cli_reference_names_every_command_and_option():
    from exportable_trainers.cli import app

    text = (DOCS / "cli.md").read_text()
    import typer.main

    group = typer.main.get_command(app)
    for name, command in group.commands.items():
        assert f"## `{name}" in text, f"docs/cli.md lacks command {name}"
        for param in command.params:
            for opt in param.opts:
                if opt.startswith("--") and opt != "--help":
                    assert opt in text, f"docs/cli.md lacks {name} {opt}"
