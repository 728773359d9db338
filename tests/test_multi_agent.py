"""Multi-agent: every trained policy / module exported at every checkpoint (the user's two-player case)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from exportable_trainers import PolicySelectionError, load_policy, make_exporting
from exportable_trainers.contract.manifest import EXPORT_DIRNAME, check_files, read_manifest
from tests.configs import two_player_config
from tests.live import assert_close, live_outputs
from tests.tuning import fit

pytestmark = pytest.mark.slow
PLAYERS = ("player_blue", "player_red")


@pytest.mark.parametrize("stack", ["new", "old"])
def test_two_players_every_checkpoint_holds_both_exports(stack, ray_session, rayfree, tmp_path):
    from ray.rllib.algorithms.algorithm import Algorithm
    from ray.rllib.algorithms.ppo import PPO

    result = fit(make_exporting(PPO), two_player_config(stack), tmp_path, 2)
    checkpoints = sorted(Path(result.path).glob("checkpoint_*"))
    assert len(checkpoints) == 2
    rng = np.random.default_rng(0)
    observations = [rng.uniform(-1, 1, 4).astype(np.float32) for _ in range(64)]
    for iteration, checkpoint in enumerate(checkpoints, start=1):
        root = checkpoint / EXPORT_DIRNAME
        assert sorted(p.name for p in root.iterdir()) == list(PLAYERS)
        with pytest.raises(PolicySelectionError, match="'player_blue', 'player_red'"):
            load_policy(checkpoint)
        algo = Algorithm.from_checkpoint(str(checkpoint))
        try:
            for policy_id in PLAYERS:
                manifest = read_manifest(root / policy_id)
                check_files(root / policy_id, manifest)
                assert manifest["policy_id"] == policy_id
                assert manifest["training_iteration"] == iteration
                live = live_outputs(algo, policy_id, observations)
                for fmt in ("onnx", "torchscript"):
                    feeds = {"obs": np.stack(observations)}
                    exported = rayfree.run(root / policy_id, fmt, feeds, mode="load_policy")
                    assert_close(live, exported, 1e-5)
            # The two players trained apart: their exports differ.
            red = load_policy(checkpoint, policy_id="player_red").forward(observations)
            blue = load_policy(checkpoint, policy_id="player_blue").forward(observations)
            assert np.abs(red["action_dist_inputs"] - blue["action_dist_inputs"]).max() > 1e-4
        finally:
            algo.stop()


def test_policies_option_narrows_the_export(ray_session, tmp_path):
    from ray.rllib.algorithms.ppo import PPO

    algo = make_exporting(PPO, policies=["player_red"])(config=two_player_config("new"))
    try:
        algo.train()
        checkpoint = Path(algo.save(str(tmp_path)).checkpoint.path)
        assert [p.name for p in (checkpoint / EXPORT_DIRNAME).iterdir()] == ["player_red"]
    finally:
        algo.stop()


def test_policies_to_train_is_the_default_selection(ray_session, tmp_path):
    from ray.rllib.algorithms.ppo import PPO

    config = two_player_config("old").multi_agent(policies_to_train=["player_blue"])
    algo = make_exporting(PPO)(config=config)
    try:
        algo.train()
        checkpoint = Path(algo.save(str(tmp_path)).checkpoint.path)
        assert [p.name for p in (checkpoint / EXPORT_DIRNAME).iterdir()] == ["player_blue"]
    finally:
        algo.stop()
