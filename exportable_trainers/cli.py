"""exportable-trainers: list, inspect, verify, export and evaluate policy exports.

Every command but ``export`` (and ``verify --outputs``) runs without Ray.
Errors are one line on stderr and a non-zero exit code.
"""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import json
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from .contract.actions import leaves_of
from .exceptions import ExportableTrainersError

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="List, inspect, verify, export and evaluate RLlib policy exports.",
)
# Wide tables when piped to a file or program; the terminal's width otherwise.
out = Console(width=None if sys.stdout.isatty() else 160)


def _show(table: Table) -> None:
    """Print a table; off a terminal at its natural width, so no cell is cut."""
    if out.is_terminal:
        out.print(table)
    else:
        Console(width=100_000, soft_wrap=False).print(table)


err = Console(stderr=True, soft_wrap=True)

EXIT_FAILURE = 1


def _exit_if(problems: Any, summary: str) -> None:
    """After the whole report: one error line and exit 1 when there were problems."""
    if problems:
        err.print(f"error: {summary}", highlight=False)
        raise typer.Exit(EXIT_FAILURE)


def _one_line_errors(command: Callable[..., Any]) -> Callable[..., Any]:
    """Turn expected failures into 'error: ...' and exit code 1, not a traceback."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except (ExportableTrainersError, OSError, ValueError, ImportError, KeyError) as e:
            message = str(e).splitlines()[0] if str(e) else type(e).__name__
            err.print(f"error: {message}", markup=False, highlight=False)
            raise typer.Exit(EXIT_FAILURE) from None

    return wrapper


def _csv(value: str | None) -> tuple[str, ...] | None:
    if value is None:
        return None
    items = tuple(v.strip() for v in value.split(",") if v.strip())
    if not items:
        raise typer.BadParameter("give at least one name, comma-separated")
    return items


def _episode_return(metrics: dict | None) -> float | None:
    if not metrics:
        return None
    runners = metrics.get("env_runners", {})
    for source in (runners, metrics):
        for key in ("episode_return_mean", "episode_reward_mean"):
            if isinstance(source.get(key), (int, float)):
                return float(source[key])
    return None


def _relative(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root)) or "."
    except ValueError:
        return str(path)


def _fmt(value: Any) -> str:
    return "-" if value is None else f"{value:.2f}" if isinstance(value, float) else str(value)


ENV_HELP = (
    "A gymnasium id (CartPole-v1) or module:callable, a factory on PYTHONPATH "
    "returning a gymnasium env (mypkg.envs:make_corridor)."
)
ENV_CONFIG_HELP = (
    "JSON object: the factory's one argument (RLlib's env_config), or gym.make keyword arguments."
)


# Options that mean the same in evaluate and compare, declared once.
POLICY_ID_OPTION = typer.Option(None, "--policy-id", help="Which policy, when there are several.")
FORMAT_OPTION = typer.Option(
    None, "--format", help="Format to run; default: the first installed runtime."
)
ENV_CONFIG_OPTION = typer.Option(None, "--env-config", help=ENV_CONFIG_HELP)


def _seed_option(first: str) -> Any:
    return typer.Option(0, "--seed", help=f"Seed of the first {first}.")


def _plot_option(what: str) -> Any:
    return typer.Option(None, "--plot", help=f"Write a PNG {what}.")


@contextlib.contextmanager
def _progress(what: str) -> Iterator[Callable[[int, int], None]]:
    """A transient progress bar on stderr (a terminal only), as a ``(done, total)`` callback."""
    from rich.progress import Progress

    with Progress(console=err, transient=True, disable=not err.is_terminal) as bar:
        task = bar.add_task(what, total=None)
        yield lambda done, total: bar.update(task, completed=done, total=total)


def _env_config(value: str | None) -> dict | None:
    if value is None:
        return None
    try:
        config = json.loads(value)
    except json.JSONDecodeError as e:
        raise typer.BadParameter(f"--env-config is not valid JSON ({e}): {value!r}") from None
    if not isinstance(config, dict):
        raise typer.BadParameter(f"--env-config must be a JSON object, got {value!r}")
    return config


def _png(plot: Path | None) -> None:
    if plot is not None and plot.suffix.lower() != ".png":
        raise typer.BadParameter(f"--plot must name a .png file, got {plot}")


@app.command("ls")
@_one_line_errors
def ls_command(
    path: Path = typer.Argument(..., help="Experiment, trial or checkpoint directory."),
    hashes: bool = typer.Option(True, "--hashes/--no-hashes", help="Re-check every file's sha256."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
) -> None:
    """List the exports under PATH, one row per checkpoint, by training iteration."""
    from .load.listing import list_exports

    entries = list_exports(path, check_hashes=hashes)
    if as_json:
        rows = [
            {
                "checkpoint": str(e.checkpoint),
                "training_iteration": e.training_iteration,
                "env_steps": e.env_steps,
                "episode_return_mean": _episode_return(e.metrics),
                "policies": {
                    pid: {
                        "formats": p.formats,
                        "status": p.status,
                        "verified": p.verified,
                        "problem": p.problem,
                    }
                    for pid, p in e.policies.items()
                },
            }
            for e in entries
        ]
        out.print_json(json.dumps(rows))
        return
    if not entries:
        raise ExportableTrainersError(f"no exports under {path}")
    table = Table(title=f"Exports under {path}")
    for column in (
        "checkpoint",
        "iteration",
        "env steps",
        "policies",
        "formats",
        "verified",
        "status",
        "return",
    ):
        table.add_column(column)
    for e in entries:
        statuses = {p.status for p in e.policies.values()}
        verified = {p.verified for p in e.policies.values()}
        table.add_row(
            _relative(e.checkpoint, path),
            _fmt(e.training_iteration),
            _fmt(e.env_steps),
            ", ".join(e.policy_ids),
            ", ".join(e.formats),
            "yes" if verified == {True} else "NO" if False in verified else "-",
            ", ".join(sorted(statuses)),
            _fmt(_episode_return(e.metrics)),
        )
    _show(table)


@app.command()
@_one_line_errors
def inspect(
    path: Path = typer.Argument(..., help="Checkpoint, export or policy export directory."),
    policy_id: str | None = typer.Option(None, "--policy-id", help="Only this policy."),
    as_json: bool = typer.Option(False, "--json", help="Print the raw manifest(s)."),
) -> None:
    """Show what an export holds: spaces, inputs and outputs, files, verification."""
    from .contract.manifest import read_manifest
    from .load.loader import choose_policy, find_export_dirs

    dirs = find_export_dirs(path)
    if policy_id is not None:
        dirs = {policy_id: dirs[choose_policy(path, list(dirs), policy_id)]}
    for pid, export_dir in dirs.items():
        m = read_manifest(export_dir)
        if as_json:
            out.print_json(json.dumps(m))
            continue
        out.rule(f"[bold]{pid}[/bold]  {export_dir}")
        out.print(
            f"{m.get('algorithm')} · framework {m.get('framework')} · {m.get('api_stack')} API stack · "
            f"iteration {m.get('training_iteration')} · {m.get('env_steps_sampled')} env steps · status {m['status']}"
        )
        out.print(f"observation space: {m['observation_space']}", markup=False)
        out.print(f"action space: {m['action_space']}", markup=False)
        io = Table(title="graph inputs and outputs")
        for column in ("", "name", "shape", "dtype"):
            io.add_column(column)
        for kind in ("inputs", "outputs"):
            for spec in m[kind]:
                io.add_row(kind[:-1], spec["name"], str(spec["shape"]), spec["dtype"])
        _show(io)
        steps = ", ".join(s["op"] for s in m.get("preprocessing") or []) or "none"
        action = m["action"]
        source = f"{action.get('source', 'distribution')} {action.get('rllib_class', '')}".strip()
        posts = ", ".join(
            f"{leaf['name']} {leaf.get('postprocess', {}).get('kind')}"
            for leaf in leaves_of(action)
        )
        out.print(
            f"preprocessing: {steps} · action from: {source} · postprocess: {posts}", markup=False
        )
        files = Table(title="files")
        for column in ("format", "path", "bytes", "sha256", "verification"):
            files.add_column(column)
        for fmt, rec in m["files"].items():
            v = (m.get("verification") or {}).get(fmt, {})
            diffs = v.get("max_abs_diff")
            summary = "-" if not v else ("passed" if v.get("passed") else "FAILED")
            if isinstance(diffs, dict) and diffs:
                summary += f" (max diff {max(diffs.values()):.1e})"
            files.add_row(fmt, rec["path"], str(rec.get("bytes")), rec["sha256"][:12], summary)
        _show(files)
        for fmt, error in (m.get("errors") or {}).items():
            out.print(f"[red]{fmt} failed:[/red] {error}", highlight=False)


@app.command()
@_one_line_errors
def verify(
    path: Path = typer.Argument(..., help="Experiment, trial or checkpoint directory."),
    outputs: bool | None = typer.Option(
        None,
        "--outputs/--no-outputs",
        help="Also restore each checkpoint with RLlib and compare outputs (default: when Ray is installed).",
    ),
) -> None:
    """Re-check every export's file hashes and, where possible, its outputs."""
    from .load.listing import list_exports

    entries = list_exports(path, check_hashes=True)
    if not entries:
        raise ExportableTrainersError(f"no exports under {path}")
    if outputs is None:
        outputs = importlib.util.find_spec("ray") is not None
    bad = 0
    for e in entries:
        for p in e.policies.values():
            if p.status == "corrupt":
                bad += 1
                out.print(f"[red]CORRUPT[/red] {p.export_dir}: {p.problem}", highlight=False)
            else:
                out.print(
                    f"[green]hashes ok[/green] {p.export_dir} ({', '.join(p.formats)})",
                    highlight=False,
                )
        if outputs and all(p.status != "corrupt" for p in e.policies.values()):
            from .export.reverify import verify_against_checkpoint

            for (pid, fmt), result in verify_against_checkpoint(e.checkpoint).items():
                diff = max(result["max_abs_diff"].values(), default=0.0)
                if result["passed"]:
                    out.print(
                        f"[green]outputs ok[/green] {e.checkpoint.name}/{pid} {fmt} (max diff {diff:.1e})"
                    )
                else:
                    bad += 1
                    out.print(
                        f"[red]OUTPUTS DIFFER[/red] {e.checkpoint.name}/{pid} {fmt}: {'; '.join(result['problems'])}"
                    )
    _exit_if(bad, f"{bad} problem(s) found")


@app.command()
@_one_line_errors
def export(
    checkpoints: list[Path] = typer.Argument(
        ..., help="RLlib checkpoint directories (plain RLlib or exportable_trainers)."
    ),
    formats: str | None = typer.Option(
        None, "--formats", help="Comma-separated formats; default: the framework's."
    ),
    policies: str | None = typer.Option(
        None, "--policies", help="Comma-separated policy ids; default: every trained one."
    ),
    force: bool = typer.Option(False, "--force", help="Replace existing exports."),
) -> None:
    """Add exports to checkpoints written earlier (needs Ray). Idempotent."""
    from .export.options import ExportOptions
    from .export.posthoc import check_rllib_checkpoint, export_checkpoints, plan_export

    options = ExportOptions(formats=_csv(formats), policies=_csv(policies), on_error="warn")
    todo = []
    for checkpoint in checkpoints:
        check_rllib_checkpoint(checkpoint)
        planned = plan_export(checkpoint, options, force)
        if planned is None:
            out.print(f"already exported: {checkpoint} (use --force to replace)", highlight=False)
        else:
            todo.append((checkpoint, planned))
    failed = 0
    for checkpoint, pid, manifest in export_checkpoints(todo):
        ok = manifest["status"] == "ok"
        failed += not ok
        written = ", ".join(manifest["files"]) or "nothing"
        out.print(
            f"{'exported' if ok else 'FAILED'} {checkpoint}/export/{pid}: {written}",
            highlight=False,
        )
        for fmt, error in manifest["errors"].items():
            out.print(f"  {fmt}: {error}", highlight=False)
    _exit_if(failed, f"{failed} policy export(s) failed")


@app.command()
@_one_line_errors
def evaluate(
    path: Path = typer.Argument(..., help="Experiment, trial or checkpoint directory."),
    env: str = typer.Option(..., "--env", help=ENV_HELP),
    env_config: str | None = ENV_CONFIG_OPTION,
    episodes: int = typer.Option(10, "--episodes", min=1, help="Episodes per checkpoint."),
    seed: int = _seed_option("episode"),
    plot: Path | None = _plot_option("of return against iteration"),
    policy_id: str | None = POLICY_ID_OPTION,
    format: str | None = FORMAT_OPTION,
) -> None:
    """Run each checkpoint's exported policy in a gymnasium env, without Ray."""
    from .load.evaluation import evaluate_exports, plot_returns

    _png(plot)
    config = _env_config(env_config)
    with _progress("episodes") as progress:
        results = evaluate_exports(
            path, env, episodes, seed, policy_id, format, progress=progress, env_config=config
        )
    table = Table(
        title=f"{env}: {episodes} episode(s) per checkpoint, seeds {seed}..{seed + episodes - 1}"
    )
    for column in ("checkpoint", "iteration", "env steps", "format", "return (mean ± std)"):
        table.add_column(column)
    for r in results:
        table.add_row(
            r.checkpoint.name,
            _fmt(r.training_iteration),
            _fmt(r.env_steps),
            r.format or "-",
            f"{r.mean:.2f} ± {r.std:.2f}" if r.problem is None else f"NOT EVALUATED: {r.problem}",
        )
    _show(table)
    if plot is not None:
        plot_returns(results, plot, title=f"{env}: exported policy at each checkpoint")
        out.print(f"wrote {plot}", highlight=False)
    bad = [r for r in results if r.problem is not None]
    _exit_if(bad, f"{len(bad)} of {len(results)} checkpoint(s) could not be evaluated")


@app.command()
@_one_line_errors
def compare(
    path: Path = typer.Argument(..., help="Experiment, trial or checkpoint directory."),
    observations: Path | None = typer.Option(
        None, "--observations", help=".npz of observations: key 'obs', or one key per Dict leaf."
    ),
    env: str | None = typer.Option(None, "--env", help=ENV_HELP),
    env_config: str | None = ENV_CONFIG_OPTION,
    episodes: int = typer.Option(
        3, "--episodes", min=1, help="With --env: episodes driven by the reference checkpoint."
    ),
    reference: str = typer.Option(
        "last", "--reference", help="first, last, or a checkpoint directory's name."
    ),
    seed: int = _seed_option("episode or of the samples"),
    plot: Path | None = _plot_option("heatmap of pairwise agreement between checkpoints"),
    policy_id: str | None = POLICY_ID_OPTION,
    format: str | None = FORMAT_OPTION,
    as_json: bool = typer.Option(
        False, "--json", help="Print a JSON list, one object per checkpoint."
    ),
) -> None:
    """How the checkpoints of a run act differently, on one shared set of observations."""
    from .load.comparison import compare_exports, plot_agreement

    _png(plot)
    if observations is not None and env is not None:
        raise typer.BadParameter("give --observations or --env, not both")
    with _progress("checkpoints") as progress:
        result = compare_exports(
            path,
            observations=observations,
            env=env,
            env_config=_env_config(env_config),
            episodes=episodes if env is not None else None,
            reference=reference,
            policy_id=policy_id,
            format=format,
            seed=seed,
            progress=progress,
        )
    if plot is not None:
        plot_agreement(result, plot)
    if as_json:
        out.print_json(json.dumps(result.as_json()))
        return
    table = Table(
        title=f"policy {result.policy_id!r}, reference {result.reference}: "
        f"{result.observations} observations ({result.source})"
    )
    for column in (
        "checkpoint",
        "iteration",
        "agreement with reference",
        "agreement with previous",
        "mean KL to reference",
        "value drift to reference",
    ):
        table.add_column(column)
    for r in result.rows:
        table.add_row(
            r.checkpoint,
            _fmt(r.training_iteration),
            _fmt(r.agreement_with_reference),
            _fmt(r.agreement_with_previous),
            "-" if r.mean_kl_to_reference is None else f"{r.mean_kl_to_reference:.4f}",
            "-" if r.value_drift_to_reference is None else f"{r.value_drift_to_reference:.4f}",
        )
    _show(table)
    if plot is not None:
        out.print(f"wrote {plot}", highlight=False)


EXIT_USAGE = 2


def main() -> None:
    """Console-script entry point: usage errors, too, are one line on stderr."""
    try:  # typer >= 0.17 vendors click
        from typer._click.exceptions import ClickException, NoArgsIsHelpError, UsageError
    except ImportError:  # pragma: no cover - older typer on click
        from click.exceptions import ClickException, NoArgsIsHelpError, UsageError

    try:
        code = app(prog_name="exportable-trainers", standalone_mode=False)
    except NoArgsIsHelpError:
        raise SystemExit(EXIT_USAGE) from None  # the help was printed
    except UsageError as e:
        command = e.ctx.command_path if e.ctx else "exportable-trainers"
        err.print(
            f"error: {e.format_message()} (see {command} --help)", markup=False, highlight=False
        )
        raise SystemExit(EXIT_USAGE) from None
    except ClickException as e:
        err.print(f"error: {e.format_message()}", markup=False, highlight=False)
        raise SystemExit(e.exit_code) from None
    except typer.Abort:
        raise SystemExit(130) from None
    raise SystemExit(code or 0)


if __name__ == "__main__":
    main()
