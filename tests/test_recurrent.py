"""Recurrent (LSTM) policies: single-step graphs with state in and out, on both stacks."""

from __future__ import annotations

from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from exportable_trainers.contract.manifest import read_manifest
from tests.configs import ppo_config
from tests.strategies import observation_batches

ATOL = 1e-5
CELL = 16


@pytest.fixture(
    scope="module",
    params=[
        pytest.param(("new", "torch"), id="new-torch"),
        pytest.param(("old", "torch"), id="old-torch"),
        pytest.param(("old", "tf2"), id="old-tf2", marks=pytest.mark.requires_tf),
        pytest.param(("old", "tf"), id="old-tf", marks=[pytest.mark.tf1, pytest.mark.requires_tf]),
    ],
)
def lstm(request, ray_session, tmp_path_factory):
    from ray.rllib.algorithms.ppo import PPO
    from ray.rllib.core.rl_module.default_model_config import DefaultModelConfig

    from exportable_trainers import make_exporting

    stack, framework = request.param
    config = ppo_config("CartPole-v1", stack, framework)
    if stack == "new":
        config = config.rl_module(
            model_config=DefaultModelConfig(use_lstm=True, lstm_cell_size=CELL, max_seq_len=8)
        )
    else:
        config = config.training(model={"use_lstm": True, "lstm_cell_size": CELL, "max_seq_len": 8})
    algo = make_exporting(PPO, on_error="raise")(config=config)
    algo.train()
    checkpoint = algo.save(
        str(tmp_path_factory.mktemp(f"lstm-{stack}-{framework}"))
    ).checkpoint.path
    yield algo, Path(checkpoint) / "export" / "default_policy"
    algo.stop()


def _old_stack_episode(algo, steps: int, seed: int) -> dict:
    """Algorithm.compute_single_action with state, in a real env, resetting at episode ends."""
    env = gym.make("CartPole-v1")
    obs, _ = env.reset(seed=seed)
    policy = algo.get_policy()
    state = policy.get_initial_state()
    record = {"obs": [], "episode_start": [], "action": [], "action_dist_inputs": [], "state": []}
    start = True
    for _ in range(steps):
        action, state, extra = algo.compute_single_action(
            obs, state=state, explore=False, full_fetch=True
        )
        record["obs"].append(obs)
        record["episode_start"].append(start)
        record["action"].append(action)
        record["action_dist_inputs"].append(extra["action_dist_inputs"])
        record["state"].append(np.concatenate([np.asarray(s).reshape(-1) for s in state]))
        obs, _, terminated, truncated, _ = env.step(action)
        start = terminated or truncated
        if start:
            obs, _ = env.reset()
            state = policy.get_initial_state()
    return {k: np.stack([np.asarray(v) for v in vals]) for k, vals in record.items()}


def _new_stack_episode(algo, steps: int) -> dict:
    """RLlib's own env runner sampling with explore=False, from freshly reset envs."""
    episodes = algo.env_runner.sample(num_timesteps=steps, explore=False, force_reset=True)
    record = {"obs": [], "episode_start": [], "action": [], "action_dist_inputs": []}
    for episode in episodes:
        n = len(episode)
        record["obs"] += list(episode.get_observations(slice(0, n)))
        record["episode_start"] += [episode.t_started == 0 and i == 0 for i in range(n)]
        record["action"] += list(episode.get_actions(slice(0, n)))
        record["action_dist_inputs"] += list(
            episode.get_extra_model_outputs("action_dist_inputs", slice(0, n))
        )
    return {k: np.stack([np.asarray(v) for v in vals]) for k, vals in record.items()}


def test_stepped_episode_matches_rllib_step_by_step(lstm, rayfree):
    algo, export_dir = lstm
    steps = 40
    if algo.config.enable_rl_module_and_learner:
        live = _new_stack_episode(algo, steps)
    else:
        live = _old_stack_episode(algo, steps, seed=3)
    assert len(live["action"]) >= 20
    assert live["episode_start"][0]
    feeds = {"obs": live["obs"].astype(np.float32), "episode_start": live["episode_start"]}
    exported = rayfree.run(export_dir, "onnx", feeds, mode="episode")
    np.testing.assert_array_equal(exported["action"], live["action"])
    np.testing.assert_allclose(
        exported["action_dist_inputs"], live["action_dist_inputs"], rtol=0, atol=ATOL
    )
    if "state" in live:
        np.testing.assert_allclose(exported["state"], live["state"], rtol=0, atol=ATOL)


def _rllib_step(algo, observations, state):
    """One step of RLlib on a batch of observations and states (public module / policy API)."""
    import torch

    if algo.config.enable_rl_module_and_learner:
        module = algo.learner_group._learner.module["default_policy"]
        batch = {
            "obs": torch.as_tensor(np.stack(observations))[:, None],
            "state_in": {k: torch.as_tensor(v) for k, v in state.items()},
        }
        with torch.no_grad():
            out = module.forward_inference(batch)
            logits = out["action_dist_inputs"][:, 0]
            return {
                "action": logits.argmax(-1).numpy(),
                "action_dist_inputs": logits.numpy(),
                "vf_preds": module.compute_values(batch)[:, 0].numpy(),
                **{f"state_out.{k}": v.numpy() for k, v in out["state_out"].items()},
            }
    from ray.rllib.policy.sample_batch import SampleBatch

    batch = {"obs": np.stack(observations), "state_in_0": state["0"], "state_in_1": state["1"]}
    batch["seq_lens"] = np.ones(len(observations), np.int32)
    actions, state_out, extra = algo.get_policy().compute_actions_from_input_dict(
        SampleBatch(batch), explore=False
    )
    return {
        "action": np.asarray(actions),
        "action_dist_inputs": extra["action_dist_inputs"],
        "vf_preds": extra["vf_preds"],
        "state_out.0": state_out[0],
        "state_out.1": state_out[1],
    }


@pytest.mark.parametrize("fmt", ["onnx", "native"])
@settings(
    max_examples=8,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(data=st.data())
def test_one_step_with_any_state_matches_rllib(lstm, rayfree, fmt, data):
    from gymnasium import spaces

    algo, export_dir = lstm
    manifest = read_manifest(export_dir)
    if fmt == "native":
        fmt = "torchscript" if "torchscript" in manifest["files"] else "savedmodel"
    obs_space = spaces.Box(-10, 10, (4,), np.float32)
    observations = data.draw(observation_batches(obs_space, 64))
    state = {}
    feeds = {"obs": np.stack(observations)}
    for entry in manifest["recurrent"]["state"]:
        values = arrays(np.float32, (64, *entry["shape"]), elements=st.floats(-1, 1, width=32))
        state[entry["key"]] = data.draw(values)
        feeds[entry["input"]] = state[entry["key"]]
    live = _rllib_step(algo, observations, state)
    exported = rayfree.run(export_dir, fmt, feeds, mode="raw")
    for name, want in live.items():
        if want.dtype.kind in "iu":
            np.testing.assert_array_equal(exported[name], want, err_msg=name)
        else:
            np.testing.assert_allclose(exported[name], want, rtol=0, atol=ATOL, err_msg=name)


def test_compare_replays_observations_as_an_episode_with_state(lstm, tmp_path):
    """compare's agreement for a recurrent policy equals stepping each checkpoint by hand."""
    import shutil

    from exportable_trainers import compare_exports, load_policy

    algo, export_dir = lstm
    if not algo.config.enable_rl_module_and_learner:
        # compare runs the loader's forward, the same on every stack (stepped above).
        pytest.skip("compare's stepping is stack-independent: checked on the new stack")
    run = tmp_path / "run"
    shutil.copytree(export_dir.parent.parent, run / "checkpoint_a")
    algo.train()
    algo.save(str(run / "checkpoint_b"))
    env = gym.make("CartPole-v1")
    obs, _ = env.reset(seed=5)
    episode = [obs]
    for t in range(59):
        obs, _, terminated, truncated, _ = env.step(t % 2)
        if terminated or truncated:
            break
        episode.append(obs)
    path = tmp_path / "episode.npz"
    np.savez(path, obs=np.stack(episode).astype(np.float32))

    def stepped(checkpoint: Path) -> np.ndarray:
        policy = load_policy(checkpoint)
        policy.reset()
        return np.array([policy.compute_action(o) for o in episode])

    a, b = stepped(run / "checkpoint_a"), stepped(run / "checkpoint_b")

    def stepped_inputs(checkpoint: Path) -> np.ndarray:
        policy = load_policy(checkpoint)
        state, rows = policy.initial_state(1), []
        for o in episode:
            out = policy.forward([o], state)
            state = {k: out[f"state_out.{k}"] for k in state}
            rows.append(out["action_dist_inputs"][0])
        return np.array(rows, np.float64)

    import torch
    from torch.distributions import Categorical, kl_divergence

    pa, pb = stepped_inputs(run / "checkpoint_a"), stepped_inputs(run / "checkpoint_b")
    stateless = load_policy(run / "checkpoint_a").forward(np.stack(episode))["action_dist_inputs"]
    assert np.abs(stateless - pa).max() > 1e-4, (
        "the state must matter for this test to mean anything"
    )
    kl = kl_divergence(
        Categorical(logits=torch.as_tensor(pb)), Categorical(logits=torch.as_tensor(pa))
    )
    result = compare_exports(run, observations=path)
    assert result.rows[0].mean_kl_to_reference == pytest.approx(float(kl.mean()), abs=1e-6)
    assert [r.checkpoint for r in result.rows] == ["checkpoint_a", "checkpoint_b"]
    np.testing.assert_array_equal(result.actions[0].reshape(a.shape), a)
    np.testing.assert_array_equal(result.actions[1].reshape(b.shape), b)
    assert result.rows[0].agreement_with_reference == float(np.mean(a == b))
    assert result.rows[1].agreement_with_previous == float(np.mean(a == b))
    assert result.rows[1].mean_kl_to_reference == 0.0
