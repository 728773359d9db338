"""Helpers shared by the benchmarks: timing, subprocesses, machine facts."""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Row:
    """One benchmark line: a measured pair (or a single measurement) and its target.

    Args:
        id: Benchmark id, e.g. "P2".
        what: What was measured.
        ours: Our measurement (seconds, bytes, ...).
        theirs: What it is compared with, same unit (None for single measurements).
        unit: Unit of ``ours`` and ``theirs``.
        ratio: The figure the target is about.
        target: The target, e.g. "<= 1.05".
        met: Whether the target is met (None without a target).
        note: Anything a reader needs to interpret the line.
    """

    id: str
    what: str
    ours: float
    theirs: float | None
    unit: str
    ratio: float | None
    target: str = ""
    met: bool | None = None
    note: str = ""
    samples: dict[str, list[float]] = field(default_factory=dict)


def median_times(
    fns: dict[str, Callable[[], Any]], number: int, repeat: int
) -> dict[str, tuple[float, list[float]]]:
    """Median per-call seconds of each function, their runs interleaved.

    Each repeat runs ``number`` calls of every function in turn, so a slow
    spell of this noisy machine hits all of them alike.

    Args:
        fns: Name -> function of no arguments.
        number: Calls per timed run.
        repeat: Timed runs per function.

    Returns:
        Name -> (median seconds per call, seconds per call of every run).
    """
    for fn in fns.values():
        fn()  # warm-up
    runs: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeat):
        for name, fn in fns.items():
            start = time.perf_counter()
            for _ in range(number):
                fn()
            runs[name].append((time.perf_counter() - start) / number)
    return {name: (statistics.median(r), r) for name, r in runs.items()}


def run_python(code_or_path: str, *args: str, env: dict | None = None, timeout: int = 900) -> dict:
    """Run Python in a fresh process; its last stdout line must be a JSON object."""
    cmd = [sys.executable]
    cmd += [code_or_path] if code_or_path.endswith(".py") else ["-c", code_or_path]
    full_env = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    out = subprocess.run(
        [*cmd, *args], capture_output=True, text=True, env=full_env, timeout=timeout
    )
    if out.returncode != 0:
        raise RuntimeError(f"benchmark child failed ({out.returncode}):\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def _version(name: str) -> str:
    try:
        return version(name)
    except PackageNotFoundError:
        return "-"


def machine() -> dict[str, str]:
    """What the numbers were measured on."""
    cpu = platform.processor() or "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = "-"
    try:
        kb = int(
            next(
                ln
                for ln in Path("/proc/meminfo").read_text().splitlines()
                if ln.startswith("MemTotal")
            ).split()[1]
        )
        memory = f"{kb / 1024 / 1024:.0f} GiB"
    except (OSError, StopIteration):
        pass
    return {
        "cpu": cpu,
        "cores": str(os.cpu_count()),
        "memory": memory,
        "os": platform.platform(),
        "python": platform.python_version(),
        **{
            pkg: _version(pkg)
            for pkg in ("ray", "torch", "tensorflow", "onnxruntime", "onnx", "tf2onnx", "numpy")
        },
    }
