"""The user's story with Tune and TensorFlow, and Tune's end-of-trial export_formats."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from exportable_trainers import make_exporting
from exportable_trainers.contract.manifest import EXPORT_DIRNAME, check_files, read_manifest
from tests.configs import ppo_config
from tests.live import assert_close, live_outputs
from tests.tuning import fit

pytestmark = [pytest.mark.slow, pytest.mark.requires_tf]


@pytest.mark.tf1
def test_user_story_every_second_checkpoint_holds_model_and_h5(ray_session, rayfree, tmp_path):
    """framework="tf", checkpoint_frequency=2, formats ["model", "h5"] (Ray's names), 6 iterations."""
    from ray.rllib.algorithms.algorithm import Algorithm
    from ray.rllib.algorithms.ppo import PPO

    config = ppo_config("CartPole-v1", "old", "tf")
    config.exporting = {"formats": ["model", "h5"], "on_error": "raise"}
    result = fit(make_exporting(PPO), config, tmp_path, 6, every=2)
    checkpoints = sorted(Path(result.path).glob("checkpoint_*"))
    assert len(checkpoints) == 3
    rng = np.random.default_rng(0)
    observations = [rng.uniform(-1, 1, 4).astype(np.float32) for _ in range(32)]
    for iteration, checkpoint in zip((2, 4, 6), checkpoints):
        export_dir = checkpoint / EXPORT_DIRNAME / "default_policy"
        manifest = read_manifest(export_dir)
        check_files(export_dir, manifest)
        assert manifest["training_iteration"] == iteration
        assert set(manifest["files"]) == {"savedmodel", "h5"}
        algo = Algorithm.from_checkpoint(str(checkpoint))
        try:
            live = live_outputs(algo, "default_policy", observations)
        finally:
            algo.stop()
        for fmt in ("savedmodel", "h5"):
            exported = rayfree.run(
                export_dir, fmt, {"obs": np.stack(observations)}, mode="load_policy"
            )
            assert_close(live, exported, 1e-5)


def _two_policies(config):
    from ray.rllib.examples.envs.classes.multi_agent import MultiAgentCartPole

    return config.environment(MultiAgentCartPole, env_config={"num_agents": 2}).multi_agent(
        policies={"player_red", "player_blue"},
        policy_mapping_fn=lambda agent_id, *args, **kwargs: ["player_red", "player_blue"][
            agent_id % 2
        ],
    )


def test_tune_end_of_trial_export_formats_h5_for_every_policy(ray_session, tmp_path):
    from ray import tune
    from ray.rllib.algorithms.ppo import PPO

    config = _two_policies(ppo_config("CartPole-v1", "old", "tf2"))
    analysis = tune.run(
        make_exporting(PPO),
        config=config.to_dict(),
        stop={"training_iteration": 1},
        export_formats=["h5"],
        storage_path=str(tmp_path),
        name="end_of_trial",
        verbose=0,
    )
    trial_dir = Path(analysis.trials[0].path)
    for policy_id in ("player_red", "player_blue"):
        export_dir = trial_dir / EXPORT_DIRNAME / policy_id
        manifest = read_manifest(export_dir)
        check_files(export_dir, manifest)
        assert list(manifest["files"]) == ["h5"]
        assert (export_dir / "model.h5").is_file()
