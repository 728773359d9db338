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
