"""Run exported policies in a gymnasium environment, without Ray."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..exceptions import (
    ArtifactLoadError,
    ExportNotFoundError,
    InvalidOptionError,
    ManifestError,
    MissingRuntimeError,
)
from .environments import make_env
from .listing import list_exports
from .loader import ExportedPolicy, choose_policy, load_policy
from .plotting import pyplot, save

# What makes one checkpoint's export unusable (not a mistake in the call).
_UNUSABLE = (ManifestError, ArtifactLoadError, ExportNotFoundError, MissingRuntimeError)


@dataclass
class EvaluationResult:
    """Returns of one checkpoint's exported policy.

    Args:
        checkpoint: The checkpoint directory.
        training_iteration: Its iteration.
        env_steps: Env steps sampled until then.
        returns: Undiscounted return of each episode (empty when it could not run).
        format: The format that was run (None when none could be).
        problem: Why this checkpoint could not be evaluated (a corrupt file, a
            failed export), or None.
    """

    checkpoint: Path
    training_iteration: int | None
    env_steps: int | None
    returns: list[float]
    format: str | None
    problem: str | None = None

    @property
    def mean(self) -> float:
        """Mean episode return (NaN when it could not run)."""
        return float(np.mean(self.returns)) if self.returns else float("nan")

    @property
    def std(self) -> float:
        """Standard deviation of the episode returns (NaN when it could not run)."""
        return float(np.std(self.returns)) if self.returns else float("nan")


def run_episodes(
    policy: ExportedPolicy,
    env_id: str,
    episodes: int,
    seed: int,
    on_episode: Callable[[float], None] | None = None,
    env_config: dict | None = None,
) -> list[float]:
    """Episode returns of ``policy`` in the env ``env_id`` names, episode i seeded ``seed + i``.

    Args:
        policy: The loaded policy.
        env_id: A gymnasium id or ``module:callable`` (see :func:`.environments.make_env`).
        episodes: How many episodes.
        seed: Seed of the first.
        on_episode: Called with each episode's return.
        env_config: Passed to the env factory (see :func:`.environments.make_env`).

    Raises:
        InvalidOptionError: The environment's observations do not fit the policy.
    """
    env = make_env(env_id, env_config)
    try:
        got, want = env.observation_space, policy.observation_space
        if type(got) is not type(want) or got.shape != want.shape:
            raise InvalidOptionError(
                f"environment {env_id} observes {got}, but policy {policy.policy_id!r} expects {want}"
            )
        returns = []
        for i in range(episodes):
            obs, _ = env.reset(seed=seed + i)
            policy.reset()
            total, done = 0.0, False
            while not done:
                obs, reward, terminated, truncated, _ = env.step(policy.compute_action(obs))
                total += float(reward)
                done = terminated or truncated
            returns.append(total)
            if on_episode:
                on_episode(total)
        return returns
    finally:
        env.close()


def evaluate_exports(
    path: str | os.PathLike,
    env_id: str,
    episodes: int = 10,
    seed: int = 0,
    policy_id: str | None = None,
    format: str | None = None,
    progress: Callable[[int, int], None] | None = None,
    env_config: dict | None = None,
) -> list[EvaluationResult]:
    """Evaluate the exported policy of every checkpoint under ``path``.

    Args:
        path: Experiment, trial or checkpoint directory.
        env_id: A gymnasium id or ``module:callable`` (see :func:`.environments.make_env`).
        episodes: Episodes per checkpoint.
        seed: Seed of the first episode (the same seeds for every checkpoint).
        policy_id: Which policy when checkpoints hold several.
        format: Format to run (default: load_policy's choice).
        progress: Called with (episodes done, episodes in total).
        env_config: Passed to the env factory (see :func:`.environments.make_env`).

    Raises:
        ExportNotFoundError: No export under ``path``. A checkpoint whose
            export is corrupt, failed or cannot run is a result with its
            ``problem`` instead.
        InvalidOptionError: Bad episodes count or mismatching env.
        PolicySelectionError: Several policies and no policy_id, or an unknown one.
    """
    if episodes < 1:
        raise InvalidOptionError(f"episodes must be >= 1, got {episodes}")
    make_env(env_id, env_config).close()  # fail on a bad env before loading anything
    entries = list_exports(path)
    if not entries:
        raise ExportNotFoundError(f"no export under {path}")
    results, total = [], len(entries) * episodes
    counter = {"done": 0}

    def tick(_: float) -> None:
        counter["done"] += 1
        if progress:
            progress(counter["done"], total)

    for entry in entries:
        pid = choose_policy(entry.checkpoint, entry.policy_ids, policy_id)
        row = (entry.checkpoint, entry.training_iteration, entry.env_steps)
        try:
            policy = load_policy(entry.checkpoint, pid, format)
        except _UNUSABLE as e:
            # One bad checkpoint does not hide the others: it becomes a row with its reason.
            problem = entry.policies[pid].problem or str(e)
            results.append(EvaluationResult(*row, [], None, f"{type(e).__name__}: {problem}"))
            counter["done"] += episodes
            continue
        returns = run_episodes(policy, env_id, episodes, seed, tick, env_config)
        results.append(EvaluationResult(*row, returns, policy.format))
    return results


def plot_returns(results: list[EvaluationResult], path: str | os.PathLike, title: str = "") -> Path:
    """A PNG of mean return (± std) against training iteration."""
    plt = pyplot()

    results = [r for r in results if r.problem is None]
    x = [r.training_iteration for r in results]
    mean = np.array([r.mean for r in results])
    std = np.array([r.std for r in results])
    fig, ax = plt.subplots(figsize=(6, 4), dpi=100)
    ax.plot(x, mean, marker="o")
    ax.fill_between(x, mean - std, mean + std, alpha=0.2)
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("training iteration")
    ax.set_ylabel("episode return (mean ± std)")
    ax.set_title(title or "exported policy at each checkpoint")
    ax.grid(True, alpha=0.3)
    return save(fig, path)
