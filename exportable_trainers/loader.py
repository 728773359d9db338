"""Load an exported policy and act with it, without Ray.

Imports only numpy and gymnasium at module level; the runtime of the chosen
format (onnxruntime, torch, tensorflow) is imported when a policy is loaded.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from .actions import deterministic_action
from .exceptions import (
    ExportNotFoundError,
    InvalidOptionError,
    ManifestError,
    MissingRuntimeError,
    PolicySelectionError,
)
from .formats import FORMATS
from .manifest import EXPORT_DIRNAME, MANIFEST_NAME, check_file, read_manifest
from .preprocess import apply_steps, batch_to_leaves, single_to_leaves
from .runtimes import PREFERENCE, RUNTIMES, Runner, is_installed, load_runner
from .spaces import space_from_dict


def find_export_dirs(path: str | os.PathLike) -> dict[str, Path]:
    """Complete export directories found at ``path``, keyed by policy id.

    Args:
        path: An export directory (holds ``manifest.json``), a checkpoint
            directory (holds ``export/<policy_id>/``) or an ``export`` directory.

    Raises:
        ExportNotFoundError: The path does not exist or holds no export.
    """
    path = Path(path)
    if not path.exists():
        raise ExportNotFoundError(f"{path} does not exist")
    if not path.is_dir():
        raise ExportNotFoundError(f"{path} is not a directory")
    if (path / MANIFEST_NAME).is_file():
        return {path.name: path}
    root = path / EXPORT_DIRNAME if (path / EXPORT_DIRNAME).is_dir() else path
    found = {
        child.name: child
        for child in sorted(root.iterdir())
        if child.is_dir() and not child.name.startswith(".") and (child / MANIFEST_NAME).is_file()
    }
    if not found:
        raise ExportNotFoundError(
            f"no export found at {path}; expected an export directory (with {MANIFEST_NAME}) or "
            f"a checkpoint directory holding {EXPORT_DIRNAME}/<policy_id>/{MANIFEST_NAME}"
        )
    return found


def _choose_format(manifest: dict, fmt: str | None, where: Path) -> str:
    files = manifest["files"]
    runnable = [f for f in files if f in RUNTIMES]
    if fmt is not None:
        if fmt not in files:
            raise InvalidOptionError(
                f"{where} holds no {fmt!r} export; it holds: {', '.join(files) or 'nothing'}"
            )
        if fmt not in RUNTIMES:
            raise InvalidOptionError(
                f"format {fmt!r} holds weights only and cannot run on its own; loadable "
                f"formats here: {', '.join(runnable) or 'none'}"
            )
        return fmt
    if not runnable:
        raise ExportNotFoundError(
            f"{where} holds no runnable format (it holds: {', '.join(files) or 'nothing'})"
        )
    for candidate in PREFERENCE:
        if candidate in runnable and is_installed(candidate):
            return candidate
    needed = "; ".join(
        f"{f} needs {RUNTIMES[f].package} (pip install 'exportable_trainers[{RUNTIMES[f].extra}]')"
        for f in runnable
    )
    raise MissingRuntimeError(f"no runtime installed for the formats in {where}: {needed}")


class ExportedPolicy:
    """A policy loaded from an export: raw observations in, env actions out.

    Args:
        export_dir: The export directory.
        manifest: Its validated manifest.
        fmt: The format being run.
        runner: The loaded artifact.
    """

    def __init__(self, export_dir: Path, manifest: dict, fmt: str, runner: Runner) -> None:
        self.export_dir = Path(export_dir)
        self.manifest = manifest
        self.format = fmt
        self.policy_id = manifest["policy_id"]
        self.observation_space = space_from_dict(manifest["observation_space"])
        self.action_space = space_from_dict(manifest["action_space"])
        self._runner = runner
        self._whole = FORMATS[fmt].whole_policy
        self._input_names = [i["name"] for i in manifest["inputs"]]
        self._discrete = manifest["action_space"]["type"] == "Discrete"

    def __repr__(self) -> str:
        return (
            f"ExportedPolicy(policy_id={self.policy_id!r}, format={self.format!r}, "
            f"iteration={self.manifest.get('training_iteration')}, "
            f"observation_space={self.observation_space}, action_space={self.action_space})"
        )

    def _run(self, leaves: list[np.ndarray]) -> dict[str, np.ndarray]:
        if self._whole:
            return self._runner.run(dict(zip(self._input_names, leaves, strict=False)))
        network = self.manifest["network"]
        x = apply_steps(self.manifest["preprocessing"], leaves)
        outs = self._runner.run({network["inputs"][0]["name"]: x})
        outs["action"] = deterministic_action(self.manifest["action"], outs[network["head"]])
        return outs

    def forward(self, batch: Any) -> dict[str, np.ndarray]:
        """All outputs (``action`` and the raw ones) for a batch of observations.

        Args:
            batch: A list of observations, or one batched structure (array with
                the batch axis first; dict / tuple of such arrays for Dict /
                Tuple spaces).

        Raises:
            ObservationError: An observation does not fit the observation space.
        """
        return self._run(batch_to_leaves(self.observation_space, batch))

    def compute_actions(self, batch: Any) -> np.ndarray:
        """Env actions for a batch of observations (see :meth:`forward`)."""
        return self.forward(batch)["action"]

    def compute_action(self, obs: Any) -> Any:
        """The env action for one observation (an int for Discrete actions).

        Raises:
            ObservationError: The observation does not fit the observation space.
        """
        action = self._run(single_to_leaves(self.observation_space, obs))["action"][0]
        return int(action) if self._discrete else action


def load_policy(
    path: str | os.PathLike, policy_id: str | None = None, format: str | None = None
) -> ExportedPolicy:
    """Load an exported policy without Ray.

    Args:
        path: A checkpoint directory, its ``export`` directory, or one export
            directory (``.../export/<policy_id>``).
        policy_id: Which policy, when the checkpoint holds several.
        format: Which format to run; default: the first installed of
            onnx (onnxruntime), torchscript (torch).

    Raises:
        ExportNotFoundError: Nothing exported at ``path``.
        PolicySelectionError: Several policies and no ``policy_id``, or an
            unknown ``policy_id`` (the message lists the ids).
        ManifestError: The manifest is invalid, of a newer protocol, or the
            export failed when it was written.
        IntegrityError: The chosen file's sha256 does not match the manifest.
        MissingRuntimeError: The format's runtime is not installed.
    """
    dirs = find_export_dirs(path)
    if policy_id is None:
        if len(dirs) > 1:
            raise PolicySelectionError(
                f"{path} holds exports of several policies; pass policy_id= one of: "
                + ", ".join(map(repr, dirs))
            )
        policy_id = next(iter(dirs))
    elif policy_id not in dirs:
        raise PolicySelectionError(
            f"{path} holds no export of policy {policy_id!r}; it holds: "
            + ", ".join(map(repr, dirs))
        )
    export_dir = dirs[policy_id]
    manifest = read_manifest(export_dir)
    if not manifest["files"] and manifest.get("errors"):
        details = "; ".join(f"{k}: {v}" for k, v in manifest["errors"].items())
        raise ManifestError(f"the export at {export_dir} failed when it was written ({details})")
    fmt = _choose_format(manifest, format, export_dir)
    artifact = check_file(export_dir, manifest, fmt)
    return ExportedPolicy(export_dir, manifest, fmt, load_runner(fmt, artifact, manifest))
