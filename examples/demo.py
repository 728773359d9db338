"""Train PPO with Tune, export every checkpoint, then compare them without Ray.

    python examples/demo.py train RUN_DIR    # needs Ray: trains, exports every checkpoint
    python examples/demo.py compare RUN_DIR [DOCS_DIR]  # never imports Ray

The compare step evaluates every checkpoint, writes RUN_DIR/returns.png, compares
the stages with each other (agreement, KL, value drift) and writes
RUN_DIR/agreement.png; given DOCS_DIR, it also writes the documentation page
DOCS_DIR/compare-training-stages.md with its output and the heatmap.
``make demo`` runs both, in separate processes, and regenerates that page.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

FIXED_OBSERVATION = [0.02, 0.3, -0.04, -0.5]  # cart slightly right, pole falling left


def train(run_dir: Path, iterations: int = 5) -> None:
    """Tune run of ExportingPPO on CartPole-v1 with a checkpoint every iteration."""
    import ray
    from ray import tune
    from ray.rllib.algorithms.ppo import PPO, PPOConfig

    from exportable_trainers import make_exporting

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    make_exporting(PPO)  # registers "ExportingPPO" with Tune
    config = (
        PPOConfig()
        .environment("CartPole-v1")
        .env_runners(num_env_runners=1)
        .training(train_batch_size_per_learner=2000, minibatch_size=250, num_epochs=6, lr=1e-3)
    )
    tuner = tune.Tuner(
        "ExportingPPO",
        param_space=config,
        run_config=tune.RunConfig(
            name="demo",
            storage_path=str(run_dir.resolve()),
            stop={"training_iteration": iterations},
            checkpoint_config=tune.CheckpointConfig(checkpoint_frequency=1),
            verbose=0,
        ),
    )
    result = tuner.fit()[0]
    print(f"trained {iterations} iterations; trial dir: {result.path}")
    ray.shutdown()


class _NoRay:
    """Import hook: this process must never import Ray."""

    def find_spec(self, name, path=None, target=None):
        if name == "ray" or name.startswith("ray."):
            raise ImportError("the compare step runs without Ray")
        return None


def compare(run_dir: Path, episodes: int = 5, docs_dir: Path | None = None) -> None:
    """Evaluate every checkpoint's ONNX export in CartPole, print a table, write a plot."""
    sys.meta_path.insert(0, _NoRay())
    from rich.console import Console
    from rich.table import Table

    from exportable_trainers import list_exports, load_policy
    from exportable_trainers.load.evaluation import evaluate_exports, plot_returns

    results = {
        r.checkpoint: r for r in evaluate_exports(run_dir, "CartPole-v1", episodes, format="onnx")
    }
    table = Table(
        title=f"Every checkpoint under {run_dir}, loaded without Ray "
        f"(ONNX Runtime; {episodes} CartPole episodes each; observation {FIXED_OBSERVATION})"
    )
    for column in ("checkpoint", "iteration", "env steps", "formats", "verified"):
        table.add_column(column)
    for column in ("action", "logits", "value", "return (mean ± std)"):
        table.add_column(column, justify="right")
    for entry in list_exports(run_dir):
        policy = load_policy(entry.checkpoint, format="onnx")
        out = policy.forward([FIXED_OBSERVATION])
        export = entry.policies[policy.policy_id]
        result = results[entry.checkpoint]
        table.add_row(
            entry.checkpoint.name,
            str(entry.training_iteration),
            str(entry.env_steps),
            ", ".join(export.formats),
            {True: "yes", False: "NO", None: "-"}[export.verified],
            str(int(out["action"][0])),
            " ".join(f"{v:+.3f}" for v in out["action_dist_inputs"][0]),
            f"{float(out['vf_preds'][0]):.2f}",
            f"{result.mean:.1f} ± {result.std:.1f}",
        )
    Console(width=max(shutil.get_terminal_size().columns, 150)).print(table)
    plot = plot_returns(
        list(results.values()), run_dir / "returns.png", "CartPole-v1: each checkpoint's export"
    )
    print(f"plot: {plot}")
    stages(run_dir, docs_dir)
    assert "ray" not in sys.modules, "the compare step imported Ray"


def stages(run_dir: Path, docs_dir: Path | None) -> None:
    """Compare the checkpoints with each other on seeded episodes driven by the last one."""
    import json

    from exportable_trainers import compare_exports
    from exportable_trainers.load.comparison import plot_agreement

    result = compare_exports(run_dir, env="CartPole-v1", episodes=3, seed=100, format="onnx")
    heatmap = plot_agreement(result, run_dir / "agreement.png")
    rows = result.as_json()
    print(json.dumps(rows, indent=1))
    if docs_dir is None:
        return
    (docs_dir / "img").mkdir(parents=True, exist_ok=True)
    shutil.copyfile(heatmap, docs_dir / "img" / "agreement.png")
    table = [
        "| checkpoint | iteration | agreement with reference | agreement with previous "
        "| mean KL to reference | value drift to reference |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for r in rows:
        cells = [
            r["checkpoint"],
            r["training_iteration"],
            *(
                "-" if r[k] is None else f"{r[k]:.3f}"
                for k in (
                    "agreement_with_reference",
                    "agreement_with_previous",
                    "mean_kl_to_reference",
                    "value_drift_to_reference",
                )
            ),
        ]
        table.append("| " + " | ".join(map(str, cells)) + " |")
    page = Path(__file__).with_name("compare_page.md.in").read_text()
    page = page.replace("{{SOURCE}}", result.source).replace("{{TABLE}}", "\n".join(table))
    page = page.replace("{{JSON}}", json.dumps(rows[:2], indent=2))
    (docs_dir / "compare-training-stages.md").write_text(page)
    print(f"wrote {docs_dir / 'compare-training-stages.md'}")


def main(argv: list[str]) -> None:
    if (
        len(argv) not in (2, 3)
        or argv[0] not in ("train", "compare")
        or (argv[0] == "train" and len(argv) == 3)
    ):
        raise SystemExit(__doc__)
    step, run_dir = argv[0], Path(argv[1])
    if step == "train":
        train(run_dir)
    else:
        compare(run_dir, docs_dir=Path(argv[2]) if len(argv) == 3 else None)


if __name__ == "__main__":
    main(sys.argv[1:])
