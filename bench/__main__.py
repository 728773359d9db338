"""Run the benchmarks, print the ratios and write docs/benchmarks.md.

    python -m bench [--only P1,P3] [--quick] [--no-write]

P1 runs first, alone on the machine (one child process and Ray instance per
framework, each Tune run with fresh trial actors); P2-P5 share one Ray
instance in this process.
"""

from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import io
import pstats
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from .common import ROOT, Row, machine

DOC = ROOT / "docs" / "benchmarks.md"


def _fmt(value: float | None, unit: str) -> str:
    if value is None:
        return "-"
    if unit == "s":
        return f"{value * 1e3:.3f} ms" if value < 0.1 else f"{value:.2f} s"
    if unit == "bytes":
        return f"{value / 1e6:.2f} MB"
    return f"{value:.3g} {unit}"


def _profile_export(workdir: Path) -> str:
    """cProfile of the first and a later export of the default new-stack PPO."""
    from ray.rllib.algorithms.ppo import PPO, PPOConfig

    from exportable_trainers import make_exporting

    algo = make_exporting(PPO)(
        config=PPOConfig().environment("CartPole-v1").env_runners(num_env_runners=0)
    )
    algo.save(str(workdir / "warm"))  # the first export converts the graph
    profiler = cProfile.Profile()
    profiler.enable()
    for i in range(5):
        algo.export_policies(workdir / f"profile-{i}")
    profiler.disable()
    algo.stop()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out).sort_stats("cumulative")
    stats.print_stats(r"exportable_trainers|onnxruntime|torch/jit|safetensors", 12)
    lines = [ln for ln in out.getvalue().splitlines() if ln.strip()]
    start = next(i for i, ln in enumerate(lines) if "ncalls" in ln)
    return "\n".join(lines[start:])


def _render(
    rows: list[Row], facts: dict, seconds: float, profile: str, ort_profile: list[str], command: str
) -> str:
    lines = [
        "# Benchmarks",
        "",
        f"Written by `{command}` on {dt.date.today().isoformat()} in {seconds / 60:.1f} minutes; do not edit by hand.",
        "Each pair is measured side by side in the same run (interleaved where it matters), with repeats;",
        "the figures are medians.",
        "",
        "## Machine",
        "",
        *[f"- {k}: {v}" for k, v in facts.items()],
        "",
        "## Results",
        "",
        "| id | measurement | ours | compared with | ratio | target | met |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in rows:
        met = "-" if r.met is None else ("yes" if r.met else "**no**")
        ratio = "-" if r.ratio is None else f"{r.ratio:.3g}"
        lines.append(
            f"| {r.id} | {r.what} | {_fmt(r.ours, r.unit)} | {_fmt(r.theirs, r.unit)} | {ratio} | {r.target or '-'} | {met} |"
        )
    lines += ["", "## Notes", ""]
    lines += [f"- {r.id}, {r.what}: {r.note}" for r in rows if r.note]
    missed = [r for r in rows if r.met is False]
    lines += ["", "## Targets missed", ""]
    if missed:
        lines += [
            f"- {r.id}, {r.what}: ratio {'-' if r.ratio is None else f'{r.ratio:.3g}'}, "
            f"target {r.target}. {r.note}"
            for r in missed
        ]
        lines += [
            "",
            "Each miss is explained on its line; the profiles below show where the time goes.",
        ]
    else:
        lines.append("None in this run.")
    lines += [
        "",
        "## Where an export's time goes",
        "",
        "cProfile of five exports of the default new-stack PPO after the first (the ONNX graph is",
        "reused; TorchScript is traced, weights written, every artifact verified), cumulative time:",
        "",
        "```",
        profile,
        "```",
        "",
    ]
    lines = [ln.replace(f"{ROOT}/", "") for ln in lines]
    ort_profile = [ln.replace(f"{ROOT}/", "") for ln in ort_profile]
    if ort_profile:
        lines += ["## Where inference time goes", "", *ort_profile, ""]
    return "\n".join(lines)


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--only", default="P1,P2,P3,P4,P5", help="comma-separated benchmark ids")
    parser.add_argument(
        "--quick", action="store_true", help="fewer iterations and repeats (development)"
    )
    parser.add_argument("--no-write", action="store_true", help="do not write docs/benchmarks.md")
    args = parser.parse_args(argv)
    only = {s.strip().upper() for s in args.only.split(",")}
    start = time.perf_counter()
    rows: list[Row] = []
    console = Console(width=180)
    if "P1" in only:
        from . import p1_tune

        rows += p1_tune.run(iterations=5, repeats=1 if args.quick else 2)
    import ray

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    profile = ""
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        info: dict = {}
        if only & {"P2", "P4"}:
            from . import p2_inference

            p2_rows, info = p2_inference.run(workdir)
            rows += p2_rows if "P2" in only else []
        if "P3" in only:
            from ray.rllib.algorithms.ppo import PPO, PPOConfig

            from exportable_trainers import make_exporting

            from . import p3_cold_start

            algo = make_exporting(PPO)(
                config=PPOConfig().environment("CartPole-v1")
            )  # 2 env runners
            checkpoint = Path(algo.save(str(workdir / "p3")).checkpoint.path)
            algo.stop()
            rows += p3_cold_start.run(
                checkpoint, repeats=3 if args.quick else 5, rllib_repeats=1 if args.quick else 2
            )
        if "P4" in only:
            from . import p4_size

            rows += p4_size.run(info["new_ckpt"], info["new"])
        if "P5" in only:
            from . import p5_scale

            rows += p5_scale.run(workdir)
        profile = _profile_export(workdir)
    seconds = time.perf_counter() - start
    table = Table(title="exportable_trainers benchmarks (medians)")
    for column in ("id", "measurement", "ours", "compared with", "ratio", "target", "met"):
        table.add_column(column)
    for r in rows:
        table.add_row(
            r.id,
            r.what,
            _fmt(r.ours, r.unit),
            _fmt(r.theirs, r.unit),
            "-" if r.ratio is None else f"{r.ratio:.3g}",
            r.target or "-",
            "-" if r.met is None else ("yes" if r.met else "NO"),
        )
    console.print(table)
    for r in rows:
        if r.met is False:
            console.print(f"{r.id} missed ({r.what}): {r.note}")
    if not args.no_write:
        command = (
            "make bench"
            if not args.quick and only == {"P1", "P2", "P3", "P4", "P5"}
            else f"python -m bench {' '.join(argv)}"
        )
        DOC.write_text(
            _render(rows, machine(), seconds, profile, info.get("ort_profile", []), command),
            encoding="utf-8",
        )
        console.print(f"wrote {DOC}")
    console.print(f"total {seconds / 60:.1f} minutes")


if __name__ == "__main__":
    main(sys.argv[1:])
