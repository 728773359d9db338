"""The exportable-trainers command line, run as users run it: a subprocess."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def cli(*args: object, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """Run ``exportable-trainers ARGS`` and return what it printed and its exit code."""
    return subprocess.run(
        [sys.executable, "-m", "exportable_trainers.cli", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=600,
    )
