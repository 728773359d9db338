"""Whole episodes that RLlib itself acts in, recorded at the env, for Ray-free replays.

RLlib's connectors write their output back into its episode objects (e.g.
FlattenObservations), so the raw observations and the actions RLlib sent are
recorded inside the env instead: each env made through :func:`recorded_env`
logs its reset / step calls. :func:`sample_new_stack` then lets the env runner
act with ``sample(explore=False)``; :func:`sample_old_stack` drives episodes with
``Algorithm.compute_single_action(explore=False)`` (the old stack's env runner
has no explore switch).
"""

from __future__ import annotations

import itertools
from typing import Any

import gymnasium as gym
import numpy as np

# env name -> every recording env instance created under it (this process).
RECORDERS: dict[str, list[Any]] = {}
_NAMES = itertools.count()


def _record_reset(self, result: tuple) -> None:
    obs, _ = result
    self._episodes.append({"obs": [obs], "actions": []})


def _record_step(self, action: Any, result: tuple) -> None:
    obs = result[0]
    episode = self._episodes[-1]
    episode["actions"].append(action)
    episode["obs"].append(obs)


class _RecordingWrapper(gym.Wrapper):
    """Records the episodes of a gymnasium env (made from a registered id)."""

    def __init__(self, env: gym.Env) -> None:
        super().__init__(env)
        self._episodes: list[dict] = []

    def reset(self, **kwargs):
        result = self.env.reset(**kwargs)
        _record_reset(self, result)
        return result

    def step(self, action):
        result = self.env.step(action)
        _record_step(self, action, result)
        return result


def _recording_subclass(cls: type) -> type:
    """``cls`` with reset / step recorded (works for gym.Env and MultiAgentEnv classes)."""

    def __init__(self, *args, **kwargs):
        self._episodes = []
        cls.__init__(self, *args, **kwargs)

    def reset(self, *args, **kwargs):
        result = cls.reset(self, *args, **kwargs)
        _record_reset(self, result)
        return result

    def step(self, action):
        result = cls.step(self, action)
        _record_step(self, action, result)
        return result

    return type(
        f"Recorded{cls.__name__}", (cls,), {"__init__": __init__, "reset": reset, "step": step}
    )


def recorded_env(env: Any, env_config: dict | None = None) -> str:
    """Register a recording version of ``env`` (gymnasium id, env class or factory); return its name."""
    from ray.tune.registry import register_env

    name = f"recorded_env_{next(_NAMES)}"
    RECORDERS[name] = []
    cls = _recording_subclass(env) if isinstance(env, type) else None

    def make(config: Any, _name: str = name) -> Any:
        # Tune's registry pickles this function by value: reach the module's own
        # RECORDERS through an import, not through a copied global.
        from tests import replay

        if cls is not None:
            instance = cls(config)
        else:
            made = gym.make(env) if isinstance(env, str) else env(config)
            instance = replay._RecordingWrapper(made)
        replay.RECORDERS.setdefault(_name, []).append(instance)
        return instance

    register_env(name, make)
    return name


def _clear(name: str) -> None:
    for recorder in RECORDERS[name]:
        recorder._episodes.clear()


def _collect(name: str) -> list[dict]:
    return [e for r in RECORDERS[name] for e in r._episodes if e["actions"]]


def sample_new_stack(algo: Any, name: str, episodes: int = 2) -> list[dict]:
    """Episodes the new stack's env runner acts in with ``sample(explore=False)``.

    Returns:
        One dict per episode: ``obs`` (T+1 raw observations) and ``actions`` (T
        actions as RLlib sent them); multi-agent envs give per-step dicts.
    """
    _clear(name)
    algo.env_runner.sample(num_episodes=episodes, explore=False, random_actions=False)
    recorded = _collect(name)
    assert recorded, "the env runner did not step the recording env"
    return recorded


def sample_old_stack(
    algo: Any, env: gym.Env, episodes: int = 2, max_steps: int = 200, seed: int = 0
) -> list[dict]:
    """Episodes of ``env`` acted in by ``Algorithm.compute_single_action(explore=False)``."""
    policy = algo.get_policy()
    config = algo.config
    out = []
    for i in range(episodes):
        obs, _ = env.reset(seed=seed + i)
        state = policy.get_initial_state()
        episode = {"obs": [obs], "actions": []}
        for _ in range(max_steps):
            result = algo.compute_single_action(
                obs,
                state=state or None,
                explore=False,
                unsquash_action=config.normalize_actions,
                clip_action=config.clip_actions,
            )
            if state:
                action, state, _ = result
            else:
                action = result
            obs, _, terminated, truncated, _ = env.step(action)
            episode["actions"].append(action)
            episode["obs"].append(obs)
            if terminated or truncated:
                break
        out.append(episode)
    return out


def sample_old_stack_multi(
    algo: Any, env: Any, mapping: Any, episodes: int = 2, max_steps: int = 200, seed: int = 0
) -> list[dict]:
    """Multi-agent episodes acted in by ``compute_single_action(explore=False)`` per agent."""
    config = algo.config
    out = []
    for i in range(episodes):
        obs, _ = env.reset(seed=seed + i)
        episode = {"obs": [obs], "actions": []}
        for _ in range(max_steps):
            actions = {
                agent: algo.compute_single_action(
                    o,
                    policy_id=mapping(agent),
                    explore=False,
                    unsquash_action=config.normalize_actions,
                    clip_action=config.clip_actions,
                )
                for agent, o in obs.items()
            }
            obs, _, terminated, truncated, _ = env.step(actions)
            episode["actions"].append(actions)
            episode["obs"].append(obs)
            if terminated.get("__all__") or truncated.get("__all__"):
                break
        out.append(episode)
    return out


def per_agent(episodes: list[dict], mapping: Any) -> dict[str, list[dict]]:
    """Split multi-agent episodes into per-policy single-agent episodes.

    Args:
        episodes: Recorded multi-agent episodes (dict observations / actions).
        mapping: ``agent_id -> policy id``.
    """
    out: dict[str, list[dict]] = {}
    for episode in episodes:
        agents: dict[Any, dict] = {}
        for t, action in enumerate(episode["actions"]):
            for agent, a in action.items():
                # The observation the agent acted on is the latest one it received.
                seen = next(
                    episode["obs"][k][agent] for k in range(t, -1, -1) if agent in episode["obs"][k]
                )
                agents.setdefault(agent, {"obs": [], "actions": []})
                agents[agent]["obs"].append(seen)
                agents[agent]["actions"].append(a)
        for agent, data in agents.items():
            out.setdefault(mapping(agent), []).append(data)
    return out


def pick(action: Any, name: str) -> Any:
    """One leaf of a (Tuple / Dict) action by output name: ``action``, ``action.0``, ``action.k``."""
    node = action
    for part in name.split(".")[1:]:
        node = node[int(part)] if isinstance(node, (tuple, list)) else node[part]
    return node


def replay_feeds(manifest: dict, episodes: list[dict]) -> tuple[dict, dict]:
    """(feeds for the Ray-free worker's "replay" mode, RLlib's actions by output name)."""
    from exportable_trainers.contract.observations import observation_leaves
    from exportable_trainers.contract.spaces import space_from_dict

    space = space_from_dict(manifest["observation_space"])
    names = [name for name, _ in observation_leaves(space)]
    steps = [(obs, i == 0) for e in episodes for i, obs in enumerate(e["obs"][: len(e["actions"])])]
    feeds = {
        name: np.stack([np.asarray(pick_obs(obs, name)) for obs, _ in steps]) for name in names
    }
    feeds["episode_start"] = np.array([start for _, start in steps])
    actions = [a for e in episodes for a in e["actions"]]
    expected = {
        leaf["name"]: np.stack([np.asarray(pick(a, leaf["name"])) for a in actions])
        for leaf in manifest["action"]["leaves"]
    }
    return feeds, expected


def pick_obs(obs: Any, name: str) -> Any:
    """One leaf of a raw observation by input name (``obs``, ``obs.key``, ``obs.0``)."""
    return pick(obs, name)


def assert_same_actions(expected: dict, got: dict, atol: float = 1e-5) -> None:
    """Exact for discrete leaves, ``atol`` for continuous ones, step by step.

    A single discrete action may differ only where the artifact's own scores
    (``got["scores"]``: logits or Q-values) of RLlib's choice and its choice are
    equal within ``atol``: a tie that float rounding breaks either way, the rule
    the export's verification applies too.
    """
    for name, want in expected.items():
        have = np.asarray(got[name])
        assert have.shape == want.shape, f"{name}: shape {have.shape} != RLlib's {want.shape}"
        if want.dtype.kind in "iub":
            wrong = (
                np.nonzero(have != want)[0]
                if want.ndim == 1
                else np.nonzero((have != want).any(axis=tuple(range(1, want.ndim))))[0]
            )
            scores = got.get("scores")
            gaps = (
                np.abs(scores[wrong, want[wrong]] - scores[wrong, have[wrong]])
                if len(wrong) and scores is not None and want.ndim == 1 and len(expected) == 1
                else np.full(len(wrong), np.inf)
            )
            wrong, gaps = wrong[gaps > atol], gaps[gaps > atol]
            assert not len(wrong), (
                f"{name}: {len(wrong)} of {len(want)} steps differ (first at step {wrong[0]}, "
                f"score gap {gaps[0]:.3g})"
            )
        else:
            np.testing.assert_allclose(have, want, rtol=0, atol=atol, err_msg=name)
