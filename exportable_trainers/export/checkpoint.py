"""Export every selected policy of a live Algorithm into a checkpoint directory."""

from __future__ import annotations

import functools
import importlib.metadata
import platform
from pathlib import Path
from typing import Any

from ..contract.manifest import EXPORT_DIRNAME
from .options import ExportOptions
from .pipeline import export_policy
from .rllib.selection import (
    collect_target_builders,
    exclusive_access,
    framework_of,
    is_new_api_stack,
)

# Packages whose installed versions go into every manifest.
_VERSIONED = (
    "ray",
    "torch",
    "tensorflow",
    "tf_keras",
    "keras",
    "numpy",
    "gymnasium",
    "onnx",
    "onnxruntime",
)
_DISTRIBUTIONS = {
    "tensorflow": ("tensorflow", "tensorflow-cpu"),
    "tf_keras": ("tf_keras", "tf-keras"),
}


@functools.cache
def _version(module: str) -> str | None:
    for dist in _DISTRIBUTIONS.get(module, (module,)):
        try:
            return importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            continue
    return None


def versions() -> dict[str, str | None]:
    """Versions of python and of the installed packages an export can depend on.

    Installed, not imported: which modules a process has imported depends on
    what it did before (writing a .keras file imports keras), and the manifest
    embedded in an ONNX file must not change with the order formats are written.
    """
    out: dict[str, str | None] = {"python": platform.python_version()}
    for module in _VERSIONED:
        version = _version(module)
        if version is not None:
            out[module] = version
    return out


def _rllib_base(cls: type) -> type:
    return next((c for c in cls.__mro__ if c.__module__.startswith("ray.rllib.")), cls)


def _steps(algo: Any) -> tuple[int | None, int | None]:
    if is_new_api_stack(algo):
        from ray.rllib.utils.metrics import (
            ENV_RUNNER_RESULTS,
            NUM_AGENT_STEPS_SAMPLED_LIFETIME,
            NUM_ENV_STEPS_SAMPLED_LIFETIME,
        )

        env = algo.metrics.peek((ENV_RUNNER_RESULTS, NUM_ENV_STEPS_SAMPLED_LIFETIME), default=0)
        agent = algo.metrics.peek(
            (ENV_RUNNER_RESULTS, NUM_AGENT_STEPS_SAMPLED_LIFETIME), default={}
        )
        agent_total = sum(agent.values()) if isinstance(agent, dict) else agent
        return int(env), int(agent_total or env)
    counters = getattr(algo, "_counters", {}) or {}
    return int(counters.get("num_env_steps_sampled", 0)), int(
        counters.get("num_agent_steps_sampled", 0)
    )


def _class_path(cls: type) -> str:
    # A make_exporting class's qualname may carry a suffix that only keeps
    # same-named classes with different defaults apart for pickling.
    name = cls.__name__ if "_export_base" in cls.__dict__ else cls.__qualname__
    return f"{cls.__module__}.{name}"


def algorithm_context(algo: Any) -> dict[str, Any]:
    """Facts about the algorithm that go into every manifest of this checkpoint."""
    cls = type(algo)
    base = _rllib_base(cls)
    env_steps, agent_steps = _steps(algo)
    return {
        "framework": framework_of(algo),
        "api_stack": "new" if is_new_api_stack(algo) else "old",
        "algorithm": base.__name__,
        "algorithm_class": _class_path(cls),
        "training_iteration": int(algo.iteration),
        "env_steps_sampled": env_steps,
        "agent_steps_sampled": agent_steps,
        "versions": versions(),
    }


def _rllib_checkpoint(checkpoint_dir: str | Path) -> Path | None:
    """``checkpoint_dir`` if it holds an RLlib (new-stack) checkpoint's learner state."""
    path = Path(checkpoint_dir)
    return path if (path / "learner_group").is_dir() else None


def export_algorithm(
    algo: Any,
    checkpoint_dir: str | Path,
    options: ExportOptions,
    caches: dict[str, dict[str, Any]] | None = None,
) -> dict[str, dict[str, Any]]:
    """Write ``<checkpoint_dir>/export/<policy_id>/`` for every selected policy.

    Args:
        algo: A live, built Algorithm (with or without the mixin).
        checkpoint_dir: The checkpoint directory (must exist).
        options: What to export and how strictly.
        caches: Per-policy caches kept between checkpoints (see FrameworkExporter).

    Returns:
        The manifest written for each policy id.

    Raises:
        ExportFailedError: Under ``on_error="raise"``, the first failure.
        InvalidOptionError: The options do not fit this algorithm.
    """
    caches = {} if caches is None else caches
    formats = options.formats_for(framework_of(algo))
    context = algorithm_context(algo)
    root = Path(checkpoint_dir) / EXPORT_DIRNAME
    manifests = {}
    builders = collect_target_builders(algo, options.policies, _rllib_checkpoint(checkpoint_dir))
    for policy_id, build in builders.items():
        with exclusive_access(algo, policy_id):
            manifests[policy_id] = export_policy(
                build,
                policy_id,
                root / policy_id,
                formats,
                options,
                context,
                caches.setdefault(policy_id, {}),
            )
    return manifests


def _summary(errors: dict[str, str]) -> str:
    """One line per distinct cause, naming the formats it stopped."""
    by_cause: dict[str, list[str]] = {}
    for fmt, cause in errors.items():
        by_cause.setdefault(cause, []).append(fmt)
    return "; ".join(f"{', '.join(fmts)}: {cause}" for cause, fmts in by_cause.items())


def preflight(algo: Any, options: ExportOptions, caches: dict[str, dict[str, Any]]) -> list[str]:
    """Export every selected policy once into a scratch directory, and keep nothing.

    This is the build-time refusal: what fails here (a component that cannot go
    into a graph, a format that cannot be written, with ``verify`` an artifact
    that does not reproduce RLlib) would fail at every checkpoint. Graphs
    converted here stay in ``caches``, so the first checkpoint reuses them.

    Returns:
        One message per policy that cannot be exported in full (empty when all can).
    """
    import tempfile

    formats = options.formats_for(framework_of(algo))
    context = algorithm_context(algo)
    problems = []
    dry_run = options.replace(on_error="warn")
    with tempfile.TemporaryDirectory(prefix="exportable_trainers-preflight-") as scratch:
        for policy_id, build in collect_target_builders(algo, options.policies).items():
            with exclusive_access(algo, policy_id):
                manifest = export_policy(
                    build,
                    policy_id,
                    Path(scratch) / policy_id,
                    formats,
                    dry_run,
                    context,
                    caches.setdefault(policy_id, {}),
                    log=False,
                )
            if manifest["errors"]:
                problems.append(f"policy {policy_id!r}: {_summary(manifest['errors'])}")
    return problems
