"""Tune runs: an export in every checkpoint, and RLlib / Tune restore still work."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from exportable_trainers import load_policy, make_exporting
from exportable_trainers.contract.manifest import EXPORT_DIRNAME, check_files, read_manifest
from tests.callbacks import fail_once_at_iteration_2
from tests.configs import ppo_config
from tests.live import assert_close, live_outputs
from tests.tuning import tuner

pytestmark = pytest.mark.slow


def _checkpoints(trial_path: str) -> list[Path]:
    return sorted(Path(trial_path).glob("checkpoint_*"))


@pytest.fixture(scope="module", params=["new", "old"])
def tune_run(request, ray_session, tmp_path_factory):
    from ray.rllib.algorithms.ppo import PPO

    make_exporting(PPO)  # registers "ExportingPPO" with Tune
    storage = tmp_path_factory.mktemp(f"tune-{request.param}")
    config = ppo_config("CartPole-v1", request.param)
    result = tuner("ExportingPPO", config, storage, 3, name="run").fit()[0]
    assert result.error is None, result.error
    return request.param, result


def test_every_checkpoint_holds_a_complete_export(tune_run):
    stack, result = tune_run
    checkpoints = _checkpoints(result.path)
    assert len(checkpoints) == 3
    for iteration, checkpoint in enumerate(checkpoints, start=1):
        export_dir = checkpoint / EXPORT_DIRNAME / "default_policy"
        manifest = read_manifest(export_dir)
        check_files(export_dir, manifest)  # every listed file exists with its sha256
        assert manifest["training_iteration"] == iteration
        assert manifest["api_stack"] == stack
        assert set(manifest["files"]) == {"onnx", "torchscript", "safetensors"}
        assert [p.name for p in (checkpoint / EXPORT_DIRNAME).iterdir()] == ["default_policy"]


def test_algorithm_from_checkpoint_restores_and_keeps_exporting(tune_run, tmp_path):
    from ray.rllib.algorithms.algorithm import Algorithm

    _, result = tune_run
    last = _checkpoints(result.path)[-1]
    algo = Algorithm.from_checkpoint(str(last))
    try:
        assert type(algo).__name__ == "ExportingPPO"
        observations = [np.array([0.01, -0.2, 0.03, 0.1], np.float32)] * 4
        exported = load_policy(last).forward(observations)
        assert_close(live_outputs(algo, "default_policy", observations), exported, 1e-5)
        algo.train()
        saved = algo.save(str(tmp_path / "continued")).checkpoint.path
        assert (
            read_manifest(Path(saved) / EXPORT_DIRNAME / "default_policy")["training_iteration"]
            == 4
        )
    finally:
        algo.stop()


def test_tuner_restore_of_a_crashed_run_goes_on_exporting(ray_session, tmp_path):
    from ray import tune
    from ray.rllib.algorithms.ppo import PPO

    cls = make_exporting(PPO)
    config = ppo_config("CartPole-v1").callbacks(on_train_result=fail_once_at_iteration_2)
    config.test_fail_marker = str(tmp_path / "crashed")
    first = tuner(cls, config, tmp_path, 3, name="crash").fit()[0]
    assert first.error is not None
    assert len(_checkpoints(first.path)) == 1

    restored = tune.Tuner.restore(str(tmp_path / "crash"), trainable=cls, restart_errored=True)
    result = restored.fit()[0]
    assert result.error is None, result.error
    checkpoints = _checkpoints(result.path)
    assert len(checkpoints) == 3
    iterations = [
        read_manifest(c / EXPORT_DIRNAME / "default_policy")["training_iteration"]
        for c in checkpoints
    ]
    assert iterations == [1, 2, 3]
