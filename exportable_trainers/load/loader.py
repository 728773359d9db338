"""Load an exported policy and act with it, without Ray.

Imports only numpy and gymnasium at module level; the runtime of the chosen
format (onnxruntime, torch, tensorflow) is imported when a policy is loaded.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

# The module, not its names: the loader raises most of them.
import exportable_trainers.exceptions as errors

from ..contract.actions import deterministic_action, leaves_of
from ..contract.formats import ALIASES, FORMATS, by_preference, normalize_format_names
from ..contract.manifest import EXPORT_DIRNAME, MANIFEST_NAME, check_file, read_manifest
from ..contract.observations import apply_steps, batch_to_leaves, nest_leaves, single_to_leaves
from ..contract.spaces import space_from_dict
from .runtimes import Runner, install_hint, is_installed, load_runner


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
        raise errors.ExportNotFoundError(f"{path} does not exist")
    if not path.is_dir():
        raise errors.ExportNotFoundError(f"{path} is not a directory")
    if (path / MANIFEST_NAME).is_file():
        return {path.name: path}
    root = path / EXPORT_DIRNAME if (path / EXPORT_DIRNAME).is_dir() else path
    found = {
        child.name: child
        for child in sorted(root.iterdir())
        if child.is_dir() and not child.name.startswith(".") and (child / MANIFEST_NAME).is_file()
    }
    if not found:
        raise errors.ExportNotFoundError(
            f"no export found at {path}; expected an export directory (with {MANIFEST_NAME}) or "
            f"a checkpoint directory holding {EXPORT_DIRNAME}/<policy_id>/{MANIFEST_NAME}"
        )
    return found


def choose_policy(where: object, ids: list[str], policy_id: str | None) -> str:
    """The one policy id to use among ``ids``.

    Args:
        where: The path the ids were found at, for the message.
        ids: The policy ids exported there.
        policy_id: The caller's choice; None is allowed when there is one id.

    Raises:
        PolicySelectionError: ``policy_id`` is not among ``ids``, or is None
            and there are several (the message lists them).
    """
    listed = ", ".join(map(repr, ids)) or "none"
    if policy_id is None:
        if len(ids) > 1:
            raise errors.PolicySelectionError(
                f"{where} holds exports of several policies; pass policy_id= one of: {listed}"
            )
        return ids[0]
    if policy_id not in ids:
        raise errors.PolicySelectionError(
            f"{where} holds no export of policy {policy_id!r}; it holds: {listed}"
        )
    return policy_id


def _choose_format(manifest: dict, fmt: str | None, where: Path) -> str:
    files = manifest["files"]
    runnable = [f for f in files if f in FORMATS and FORMATS[f].runtime is not None]
    if fmt is not None:
        (fmt,) = normalize_format_names(fmt)
        fmt = ALIASES[fmt].get(manifest["framework"], fmt) if fmt in ALIASES else fmt
        if fmt not in files:
            raise errors.InvalidOptionError(
                f"{where} holds no {fmt!r} export; it holds: {', '.join(files) or 'nothing'}"
            )
        if fmt not in runnable:
            raise errors.InvalidOptionError(
                f"format {fmt!r} holds weights only and cannot run on its own; loadable "
                f"formats here: {', '.join(runnable) or 'none'}"
            )
        return fmt
    if not runnable:
        raise errors.ExportNotFoundError(
            f"{where} holds no runnable format (it holds: {', '.join(files) or 'nothing'})"
        )
    for candidate in by_preference(runnable):
        if is_installed(candidate):
            return candidate
    needed = "; ".join(install_hint(f) for f in runnable)
    raise errors.MissingRuntimeError(f"no runtime installed for the formats in {where}: {needed}")


class ExportedPolicy:
    """A policy loaded from an export: raw observations in, env actions out.

    Recurrent policies keep their state between :meth:`compute_action` calls
    (one episode at a time; :meth:`reset` starts a new one). :meth:`forward`
    takes and returns state explicitly, for batches of episodes.

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
        # A graph traced for one observation at a time (see the file's "batch").
        self._one_at_a_time = manifest["files"][fmt].get("batch") == 1
        self._state_entries = (manifest.get("recurrent") or {}).get("state", [])
        state_inputs = {e["input"] for e in self._state_entries}
        self._obs_inputs = [i["name"] for i in manifest["inputs"] if i["name"] not in state_inputs]
        self._action_names = [leaf["name"] for leaf in leaves_of(manifest["action"])]
        # A Discrete leaf's single action is an int, as RLlib sends it to the env.
        self._scalar = [not leaf.get("shape") for leaf in leaves_of(manifest["action"])]
        # compute_action needs only these; ONNX Runtime then copies out nothing else.
        self._acting_outputs = self._action_names + [e["output"] for e in self._state_entries]
        # A plain Box observation (the common case) is checked inline; anything
        # else, and anything that fails, goes through the general validator.
        space = self.observation_space
        self._box = (space.shape, np.dtype(space.dtype)) if type(space).__name__ == "Box" else None
        # One Box input, one action, no state, a batched whole-policy graph: the
        # batch-1 hot path feeds the runner directly (docs/benchmarks.md, P2).
        self._direct = (
            self._whole
            and self._box is not None
            and not self._one_at_a_time
            and not self._state_entries
            and len(self._obs_inputs) == 1
            and self._action_names == ["action"]
        )
        self.reset()

    def __repr__(self) -> str:
        return (
            f"ExportedPolicy(policy_id={self.policy_id!r}, format={self.format!r}, "
            f"iteration={self.manifest.get('training_iteration')}, "
            f"observation_space={self.observation_space}, action_space={self.action_space})"
        )

    @property
    def is_recurrent(self) -> bool:
        """Whether the policy carries state from one step to the next."""
        return bool(self._state_entries)

    def initial_state(self, batch_size: int = 1) -> dict[str, np.ndarray]:
        """The state at the start of an episode, for ``batch_size`` episodes (empty if stateless)."""
        return {
            e["key"]: np.repeat(np.asarray(e["initial"], e["dtype"])[None], batch_size, axis=0)
            for e in self._state_entries
        }

    def reset(self) -> None:
        """Start a new episode: :meth:`compute_action` forgets the recurrent state."""
        self._state = self.initial_state(1)

    def _state_feeds(self, state: dict[str, Any] | None, n: int) -> dict[str, np.ndarray]:
        if not self._state_entries:
            if state:  # {} is what initial_state() gives a stateless policy
                raise errors.ObservationError(
                    f"this policy takes no state (it is not recurrent); got state keys "
                    f"{sorted(state) if isinstance(state, dict) else type(state).__name__}; "
                    "pass state=None"
                )
            return {}
        if state is None:
            state = self.initial_state(n)
        want = {e["key"] for e in self._state_entries}
        if not isinstance(state, dict) or set(state) != want:
            got = sorted(state) if isinstance(state, dict) else type(state).__name__
            raise errors.ObservationError(
                f"state must be a dict with keys {sorted(want)}; got {got}"
            )
        feeds = {}
        for e in self._state_entries:
            value = np.asarray(state[e["key"]], dtype=e["dtype"])
            if value.shape != (n, *e["shape"]):
                raise errors.ObservationError(
                    f"state {e['key']!r} has shape {value.shape}; expected {(n, *e['shape'])} "
                    f"for a batch of {n}"
                )
            feeds[e["input"]] = value
        return feeds

    def _run(
        self, leaves: list[np.ndarray], state: dict | None, outputs: list[str] | None = None
    ) -> dict[str, np.ndarray]:
        n = leaves[0].shape[0]
        if self._whole:
            feeds = dict(zip(self._obs_inputs, leaves))
            feeds.update(self._state_feeds(state, n))
            if self._one_at_a_time and n == 0:
                # A graph traced for one row: run one and keep none of it.
                one = {k: np.zeros((1, *v.shape[1:]), v.dtype) for k, v in feeds.items()}
                return {k: v[:0] for k, v in self._runner.run(one, outputs).items()}
            if self._one_at_a_time and n != 1:
                rows = [
                    self._runner.run({k: v[i : i + 1] for k, v in feeds.items()}, outputs)
                    for i in range(n)
                ]
                return {k: np.concatenate([r[k] for r in rows]) for k in rows[0]}
            return self._runner.run(feeds, outputs)
        network = self.manifest["network"]
        x = apply_steps(self.manifest["preprocessing"], leaves)
        outs = self._runner.run({network["inputs"][0]["name"]: x})
        outs["action"] = deterministic_action(self.manifest["action"], outs[network["head"]])
        return outs

    def forward(self, batch: Any, state: dict[str, Any] | None = None) -> dict[str, np.ndarray]:
        """All outputs for a batch, by name: the action (``action``, or one output per
        leaf of a Dict / Tuple action space: ``action.0``, ``action.<key>``), the raw
        outputs and ``state_out.<key>``.

        Args:
            batch: A list of observations, or one batched structure (array with
                the batch axis first; dict / tuple of such arrays for Dict /
                Tuple spaces).
            state: Recurrent policies only: ``{key: array [B, ...]}``; default:
                the initial state. The next state is in the ``state_out.<key>`` outputs.

        Raises:
            ObservationError: An observation or the state does not fit.
        """
        return self._run(batch_to_leaves(self.observation_space, batch), state)

    def compute_actions(self, batch: Any, state: dict[str, Any] | None = None) -> Any:
        """Env actions for a batch of observations (see :meth:`forward`).

        Returns:
            An array with the batch axis first; for Dict / Tuple action spaces the
            same structure holding one such array per leaf.
        """
        outs = self.forward(batch, state)
        return nest_leaves(self.action_space, [outs[n] for n in self._action_names])

    def _box_row(self, obs: Any) -> np.ndarray | None:
        """A plain Box observation as a batch of one, or None to validate it in full."""
        if self._box is None:
            return None
        arr = np.asarray(obs)
        if (
            arr.shape == self._box[0]
            and arr.dtype.kind in "biuf"
            and not (arr.dtype.kind == "f" and not np.isfinite(arr).all())
        ):
            return arr.astype(self._box[1], copy=False)[None]
        return None

    def _single_leaves(self, obs: Any) -> list[np.ndarray]:
        row = self._box_row(obs)
        return [row] if row is not None else single_to_leaves(self.observation_space, obs)

    def compute_action(self, obs: Any) -> Any:
        """The env action for one observation, in the structure the env takes.

        An int for a Discrete action, an array for a Box / MultiDiscrete one, a
        tuple / dict of those for Tuple / Dict action spaces.

        Recurrent policies use and update the state kept since :meth:`reset`.

        Raises:
            ObservationError: The observation does not fit the observation space.
        """
        if self._direct and (row := self._box_row(obs)) is not None:
            return _first(
                self._runner.run({self._obs_inputs[0]: row}, ["action"])["action"], self._scalar[0]
            )
        outs = self._run(self._single_leaves(obs), self._state, self._acting_outputs)
        if self._state_entries:
            self._state = {e["key"]: outs[e["output"]] for e in self._state_entries}
        parts = [
            _first(outs[name], scalar) for name, scalar in zip(self._action_names, self._scalar)
        ]
        if len(parts) == 1 and self._action_names == ["action"]:
            return parts[0]
        return nest_leaves(self.action_space, parts)


def _first(batch: np.ndarray, scalar: bool) -> Any:
    """Row 0 of an action leaf; a Discrete leaf's as an int, as RLlib sends it to the env."""
    return int(batch[0]) if scalar and batch.dtype.kind in "iu" else batch[0]


def _load_file(path: Path, policy_id: str | None, format: str | None) -> ExportedPolicy:
    """One file: by its export directory's manifest when it sits in one, else by its own contract."""
    manifest_path = path.parent / MANIFEST_NAME
    if manifest_path.is_file():
        manifest = read_manifest(path.parent)
        held = [f for f, rec in manifest["files"].items() if rec["path"] == path.name]
        if held:
            choose_policy(path, [manifest["policy_id"]], policy_id)
            fmt = _choose_format(manifest, format or held[0], path.parent)
            if fmt not in held:
                raise errors.InvalidOptionError(f"{path} is the {held[0]!r} export, not {fmt!r}")
            artifact = check_file(path.parent, manifest, fmt)
            return ExportedPolicy(path.parent, manifest, fmt, load_runner(fmt, artifact, manifest))
    if path.suffix != ".onnx":
        raise errors.ExportNotFoundError(
            f"{path} is a file; give an export or checkpoint directory, or an .onnx file "
            "written by exportable_trainers (it carries its contract)"
        )
    return _load_bare_onnx(path, policy_id, format)


def _load_bare_onnx(path: Path, policy_id: str | None, format: str | None) -> ExportedPolicy:
    """An ONNX file copied out of its export: the contract in its metadata says how to run it."""
    import json

    from ..contract.formats.onnx import FORMAT as ONNX
    from ..contract.formats.onnx import METADATA_KEY
    from ..contract.manifest import sha256_file, validate_manifest

    runner = load_runner(ONNX.name, path, {})
    text = runner.contract()
    if text is None:
        raise errors.ManifestError(
            f"{path} carries no exportable_trainers contract (metadata key {METADATA_KEY!r}) "
            f"and has no {MANIFEST_NAME} beside it; load its export directory instead"
        )
    try:
        contract = json.loads(text)
    except json.JSONDecodeError as e:
        raise errors.ManifestError(
            f"{path}: its {METADATA_KEY!r} metadata is not valid JSON ({e})"
        ) from None
    files = contract.get("files") if isinstance(contract, dict) else None
    if not isinstance(files, dict) or len(files) != 1:
        raise errors.ManifestError(f"{path}: its contract must name exactly one file")
    ((fmt, record),) = files.items()
    if not isinstance(record, dict) or fmt not in FORMATS:
        raise errors.ManifestError(f"{path}: its contract names unknown format {fmt!r}")
    # The file is its own artifact; its digest is only recorded for the validator.
    contract["files"] = {fmt: {**record, "path": path.name, "sha256": sha256_file(path)}}
    contract = validate_manifest(contract, f"{path} (embedded contract)")
    choose_policy(path, [contract["policy_id"]], policy_id)
    if format is not None:
        (wanted,) = normalize_format_names(format)
        if wanted != fmt:
            raise errors.InvalidOptionError(f"{path} holds the {fmt!r} export, not {wanted!r}")
    return ExportedPolicy(path.parent, contract, fmt, runner)


def load_policy(
    path: str | os.PathLike, policy_id: str | None = None, format: str | None = None
) -> ExportedPolicy:
    """Load an exported policy without Ray.

    Args:
        path: A checkpoint directory, its ``export`` directory, one export
            directory (``.../export/<policy_id>``), or one ONNX file written by
            exportable_trainers, also copied out of its export (it carries its
            contract in its metadata).
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
    if Path(path).is_file():
        return _load_file(Path(path), policy_id, format)
    dirs = find_export_dirs(path)
    policy_id = choose_policy(path, list(dirs), policy_id)
    export_dir = dirs[policy_id]
    manifest = read_manifest(export_dir)
    if not manifest["files"] and manifest.get("errors"):
        details = "; ".join(f"{k}: {v}" for k, v in manifest["errors"].items())
        raise errors.ManifestError(
            f"the export at {export_dir} failed when it was written ({details})"
        )
    fmt = _choose_format(manifest, format, export_dir)
    artifact = check_file(export_dir, manifest, fmt)
    return ExportedPolicy(export_dir, manifest, fmt, load_runner(fmt, artifact, manifest))
