"""P5: per-checkpoint export time as the model grows (MLPs of ~0.1M, 1M, 10M parameters, a CNN)."""

from __future__ import annotations

import json
from pathlib import Path

import gymnasium as gym
import numpy as np

from .common import Row


class AtariSizedEnv(gym.Env):
    """Random 84x84x4 frames, 6 actions: a frame-stacked Atari game as RLlib's Atari
    wrappers hand it to the model (float32 in [-1, 1]; RLlib's CNN does not take uint8)."""

    def __init__(self, config=None):
        self.observation_space = gym.spaces.Box(-1.0, 1.0, (84, 84, 4), np.float32)
        self.action_space = gym.spaces.Discrete(6)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        return self.observation_space.sample(), {}

    def step(self, action):
        return self.observation_space.sample(), 0.0, False, True, {}


MODELS = {
    "MLP ~0.1M (2x256)": ("CartPole-v1", {"fcnet_hiddens": [256, 256]}),
    "MLP ~1M (3x512)": ("CartPole-v1", {"fcnet_hiddens": [512, 512, 512]}),
    "MLP ~10M (5x1024)": ("CartPole-v1", {"fcnet_hiddens": [1024] * 5}),
    "CNN (84x84x4 frames)": (AtariSizedEnv, {}),
}


def run(workdir: Path) -> list[Row]:
    from ray.rllib.algorithms.ppo import PPO, PPOConfig
    from ray.rllib.core.rl_module.default_model_config import DefaultModelConfig

    from exportable_trainers import make_exporting

    rows = []
    for name, (env, model) in MODELS.items():
        config = (
            PPOConfig()
            .environment(env)
            .env_runners(num_env_runners=0)
            .rl_module(model_config=DefaultModelConfig(**model))
        )
        algo = make_exporting(PPO, on_error="raise")(config=config)
        module = algo.learner_group._learner.module["default_policy"]
        params = sum(p.numel() for p in module.parameters())
        seconds, sizes = [], {}
        for i in range(3):
            path = Path(algo.save(str(workdir / f"p5-{len(rows)}-{i}")).checkpoint.path)
            manifest = json.loads((path / "export/default_policy/manifest.json").read_text())
            seconds.append(manifest["export_seconds"])
            sizes = {k: v["bytes"] for k, v in manifest["files"].items()}
        algo.stop()
        later = float(np.median(seconds[1:]))
        rows.append(
            Row(
                "P5",
                f"{name}: export per checkpoint (first / later)",
                later,
                seconds[0],
                "s",
                None,
                note=f"{params / 1e6:.2f}M parameters; first {seconds[0]:.2f} s (graph conversion), "
                f"later {later:.3f} s; onnx {sizes['onnx'] / 1e6:.1f} MB",
                samples={"seconds": seconds},
            )
        )
    return rows
