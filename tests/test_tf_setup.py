"""TensorFlow set-up: users never set TF_USE_LEGACY_KERAS, whatever they import first."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

from exportable_trainers import TensorFlowSetupError
from exportable_trainers.export.tf.setup import ENV_VAR, ensure_legacy_keras

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# RLlib is imported first (it binds tf.keras to Keras 3), exportable_trainers after.
RLLIB_FIRST = """
import json, sys
from ray.rllib.algorithms.ppo import PPO, PPOConfig
import tensorflow as tf
assert tf.keras.__name__.startswith("keras."), tf.keras.__name__
import ray
from ray import tune
from exportable_trainers import make_exporting
framework, use_tune = sys.argv[1], sys.argv[2] == "tune"
ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
config = (
    PPOConfig()
    .api_stack(enable_rl_module_and_learner=False, enable_env_runner_and_connector_v2=False)
    .environment("CartPole-v1")
    .framework(framework)
    .env_runners(num_env_runners=1 if use_tune else 0)
    .training(train_batch_size=128, minibatch_size=64, num_epochs=1)
)
cls = make_exporting(PPO, formats=["savedmodel", "h5"], on_error="raise")
if use_tune:
    result = tune.Tuner(
        cls,
        param_space=config,
        run_config=tune.RunConfig(
            storage_path=sys.argv[3],
            stop={"training_iteration": 1},
            checkpoint_config=tune.CheckpointConfig(checkpoint_frequency=1),
            verbose=0,
        ),
    ).fit()[0]
    assert result.error is None, result.error
    path = result.checkpoint.path
else:
    algo = cls(config=config)
    algo.train()
    path = algo.save(sys.argv[3]).checkpoint.path
manifest = json.load(open(f"{path}/export/default_policy/manifest.json"))
print("RESULT", manifest["status"], sorted(manifest["files"]))
"""


@pytest.mark.slow
@pytest.mark.requires_tf
@pytest.mark.parametrize(
    "framework, mode",
    [("tf2", "tune"), ("tf", "direct")],
    ids=["tf2-tune-remote-runner", "tf-driver"],
)
def test_rllib_imported_first_needs_no_environment_variable(framework, mode, tmp_path):
    env = {k: v for k, v in os.environ.items() if k != ENV_VAR}
    env["PYTHONPATH"] = ROOT
    out = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(RLLIB_FIRST), framework, mode, str(tmp_path)],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert out.returncode == 0, out.stderr[-4000:]
    assert "RESULT ok ['h5', 'savedmodel']" in out.stdout


def test_explicitly_disabled_legacy_keras_is_a_clear_error(monkeypatch):
    monkeypatch.setenv(ENV_VAR, "0")
    with pytest.raises(TensorFlowSetupError, match="TF_USE_LEGACY_KERAS='0' is set.*unset"):
        ensure_legacy_keras()
