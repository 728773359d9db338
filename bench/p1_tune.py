"""P1: Tune wall time of make_exporting(PPO) vs plain PPO (default config, checkpoint every iteration)."""

from __future__ import annotations

import statistics
import tempfile
from pathlib import Path

from .common import Row, run_python

CHILD = str(Path(__file__).with_name("tune_child.py"))
TARGET = 1.05


def _seconds(values: list[float]) -> str:
    return ", ".join(f"{v:.1f}" for v in values)


def _parts(out: dict) -> dict[str, float]:
    """Split one run's wall time: setup, training iterations, exports, the rest."""
    setup, iterations = out["setup_seconds"], sum(out["iteration_seconds"])
    exports = sum(out["export_seconds"])
    return {
        "setup": setup,
        "iterations": iterations,
        "exports": exports,
        "rest": out["seconds"] - setup - iterations - exports,
    }


def _where(parts: dict[str, list[dict[str, float]]]) -> str:
    """Median of each part per variant, as 'name +difference' for the note."""
    diffs = []
    for name, label in (
        ("setup", "setup (RLlib's build; when exporting also the preflight)"),
        ("iterations", "training iterations (RLlib's code only)"),
        ("exports", "exports inside save_checkpoint"),
        ("rest", "the rest (Ray start, trial actor, checkpoint bookkeeping, stop)"),
    ):
        ours = statistics.median(p[name] for p in parts["exporting"])
        theirs = statistics.median(p[name] for p in parts["plain"])
        diffs.append(f"{label} {theirs:.1f} -> {ours:.1f} s ({ours - theirs:+.1f})")
    return "; ".join(diffs)


def run(iterations: int = 5, repeats: int = 2) -> list[Row]:
    rows = []
    for framework in ("torch", "tf2"):
        # tf2 needs legacy Keras in every Ray process from the start, for plain RLlib too.
        env = {"TF_USE_LEGACY_KERAS": "1"} if framework == "tf2" else {}
        times: dict[str, list[float]] = {"plain": [], "exporting": []}
        parts: dict[str, list[dict[str, float]]] = {"plain": [], "exporting": []}
        firsts: list[float] = []
        later: list[float] = []
        # ABBA...: alternating which variant goes first cancels a drift of the machine.
        order = [
            v
            for r in range(repeats)
            for v in (("plain", "exporting"), ("exporting", "plain"))[r % 2]
        ]
        with tempfile.TemporaryDirectory() as storage:
            runs = run_python(
                CHILD, ",".join(order), framework, str(iterations), storage, env=env, timeout=2400
            )["runs"]
        for out in runs:
            variant = out["variant"]
            times[variant].append(out["seconds"])
            parts[variant].append(_parts(out))
            if variant == "exporting":
                firsts.append(out["export_seconds"][0])
                later += out["export_seconds"][1:]
        ours, theirs = statistics.median(times["exporting"]), statistics.median(times["plain"])
        ratio = ours / theirs
        iteration_spread = [p["iterations"] for p in parts["plain"] + parts["exporting"]]
        spread = max(iteration_spread) / min(iteration_spread) - 1
        note = (
            f"export per checkpoint: first of a trial {statistics.median(firsts):.2f} s "
            f"(graph conversion), later ones {statistics.median(later):.3f} s (median). "
            f"Where the time goes, plain -> exporting (medians): {_where(parts)}. "
            f"Every run (s): plain {_seconds(times['plain'])}, "
            f"exporting {_seconds(times['exporting'])}."
        )
        if ratio > TARGET:
            note += (
                f" Our code runs only in setup (preflight) and in the exports; the training "
                f"iterations alone differed by {spread:.0%} between the runs of this "
                f"benchmark, so a gap outside those two parts is run-to-run spread."
            )
        rows.append(
            Row(
                "P1",
                f"Tune wall time, {framework}{' (new stack)' if framework == 'torch' else ' (old stack)'}, "
                f"{iterations} iterations, default PPO and formats",
                ours,
                theirs,
                "s",
                ratio,
                f"<= {TARGET}",
                ratio <= TARGET,
                note,
                times,
            )
        )
    return rows
