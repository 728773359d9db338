"""Compare training stages without Ray: how the checkpoints of one run act differently.

Every checkpoint's exported policy runs on one shared set of observations. For each
checkpoint: how often its action equals the reference checkpoint's and the previous
one's, the mean KL divergence of the reference's action distribution from its own,
and how far its value predictions moved from the reference's.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..contract.actions import categorical_parts, leaves_of
from ..contract.observations import batch_to_leaves, nest_leaves
from ..contract.spaces import sample_observations
from ..exceptions import ExportNotFoundError, InvalidOptionError, ObservationError
from .environments import make_env
from .listing import list_exports
from .loader import ExportedPolicy, choose_policy, load_policy
from .plotting import pyplot, save

ACTION_DIST_INPUTS = "action_dist_inputs"
VALUE = "vf_preds"
# Continuous actions "agree" when every element is this close (float32 graphs of
# the same weights give bit-equal actions; different weights never come this close).
CONTINUOUS_ATOL = 1e-6
SAMPLES = 256


@dataclass
class StageComparison:
    """How one checkpoint acts compared with the reference checkpoint and the previous one.

    Args:
        checkpoint: The checkpoint directory's name.
        training_iteration: Its iteration.
        agreement_with_reference: Fraction of observations where its action
            equals the reference checkpoint's.
        agreement_with_previous: The same against the checkpoint before it
            (None for the first).
        mean_kl_to_reference: Mean over observations of KL(reference || this)
            of the action distributions (None when the policy has no
            distribution with a closed-form KL: a module that returns actions).
        value_drift_to_reference: Mean absolute difference of the value
            predictions from the reference's (None without a value output).
    """

    checkpoint: str
    training_iteration: int | None
    agreement_with_reference: float
    agreement_with_previous: float | None
    mean_kl_to_reference: float | None
    value_drift_to_reference: float | None


@dataclass
class Comparison:
    """The result of :func:`compare_exports`.

    Args:
        rows: One :class:`StageComparison` per checkpoint, by iteration.
        reference: The reference checkpoint's name.
        agreement: ``agreement[i][j]``: fraction of observations where
            checkpoints i and j take the same action.
        observations: How many observations were compared.
        source: Where the observations came from, in words.
        policy_id: The policy compared.
        paths: The checkpoint directories, in the order of ``rows``.
        actions: Each checkpoint's actions on the observations, one row per
            observation (every action leaf flattened side by side): where the
            stages differ, not only how often.
    """

    rows: list[StageComparison]
    reference: str
    agreement: np.ndarray
    observations: int
    source: str
    policy_id: str
    paths: list[Path] = field(default_factory=list)
    actions: list[np.ndarray] = field(default_factory=list)

    def as_json(self) -> list[dict[str, Any]]:
        """One JSON-ready object per checkpoint."""
        return [asdict(r) for r in self.rows]


def load_observations(path: str | os.PathLike, space: Any) -> Any:
    """A batch of observations from a ``.npz`` file.

    Args:
        path: The file: key ``obs`` holds the batch (batch axis first); for a Dict
            space, one key per Dict key instead (``a.b`` for nested Dicts).
        space: The policy's observation space, to say what was expected.

    Raises:
        InvalidOptionError: The file cannot be read or holds neither layout.
    """
    from gymnasium import spaces

    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
    except (OSError, ValueError) as e:
        raise InvalidOptionError(f"cannot read observations from {path}: {e}") from None
    if "obs" in arrays:
        return arrays["obs"]
    if isinstance(space, spaces.Dict):
        return _nest(arrays, space, "", path)
    raise InvalidOptionError(
        f"{path} holds {', '.join(sorted(arrays)) or 'nothing'}; expected key 'obs' "
        f"(a batch of elements of {space})"
    )


def _nest(arrays: dict[str, np.ndarray], space: Any, prefix: str, path: Any) -> Any:
    from gymnasium import spaces

    if isinstance(space, spaces.Dict):
        return {
            key: _nest(arrays, sub, f"{prefix}.{key}" if prefix else key, path)
            for key, sub in space.spaces.items()
        }
    if prefix not in arrays:
        raise InvalidOptionError(
            f"{path} lacks key {prefix!r}; expected key 'obs', or one key per Dict leaf "
            f"(it holds: {', '.join(sorted(arrays)) or 'nothing'})"
        )
    return arrays[prefix]


def record_episodes(
    policy: ExportedPolicy, env: str, env_config: dict | None, episodes: int, seed: int
) -> tuple[list, list[bool]]:
    """Observations of ``episodes`` seeded episodes of ``env`` driven by ``policy``.

    Returns:
        The observations, and for each whether it starts an episode.
    """
    made = make_env(env, env_config)
    observations, starts = [], []
    try:
        for i in range(episodes):
            obs, _ = made.reset(seed=seed + i)
            policy.reset()
            done, first = False, True
            while not done:
                observations.append(obs)
                starts.append(first)
                first = False
                obs, _, terminated, truncated, _ = made.step(policy.compute_action(obs))
                done = terminated or truncated
    finally:
        made.close()
    return observations, starts


def _outputs(
    policy: ExportedPolicy, batch: Any, starts: list[bool] | None
) -> dict[str, np.ndarray]:
    """The policy's outputs on the batch; recurrent policies step through it with state."""
    if not policy.is_recurrent:
        return policy.forward(batch)
    leaves = batch_to_leaves(policy.observation_space, batch)
    n = leaves[0].shape[0]
    starts = starts or [i == 0 for i in range(n)]
    rows, state = [], None
    for i in range(n):
        if starts[i]:
            state = policy.initial_state(1)
        one = nest_leaves(policy.observation_space, [leaf[i : i + 1] for leaf in leaves])
        out = policy.forward(one, state)
        state = {k: out[f"state_out.{k}"] for k in state}
        rows.append(out)
    return {k: np.concatenate([r[k] for r in rows]) for k in rows[0]}


def _actions(policy: ExportedPolicy, outputs: dict[str, np.ndarray]) -> np.ndarray:
    """One row per observation: every action leaf flattened side by side."""
    names = [leaf["name"] for leaf in leaves_of(policy.manifest["action"])]
    n = outputs[names[0]].shape[0]
    return np.concatenate([outputs[k].reshape(n, -1).astype(np.float64) for k in names], axis=1)


def agreement(a: np.ndarray, b: np.ndarray, discrete: bool) -> float:
    """Fraction of rows where two action batches are equal (continuous: within CONTINUOUS_ATOL)."""
    same = a == b if discrete else np.isclose(a, b, rtol=0.0, atol=CONTINUOUS_ATOL)
    return float(np.mean(same.all(axis=1))) if len(a) else float("nan")


def _log_softmax(x: np.ndarray) -> np.ndarray:
    x = x - x.max(axis=-1, keepdims=True)
    return x - np.log(np.exp(x).sum(axis=-1, keepdims=True))


def kl_divergence(spec: dict, p: np.ndarray, q: np.ndarray) -> np.ndarray | None:
    """Per-row KL(P || Q) of two batches of distribution inputs of one action head.

    Args:
        spec: The manifest's ``action`` entry (its ``distribution`` kind and
            ``input_lens``).
        p: Distribution inputs of P, ``[B, n]``.
        q: Distribution inputs of Q, ``[B, n]``.

    Returns:
        ``[B]`` KL values, or None for heads without a closed form here. A
        squashed Gaussian's KL is its Gaussian's: KL is invariant under the
        invertible tanh squashing.
    """
    kind = spec.get("distribution")
    p, q = np.asarray(p, np.float64), np.asarray(q, np.float64)
    if kind in ("categorical", "multi_categorical"):
        total = np.zeros(len(p))
        for lp, lq in zip(categorical_parts(spec, p), categorical_parts(spec, q)):
            log_p, log_q = _log_softmax(lp), _log_softmax(lq)
            total += (np.exp(log_p) * (log_p - log_q)).sum(axis=-1)
        return total
    if kind in ("diag_gaussian", "squashed_gaussian"):
        mean_p, log_std_p = np.split(p, 2, axis=-1)
        mean_q, log_std_q = np.split(q, 2, axis=-1)
        var_p, var_q = np.exp(2 * log_std_p), np.exp(2 * log_std_q)
        per_dim = log_std_q - log_std_p + (var_p + (mean_p - mean_q) ** 2) / (2 * var_q) - 0.5
        return per_dim.sum(axis=-1)
    return None


def _is_discrete(policy: ExportedPolicy) -> bool:
    return all(
        np.dtype(leaf["dtype"]).kind in "iub" for leaf in leaves_of(policy.manifest["action"])
    )


def compare_exports(
    path: str | os.PathLike,
    observations: str | os.PathLike | None = None,
    env: str | None = None,
    env_config: dict | None = None,
    episodes: int | None = None,
    reference: str = "last",
    policy_id: str | None = None,
    format: str | None = None,
    seed: int = 0,
    progress: Callable[[int, int], None] | None = None,
) -> Comparison:
    """Run every checkpoint under ``path`` on one set of observations and compare them.

    Args:
        path: Experiment, trial or checkpoint directory.
        observations: A ``.npz`` file of observations (see :func:`load_observations`).
        env: With ``episodes``: a gymnasium id or ``module:callable`` whose
            seeded episodes, driven by the reference checkpoint, give the
            observations.
        env_config: Passed to the env factory (see :func:`.environments.make_env`).
        episodes: How many episodes of ``env`` to record.
        reference: ``"first"``, ``"last"`` or a checkpoint directory's name.
        policy_id: Which policy, when checkpoints hold several.
        format: Format to run (default: load_policy's choice).
        seed: Seed of the first episode, or of the space samples.
        progress: Called with (checkpoints done, checkpoints in total).

    Without ``observations`` or ``env``, ``SAMPLES`` seeded samples of the
    observation space are compared (``Comparison.source`` says which).

    Raises:
        ExportNotFoundError: No export under ``path``.
        InvalidOptionError: A bad reference, observations file, env or episode count.
        ObservationError: The observations do not fit the policy.
    """
    if observations is not None and episodes is not None:
        raise InvalidOptionError("give observations or episodes (of an env), not both")
    if episodes is not None and (env is None or episodes < 1):
        raise InvalidOptionError(f"episodes needs env and must be >= 1, got {episodes}")
    entries = [e for e in list_exports(path) if e.policies]
    if not entries:
        raise ExportNotFoundError(f"no export under {path}")
    names = [e.checkpoint.name for e in entries]
    if reference in ("first", "last"):
        ref = 0 if reference == "first" else len(entries) - 1
    elif reference in names:
        ref = names.index(reference)
    else:
        raise InvalidOptionError(
            f"reference {reference!r} is not a checkpoint here; use first, last or one of: "
            + ", ".join(names)
        )
    pid = choose_policy(entries[ref].checkpoint, entries[ref].policy_ids, policy_id)
    policies = [load_policy(e.checkpoint, pid, format) for e in entries]
    space = policies[ref].observation_space
    starts = None
    if observations is not None:
        batch = load_observations(observations, space)
        source = f"observations from {observations}"
    elif env is not None and episodes is not None:
        batch, starts = record_episodes(policies[ref], env, env_config, episodes, seed)
        source = f"{episodes} episode(s) of {env} (seeds {seed}..{seed + episodes - 1}) driven by {names[ref]}"
    else:
        batch = sample_observations(space, SAMPLES, seed)
        source = f"{SAMPLES} samples of the observation space (seed {seed}); no observations or env given"
    outputs = []
    for i, policy in enumerate(policies):
        try:
            outputs.append(_outputs(policy, batch, starts))
        except ObservationError as e:
            raise ObservationError(f"{source}: {e}") from None
        if progress:
            progress(i + 1, len(policies))
    discrete = _is_discrete(policies[ref])
    actions = [_actions(p, o) for p, o in zip(policies, outputs)]
    n = len(entries)
    matrix = np.array(
        [[agreement(actions[i], actions[j], discrete) for j in range(n)] for i in range(n)]
    )
    spec = policies[ref].manifest["action"]
    rows = []
    for i, entry in enumerate(entries):
        kl = None
        if ACTION_DIST_INPUTS in outputs[i] and ACTION_DIST_INPUTS in outputs[ref]:
            per_row = kl_divergence(
                spec, outputs[ref][ACTION_DIST_INPUTS], outputs[i][ACTION_DIST_INPUTS]
            )
            kl = None if per_row is None else float(np.mean(per_row))
        drift = None
        if VALUE in outputs[i] and VALUE in outputs[ref]:
            drift = float(
                np.mean(np.abs(outputs[i][VALUE].astype(np.float64) - outputs[ref][VALUE]))
            )
        rows.append(
            StageComparison(
                checkpoint=entry.checkpoint.name,
                training_iteration=entry.training_iteration,
                agreement_with_reference=float(matrix[i, ref]),
                agreement_with_previous=None if i == 0 else float(matrix[i, i - 1]),
                mean_kl_to_reference=kl,
                value_drift_to_reference=drift,
            )
        )
    return Comparison(
        rows,
        names[ref],
        matrix,
        len(actions[0]),
        source,
        pid,
        [e.checkpoint for e in entries],
        actions,
    )


def plot_agreement(comparison: Comparison, path: str | os.PathLike, title: str = "") -> Path:
    """A PNG heatmap of pairwise action agreement between all checkpoints."""
    plt = pyplot()

    labels = [
        str(r.training_iteration) if r.training_iteration is not None else r.checkpoint
        for r in comparison.rows
    ]
    n = len(labels)
    fig, ax = plt.subplots(figsize=(max(4.0, 0.6 * n + 2), max(3.5, 0.6 * n + 1.5)), dpi=100)
    image = ax.imshow(comparison.agreement, vmin=0.0, vmax=1.0, cmap="viridis")
    ax.set_xticks(range(n), labels)
    ax.set_yticks(range(n), labels)
    ax.set_xlabel("training iteration")
    ax.set_ylabel("training iteration")
    if n <= 12:
        for i in range(n):
            for j in range(n):
                value = comparison.agreement[i, j]
                ax.text(
                    j,
                    i,
                    f"{value:.2f}",
                    ha="center",
                    va="center",
                    color="black" if value > 0.6 else "white",
                    fontsize=8,
                )
    fig.colorbar(image, ax=ax, label="fraction of observations with the same action")
    ax.set_title(title or f"action agreement, {comparison.observations} observations")
    return save(fig, path)
