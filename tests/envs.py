"""A tiny environment whose observation and action spaces are chosen by name."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
from gymnasium import spaces

OBSERVATION_SPACES = {
    "box": lambda: spaces.Box(-1.0, 1.0, (3,), np.float32),
    "discrete": lambda: spaces.Discrete(5),
    "multidiscrete": lambda: spaces.MultiDiscrete([3, 4]),
    "multibinary": lambda: spaces.MultiBinary(4),
    "dict": lambda: spaces.Dict(
        {"mode": spaces.Discrete(3), "pos": spaces.Box(-1.0, 1.0, (2,), np.float32)}
    ),
    "tuple": lambda: spaces.Tuple((spaces.Discrete(2), spaces.Box(-2.0, 2.0, (3,), np.float32))),
}
ACTION_SPACES = {
    "discrete": lambda: spaces.Discrete(3),
    "multidiscrete": lambda: spaces.MultiDiscrete([2, 3]),
    "box": lambda: spaces.Box(-2.0, 2.0, (2,), np.float32),
}


class SpacesEnv(gym.Env):
    """Random observations; reward for actions that depend on the observation.

    env_config: {"obs": name in OBSERVATION_SPACES, "action": name in ACTION_SPACES}.
    """

    def __init__(self, config=None):
        config = dict(config or {})
        self.observation_space = OBSERVATION_SPACES[config.get("obs", "box")]()
        self.action_space = ACTION_SPACES[config.get("action", "discrete")]()
        self._t = 0

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.observation_space.seed(int(self.np_random.integers(1 << 30)))
        self._t = 0
        self._obs = self.observation_space.sample()
        return self._obs, {}

    def step(self, action):
        self._t += 1
        flat = gym.spaces.utils.flatten(self.observation_space, self._obs)
        reward = float(np.tanh(np.sum(np.asarray(action, np.float64)) * flat[0]))
        self._obs = self.observation_space.sample()
        return self._obs, reward, False, self._t >= 10, {}


class ImageEnv(gym.Env):
    """Random 42x42x4 images (what RLlib's TinyAtariCNN example module is built for)."""

    def __init__(self, config=None):
        self.observation_space = spaces.Box(0.0, 1.0, (42, 42, 4), np.float32)
        self.action_space = spaces.Discrete(2)
        self._t = 0

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self._t = 0
        return self._image(), {}

    def _image(self):
        return self.np_random.random((42, 42, 4), dtype=np.float32)

    def step(self, action):
        self._t += 1
        return self._image(), float(action), False, self._t >= 8, {}


class TwoBinaryActionsEnv(gym.Env):
    """One observation, a Tuple of two binary actions; the second should copy the first.

    The action space RLlib's old-stack autoregressive example model and
    distribution are written for (Tuple(Discrete(2), Discrete(2))).
    """

    def __init__(self, config=None):
        self.observation_space = spaces.Box(-1.0, 1.0, (1,), np.float32)
        self.action_space = spaces.Tuple((spaces.Discrete(2), spaces.Discrete(2)))
        self._t = 0

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self._t = 0
        return self._obs(), {}

    def _obs(self):
        return self.np_random.uniform(-1.0, 1.0, (1,)).astype(np.float32)

    def step(self, action):
        self._t += 1
        a1, a2 = action
        return self._obs(), float(a1 == a2), False, self._t >= 10, {}


def make_short_cartpole(config=None):
    """A user's env factory as ``--env tests.envs:make_short_cartpole`` names it.

    env_config: {"max_episode_steps": int}, like an RLlib env creator's config dict.
    """
    config = dict(config or {})
    return gym.make("CartPole-v1", max_episode_steps=int(config.get("max_episode_steps", 500)))


def not_an_env(config=None):
    """A factory that returns something else: the CLI must say so."""
    return {"observation_space": None}
