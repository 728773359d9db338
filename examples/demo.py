"""Train PPO with Tune, export every checkpoint, then compare them without Ray.

    python examples/demo.py train RUN_DIR    # needs Ray: trains, exports every checkpoint
    python examples/demo.py compare RUN_DIR  # never imports Ray: evaluates every checkpoint

``make demo`` runs both, in separate processes, and writes RUN_DIR/returns.png.
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


def compare(run_dir: Path, episodes: int = 5) -> None:
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
    assert "ray" not in sys.modules, "the compare step imported Ray"


def main(argv: list[str]) -> None:
    if len(argv) != 2 or argv[0] not in ("train", "compare"):
        raise SystemExit(__doc__)
    step, run_dir = argv[0], Path(argv[1])
    train(run_dir) if step == "train" else compare(run_dir)


if __name__ == "__main__":
    main(sys.argv[1:])
