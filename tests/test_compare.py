"""Compare training stages: agreements, KL and value drift, checked against an independent computation."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from exportable_trainers import compare_exports, list_exports, load_policy
from tests.commands import cli
from tests.configs import ppo_config
from tests.tuning import fit

pytestmark = pytest.mark.slow
KEYS = {
    "checkpoint",
    "training_iteration",
    "agreement_with_reference",
    "agreement_with_previous",
    "mean_kl_to_reference",
    "value_drift_to_reference",
}
FACTORY = "tests.envs:make_short_cartpole"


@pytest.fixture(scope="module")
def run(ray_session, tmp_path_factory) -> Path:
    """A Tune run of PPO on CartPole with 4 checkpoints, one per iteration."""
    from ray.rllib.algorithms.ppo import PPO

    from exportable_trainers import make_exporting

    storage = tmp_path_factory.mktemp("stages")
    fit(make_exporting(PPO), ppo_config("CartPole-v1", lr=3e-3), storage, 4, name="stages")
    return storage / "stages"


@pytest.fixture(scope="module")
def obs_file(tmp_path_factory) -> tuple[Path, np.ndarray]:
    obs = np.random.default_rng(7).uniform(-0.5, 0.5, (300, 4)).astype(np.float32)
    path = tmp_path_factory.mktemp("obs") / "obs.npz"
    np.savez(path, obs=obs)
    return path, obs


def _independent(run: Path, obs: np.ndarray, reference: int) -> list[dict]:
    """The same figures from load_policy(...).forward, with torch's KL as the reference."""
    import torch
    from torch.distributions import Categorical, kl_divergence

    outs = [load_policy(e.checkpoint).forward(obs) for e in list_exports(run)]
    ref = outs[reference]
    rows = []
    for i, out in enumerate(outs):
        kl = kl_divergence(
            Categorical(logits=torch.as_tensor(ref["action_dist_inputs"], dtype=torch.float64)),
            Categorical(logits=torch.as_tensor(out["action_dist_inputs"], dtype=torch.float64)),
        )
        rows.append(
            {
                "agreement_with_reference": float(np.mean(out["action"] == ref["action"])),
                "agreement_with_previous": None
                if i == 0
                else float(np.mean(out["action"] == outs[i - 1]["action"])),
                "mean_kl_to_reference": float(kl.mean()),
                "value_drift_to_reference": float(
                    np.mean(np.abs(out["vf_preds"] - ref["vf_preds"]))
                ),
            }
        )
    return rows


def test_compare_json_equals_an_independent_computation(run, obs_file):
    path, obs = obs_file
    out = cli("compare", run, "--observations", path, "--json")
    assert out.returncode == 0, out.stderr
    rows = json.loads(out.stdout)
    assert len(rows) == 4 and all(set(r) == KEYS for r in rows)
    assert [r["training_iteration"] for r in rows] == [1, 2, 3, 4]
    assert [r["checkpoint"] for r in rows] == [e.checkpoint.name for e in list_exports(run)]
    want = _independent(run, obs, reference=3)
    for got, expected in zip(rows, want):
        assert got["agreement_with_reference"] == expected["agreement_with_reference"]
        assert got["agreement_with_previous"] == expected["agreement_with_previous"]
        assert got["mean_kl_to_reference"] == pytest.approx(
            expected["mean_kl_to_reference"], abs=1e-4
        )
        assert got["value_drift_to_reference"] == pytest.approx(
            expected["value_drift_to_reference"], abs=1e-5
        )
    assert rows[-1]["agreement_with_reference"] == 1.0 and rows[-1]["mean_kl_to_reference"] == 0.0
    # Training moved the policy: the stages do not all act alike.
    assert rows[0]["mean_kl_to_reference"] > 1e-4


def test_reference_by_name_and_first(run, obs_file):
    path, obs = obs_file
    names = [e.checkpoint.name for e in list_exports(run)]
    by_name = compare_exports(run, observations=path, reference=names[1])
    assert by_name.reference == names[1] and by_name.rows[1].agreement_with_reference == 1.0
    first = compare_exports(run, observations=path, reference="first")
    want = _independent(run, obs, reference=0)
    assert [r.agreement_with_reference for r in first.rows] == [
        w["agreement_with_reference"] for w in want
    ]
    assert np.allclose(first.agreement, first.agreement.T) and np.all(np.diag(first.agreement) == 1)


def test_compare_on_your_own_env_writes_the_heatmap(run, tmp_path):
    plot = tmp_path / "agreement.png"
    out = cli(
        "compare",
        run,
        "--env",
        FACTORY,
        "--env-config",
        '{"max_episode_steps": 25}',
        "--episodes",
        "2",
        "--plot",
        plot,
    )
    assert out.returncode == 0, out.stderr
    assert f"2 episode(s) of {FACTORY}" in out.stdout and "wrote" in out.stdout
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    result = compare_exports(run, env=FACTORY, env_config={"max_episode_steps": 25}, episodes=2)
    assert result.observations == _episode_steps(run, episodes=2, max_steps=25)


def _episode_steps(run: Path, episodes: int, max_steps: int) -> int:
    """Steps of the seeded episodes (seeds 0, 1) the last export drives, replayed in gymnasium."""
    import gymnasium as gym

    policy = load_policy(list_exports(run)[-1].checkpoint)
    steps = 0
    for seed in range(episodes):
        env = gym.make("CartPole-v1", max_episode_steps=max_steps)
        obs, _ = env.reset(seed=seed)
        done = False
        while not done:
            obs, _, terminated, truncated, _ = env.step(policy.compute_action(obs))
            done, steps = terminated or truncated, steps + 1
    return steps


def test_samples_of_the_space_when_nothing_is_given(run):
    result = compare_exports(run)
    assert result.observations == 256 and "samples of the observation space" in result.source


def test_evaluate_runs_your_own_env(run):
    out = cli(
        "evaluate",
        run,
        "--env",
        FACTORY,
        "--env-config",
        '{"max_episode_steps": 20}',
        "--episodes",
        "1",
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.count("checkpoint_") == 4


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["--env", "tests.envs:no_such_factory"], "has no callable 'no_such_factory'"),
        (["--env", "no_such_package.envs:make"], "cannot import module 'no_such_package.envs'"),
        (["--env", "tests.envs:not_an_env"], "returned dict, not a gymnasium environment"),
        (["--env", FACTORY, "--env-config", "[1]"], "--env-config must be a JSON object"),
        (["--observations", "{bad}"], "obs: has shape (3,), not (4,)"),
        (["--observations", "{missing}"], "expected key 'obs'"),
        (["--reference", "checkpoint_999999"], "not a checkpoint here"),
    ],
)
def test_bad_input_is_one_line(run, tmp_path, args, fragment):
    bad, missing = tmp_path / "bad.npz", tmp_path / "missing.npz"
    np.savez(bad, obs=np.zeros((10, 3), np.float32))
    np.savez(missing, observations=np.zeros((10, 4), np.float32))
    args = [a.format(bad=bad, missing=missing) for a in args]
    for command in ("compare", "evaluate") if args[0] == "--env" else ("compare",):
        extra = ["--episodes", "1"] if command == "evaluate" else []
        out = cli(command, run, *args, *extra)
        lines = out.stderr.strip().splitlines()
        assert out.returncode != 0 and len(lines) == 1 and fragment in lines[0], (
            command,
            out.stderr,
        )
