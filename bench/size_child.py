"""P4, TensorFlow part (its own process): default tf2 PPO exported in every TF format."""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path

import numpy as np
import ray
from ray.rllib.algorithms.ppo import PPO, PPOConfig

from exportable_trainers import make_exporting

ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
config = (
    PPOConfig()
    .api_stack(enable_rl_module_and_learner=False, enable_env_runner_and_connector_v2=False)
    .environment("CartPole-v1")
    .framework("tf2")
    .env_runners(num_env_runners=0)
)
algo = make_exporting(PPO, formats=["savedmodel", "h5", "keras", "onnx"], on_error="raise")(
    config=config
)
with tempfile.TemporaryDirectory() as tmp:
    checkpoint = Path(algo.save(tmp).checkpoint.path)
    manifest = json.loads((checkpoint / "export/default_policy/manifest.json").read_text())
    params = int(sum(np.asarray(v).nbytes for v in algo.get_policy().model.variables()))
    print(
        json.dumps(
            {"params": params, "files": {k: v["bytes"] for k, v in manifest["files"].items()}}
        )
    )
sys.stdout.flush()
os._exit(0)
