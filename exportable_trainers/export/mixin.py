"""ExportingMixin: export every policy at every checkpoint of an RLlib Algorithm."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, ClassVar

from ..contract.formats import RAY_CHECKPOINT_FORMAT, resolve_formats
from ..contract.manifest import EXPORT_DIRNAME
from ..exceptions import ExportFailedError, InvalidOptionError, UnsupportedPolicyError
from .options import ExportOptions

logger = logging.getLogger("exportable_trainers")


class ExportingMixin:
    """Mix into an RLlib Algorithm to export its policies at every checkpoint.

    Use ``make_exporting(PPO)``, or subclass directly, with export options as
    class keywords::

        class MyPPO(ExportingMixin, PPO, formats=["onnx"], on_error="raise"):
            pass

    Options given this way are the class defaults; a run overrides them with
    ``config["exporting"] = {...}`` (also through a Tune ``param_space``).
    Every checkpoint then holds ``export/<policy_id>/`` with the requested
    formats and a ``manifest.json``; the RLlib checkpoint itself is unchanged.
    """

    _export_defaults: ClassVar[ExportOptions] = ExportOptions()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        ours = {k: kwargs.pop(k) for k in list(kwargs) if k in ExportOptions.field_names()}
        super().__init_subclass__(**kwargs)
        if ours:
            # Frozen options: each subclass gets its own value, never a shared mutable one.
            cls._export_defaults = cls._export_defaults.replace(**ours)

    # -------------------------------------------------------------- options

    @classmethod
    def export_defaults(cls) -> ExportOptions:
        """The class's default export options."""
        return cls._export_defaults

    def _resolve_export_options(self, config: Any) -> ExportOptions:
        options = type(self)._export_defaults.with_config(config)
        options.formats_for(config.framework_str)  # raises now, not at the first checkpoint
        if config.enable_rl_module_and_learner and config.framework_str != "torch":
            raise InvalidOptionError(
                f"the new API stack runs torch only; framework={config.framework_str!r} "
                "needs config.api_stack(enable_rl_module_and_learner=False, "
                "enable_env_runner_and_connector_v2=False)"
            )
        return options

    @property
    def export_options(self) -> ExportOptions:
        """The export options of this run (class defaults + config overrides)."""
        return self._export_options

    # ---------------------------------------------------------- Trainable hooks

    def setup(self, config: Any) -> None:
        """Validate the export options before RLlib builds anything, then set up."""
        self._export_options = self._resolve_export_options(config)
        self._export_caches: dict[str, dict[str, Any]] = {}
        if config.framework_str in ("tf", "tf2"):
            from .tf.setup import prepare_algorithm_config

            # RLlib ships self.config (not this copy of it) to its workers.
            prepare_algorithm_config(getattr(self, "config", None) or config)
        super().setup(config)
        self._preflight()

    def _preflight(self) -> None:
        """Find, at build time, every policy that could not be exported.

        Every selected policy is exported once into a scratch directory (and
        verified, unless ``verify=False``). Unknown policy ids always raise.
        Other problems raise UnsupportedPolicyError under on_error="raise" and
        are logged once under "warn" (each checkpoint's manifest then records
        them again).
        """
        from .checkpoint import preflight
        from .rllib.selection import policy_ids, select_policy_ids

        options = self._export_options
        if options.policies is not None:
            available, trained = policy_ids(self)
            select_policy_ids(available, trained, options.policies)
        problems = preflight(self, options, self._export_caches)
        if not problems:
            return
        message = f"{type(self).__name__} cannot export every policy: " + "; ".join(problems)
        if options.on_error == "raise":
            raise UnsupportedPolicyError(message)
        logger.warning("exportable_trainers: %s", message)

    def save_checkpoint(self, checkpoint_dir: str) -> Any:
        """Write RLlib's checkpoint, then the exports into ``<checkpoint_dir>/export``."""
        result = super().save_checkpoint(checkpoint_dir)
        self.export_policies(checkpoint_dir)
        return result

    def export_policies(
        self, checkpoint_dir: str | Path, options: ExportOptions | None = None
    ) -> dict[str, dict[str, Any]]:
        """Export the selected policies into ``<checkpoint_dir>/export/<policy_id>/``.

        Args:
            checkpoint_dir: An existing directory (usually a checkpoint).
            options: Options for this call; default: this run's options.

        Returns:
            The manifest written for each policy id (empty if the export failed
            as a whole under ``on_error="warn"``).

        Raises:
            ExportFailedError: Something failed and ``on_error="raise"``.
        """
        from .checkpoint import export_algorithm

        options = options or self._export_options
        try:
            return export_algorithm(self, checkpoint_dir, options, self._export_caches)
        except ExportFailedError:
            raise
        except Exception as exc:
            if options.on_error == "raise":
                raise ExportFailedError(
                    f"export into {checkpoint_dir} failed: {type(exc).__name__}: {exc}"
                ) from exc
            logger.warning(
                "exportable_trainers: export into %s failed: %s: %s",
                checkpoint_dir,
                type(exc).__name__,
                exc,
            )
            return {}

    def _export_model(self, export_formats: list[str], export_dir: str) -> dict[str, str]:
        """Tune's end-of-trial export: every requested format for every policy.

        Writes ``<export_dir>/export/<policy_id>/`` (model formats; Ray's names
        such as "model" and "h5" accepted) and, for "checkpoint", a full RLlib
        checkpoint with exports at ``<export_dir>/checkpoint``. When Tune runs
        the trial, the model exports are also copied to the trial's directory in
        ``storage_path``: Tune calls this after its last artifact sync, so a file
        left only in the trial's working directory would be lost.
        """
        names = [str(f).strip().lower() for f in export_formats]
        exported: dict[str, str] = {}
        if RAY_CHECKPOINT_FORMAT in names:
            path = Path(export_dir) / RAY_CHECKPOINT_FORMAT
            path.mkdir(parents=True, exist_ok=True)
            self.save_checkpoint(str(path))
            exported[RAY_CHECKPOINT_FORMAT] = str(path)
        model_formats = [f for f in names if f != RAY_CHECKPOINT_FORMAT]
        if model_formats:
            options = self._export_options.replace(formats=tuple(model_formats))
            Path(export_dir).mkdir(parents=True, exist_ok=True)
            manifests = self.export_policies(export_dir, options)
            framework = self.config.framework_str
            root = str(Path(export_dir) / EXPORT_DIRNAME)
            if manifests:
                root = self._persist_to_trial_storage(Path(export_dir) / EXPORT_DIRNAME) or root
            for name in model_formats:
                canonical = resolve_formats([name], framework)[0]
                if any(canonical in m["files"] for m in manifests.values()):
                    exported[name] = root
        return exported

    def _persist_to_trial_storage(self, local_root: Path) -> str | None:
        """Copy an export root into the Tune trial's storage directory, if any."""
        storage = getattr(self, "_storage", None)
        if storage is None:
            return None
        from .storage import upload_exports

        destination = f"{storage.trial_fs_path.rstrip('/')}/{EXPORT_DIRNAME}"
        upload_exports(local_root, storage.storage_filesystem, destination)
        return destination
