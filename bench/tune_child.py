"""P1 runs: Tune with RLlib's default PPO config on CartPole-v1, checkpoint every iteration.

python bench/tune_child.py VARIANTS torch|tf2 ITERATIONS STORAGE

VARIANTS is a comma-separated order of "plain" and "exporting"; the runs share
this process and its Ray instance (each trial still gets fresh Ray actors).
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

variants, framework = sys.argv[1].split(","), sys.argv[2]
iterations, storage = int(sys.argv[3]), sys.argv[4]

import ray  # noqa: E402
from ray import tune  # noqa: E402
from ray.rllib.algorithms.ppo import PPO, PPOConfig  # noqa: E402

# RLlib's default PPO asks Tune for 3 CPUs (trial + 2 env runners); on a 2-core machine
# the logical count must allow it, for both variants alike.
ray.init(num_cpus=4, include_dashboard=False, log_to_driver=False, configure_logging=False)
config = PPOConfig().environment("CartPole-v1")  # RLlib's defaults otherwise
if framework == "tf2":
    config = config.api_stack(
        enable_rl_module_and_learner=False, enable_env_runner_and_connector_v2=False
    ).framework("tf2")


def timed(base: type) -> type:
    """``base`` reporting how long setup() took (RLlib's build, plus our preflight)."""

    class Timed(base):  # type: ignore[misc,valid-type]
        def setup(self, config):
            start = time.perf_counter()
            super().setup(config)
            self._bench_setup_seconds = time.perf_counter() - start

        def step(self):
            return {**super().step(), "bench_setup_seconds": self._bench_setup_seconds}

    return Timed


def run(variant: str) -> dict:
    """One Tune run of the variant; wall time and where it went."""
    base = PPO
    if variant == "exporting":
        from exportable_trainers import make_exporting

        base = make_exporting(PPO)
    tuner = tune.Tuner(
        timed(base),
        param_space=config,
        run_config=tune.RunConfig(
            storage_path=tempfile.mkdtemp(dir=storage),
            stop={"training_iteration": iterations},
            checkpoint_config=tune.CheckpointConfig(checkpoint_frequency=1),
            verbose=0,
        ),
    )
    start = time.perf_counter()
    result = tuner.fit()[0]
    seconds = time.perf_counter() - start
    assert result.error is None, result.error
    manifests = [json.loads(p.read_text()) for p in Path(result.path).rglob("manifest.json")]
    results = [
        json.loads(line)
        for line in (Path(result.path) / "result.json").read_text().splitlines()
        if line
    ]
    return {
        "variant": variant,
        "seconds": seconds,
        "export_seconds": [
            m["export_seconds"] for m in sorted(manifests, key=lambda m: m["training_iteration"])
        ],
        "iteration_seconds": [r["time_this_iter_s"] for r in results],
        "setup_seconds": results[0]["bench_setup_seconds"],
    }


print(json.dumps({"runs": [run(v) for v in variants]}))
