"""Write one policy's export directory: formats, verification, manifest last.

Framework-neutral; the per-framework work happens in an exporter from
:mod:`exportable_trainers.exporters`.
"""

from __future__ import annotations

import datetime as _dt
import logging
import os
import re
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .._version import __version__
from ..contract.formats import FORMATS
from ..contract.formats.spec import resolve_reference
from ..contract.manifest import PROTOCOL, file_record, write_manifest
from ..contract.observations import input_specs
from ..contract.recurrent import manifest_entry, state_inputs
from ..contract.spaces import sample_observations, space_to_dict
from ..exceptions import ExportableTrainersError, ExportFailedError, UnsupportedPolicyError
from .framework_exporter import FrameworkExporter
from .model_card import README_NAME, render_readme
from .options import ExportOptions
from .rllib.target import PolicyTarget
from .staging import remove_leftovers, staged_directory
from .verification import Tolerances, sample_state, verify_artifact

logger = logging.getLogger("exportable_trainers")

VERIFY_SAMPLES = 64
# Formats judged on agreement get more observations: 99% of 64 would allow no miss at all.
AGREEMENT_SAMPLES = 512
# Manifest keys a file's embedded contract leaves out: what only the export directory knows.
_NOT_EMBEDDED = ("files", "verification", "errors", "status", "readme", "export_seconds")
# A file's bytes depend on its weights and contract alone: re-exporting the same
# weights writes the same file (no clock, no record of how the graph was obtained).
_NOT_EMBEDDED_CONTRACT = ("created_utc",)
_NOT_EMBEDDED_FACTS = ("graph_reused",)


def _now() -> str:
    return _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")


def _cause(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


def _first_line(exc: BaseException) -> str:
    text = re.sub(r"\x1b\[[0-9;]*m", "", str(exc)).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


def _named(exc: BaseException, owner: str, doing: str) -> BaseException:
    """Our own errors as they are; anything else, as an error naming the policy's component.

    Converters wrap the real reason (torch.export's data-dependent guard, say)
    in a generic error; the innermost cause is named too.
    """
    if isinstance(exc, ExportableTrainersError):
        return exc
    root = exc
    while root.__cause__ is not None and root.__cause__ is not root:
        root = root.__cause__
    reason = _first_line(exc)
    if root is not exc:
        reason += f" (caused by {_first_line(root)})"
    named = UnsupportedPolicyError(f"{owner}: {doing} fails: {reason}")
    named.__cause__ = exc
    return named


def _skeleton(policy_id: str, context: dict[str, Any]) -> dict[str, Any]:
    return {
        "protocol": PROTOCOL,
        "producer": {"name": "exportable_trainers", "version": __version__},
        "created_utc": _now(),
        "status": "failed",
        "policy_id": policy_id,
        "framework": context.get("framework"),
        "api_stack": context.get("api_stack"),
        "algorithm": context.get("algorithm"),
        "algorithm_class": context.get("algorithm_class"),
        "training_iteration": context.get("training_iteration"),
        "env_steps_sampled": context.get("env_steps_sampled"),
        "agent_steps_sampled": context.get("agent_steps_sampled"),
        "versions": context.get("versions", {}),
        "observation_space": None,
        "action_space": None,
        "inputs": [],
        "outputs": [],
        "files": {},
        "verification": {},
        "errors": {},
    }


class _Failures:
    """Collects per-format failures; raises at once under on_error="raise"."""

    def __init__(
        self, policy_id: str, on_error: str, errors: dict[str, str], log: bool = True
    ) -> None:
        self.owner = f"policy {policy_id!r}"  # named by its class once the target is built
        self.on_error = on_error
        self.errors = errors
        self.log = log

    def add(self, formats: list[str], exc: BaseException | str) -> None:
        cause = exc if isinstance(exc, str) else _cause(exc)
        for fmt in formats:
            self.errors[fmt] = cause
        what = f"{self.owner}, format(s) {', '.join(formats)}"
        if self.on_error == "raise":
            raise ExportFailedError(f"export failed for {what}: {cause}") from (
                exc if isinstance(exc, BaseException) else None
            )
        if not self.log:
            return
        if isinstance(exc, BaseException):
            logger.debug("export failure details:\n%s", "".join(traceback.format_exception(exc)))
        logger.warning("exportable_trainers: export failed for %s: %s", what, cause)


def export_policy(
    build_target: Callable[[], PolicyTarget],
    policy_id: str,
    export_dir: Path,
    formats: tuple[str, ...],
    options: ExportOptions,
    context: dict[str, Any],
    cache: dict[str, Any],
    log: bool = True,
) -> dict[str, Any]:
    """Write ``export_dir`` for one policy and return its manifest.

    The directory is built under a hidden staging name and renamed into place
    after ``manifest.json`` is written, so it is never seen half-written.
    Under ``on_error="warn"`` failures are logged and recorded in the
    manifest (the failed formats are left out of ``files``).

    Args:
        build_target: Builds the PolicyTarget (may raise; that fails every format).
        policy_id: The policy / module id.
        export_dir: Final directory, ``<checkpoint>/export/<policy_id>``.
        formats: Canonical formats to write.
        options: Export options (verify, on_error, tolerances).
        context: Algorithm facts for the manifest (iteration, steps, versions, ...).
        cache: Per-policy cache that survives between checkpoints.
        log: Whether failures under ``on_error="warn"`` are logged (the
            build-time dry run reports them itself).

    Raises:
        ExportFailedError: Something failed and ``options.on_error == "raise"``.
    """
    start = time.perf_counter()
    remove_leftovers(export_dir.parent)
    manifest = _skeleton(policy_id, context)
    failures = _Failures(policy_id, options.on_error, manifest["errors"], log)
    with staged_directory(export_dir) as staging:
        target, exporter = _build(build_target, cache, manifest, failures, formats, options)
        if exporter is not None:
            _write_formats(exporter, formats, staging, manifest, failures)
        if options.verify and manifest["files"]:
            _verify(target, exporter, staging, manifest, options, failures, context)
        manifest["status"] = (
            "ok" if not manifest["errors"] else "partial" if manifest["files"] else "failed"
        )
        _write_card(staging, manifest)
        manifest["export_seconds"] = round(time.perf_counter() - start, 4)
        write_manifest(staging, manifest)
    return manifest


def _build(
    build_target: Callable[[], PolicyTarget],
    cache: dict[str, Any],
    manifest: dict[str, Any],
    failures: _Failures,
    formats: tuple[str, ...],
    options: ExportOptions,
) -> tuple[PolicyTarget | None, FrameworkExporter | None]:
    """Step 1: describe the policy and build its framework's export graph."""
    from .frameworks import exporter_for

    try:
        target = build_target()
        failures.owner = target.owner or failures.owner
        manifest.update(_describe(target))
        exporter = exporter_for(target, cache, options)
        manifest["outputs"] = exporter.outputs()
    except Exception as exc:
        failures.add(list(formats), _named(exc, failures.owner, "building its export graph"))
        return None, None
    return target, exporter


def _write_formats(
    exporter: FrameworkExporter,
    formats: tuple[str, ...],
    staging: Path,
    manifest: dict[str, Any],
    failures: _Failures,
) -> None:
    """Step 2: write each format; one that fails leaves no file and does not stop the rest."""
    for fmt in formats:
        try:
            extra = exporter.write(fmt, staging)
            spec = FORMATS[fmt]
            if spec.sealed_by is not None:
                seal = resolve_reference(spec.sealed_by)
                extra.update(seal(staging / spec.path, embedded_contract(manifest, fmt, extra)))
            manifest["files"][fmt] = file_record(staging, FORMATS[fmt].path, **extra)
        except Exception as exc:
            _remove(staging / FORMATS[fmt].path)
            failures.add([fmt], _named(exc, failures.owner, f"writing {fmt!r}"))
    if any(not FORMATS[f].whole_policy for f in manifest["files"]):
        # Formats that hold the network alone: the loader needs its I/O.
        network = exporter.network()
        if network is not None:
            manifest["network"] = network


def embedded_contract(manifest: dict[str, Any], fmt: str, record: dict[str, Any]) -> dict:
    """The manifest a file carries inside itself: everything but what only the directory knows.

    Its ``files`` names this file alone (no sha256: a file cannot hold its own
    digest); an acting-only file's ``outputs`` are the ones it holds.
    """
    skipped = (*_NOT_EMBEDDED, *_NOT_EMBEDDED_CONTRACT)
    contract = {k: v for k, v in manifest.items() if k not in skipped}
    contract["status"] = "ok"
    facts = {k: v for k, v in record.items() if k not in _NOT_EMBEDDED_FACTS}
    contract["files"] = {fmt: {"path": FORMATS[fmt].path, **facts}}
    held = record.get("outputs")
    if held is not None:
        contract["outputs"] = [o for o in manifest["outputs"] if o["name"] in held]
    return contract


def _write_card(staging: Path, manifest: dict[str, Any]) -> None:
    """Step 4: the README that says how to load each written format."""
    (staging / README_NAME).write_text(render_readme(manifest), encoding="utf-8")
    manifest["readme"] = file_record(staging, README_NAME)


def _describe(target: PolicyTarget) -> dict[str, Any]:
    return {
        "framework": target.framework,
        "api_stack": target.api_stack,
        "observation_space": space_to_dict(target.observation_space),
        "action_space": space_to_dict(target.action_space),
        "model_observation_space": space_to_dict(target.model_observation_space),
        "preprocessing": target.preprocessing,
        "action": target.action,
        "inputs": input_specs(target.observation_space) + state_inputs(target.state),
        "recurrent": manifest_entry(target.state),
        "details": target.details,
    }


def _verify(
    target: PolicyTarget,
    exporter: Any,
    staging: Path,
    manifest: dict[str, Any],
    options: ExportOptions,
    failures: _Failures,
    context: dict[str, Any],
) -> None:
    seed = context.get("training_iteration") or 0
    try:
        samples = {"outputs": _samples(target, VERIFY_SAMPLES, seed)}
        if any(FORMATS[f].verify == "agreement" for f in manifest["files"]):
            samples["agreement"] = _samples(target, AGREEMENT_SAMPLES, seed + 1)
        weights = exporter.weights()
    except Exception as exc:
        failures.add(
            list(manifest["files"]), f"could not compute the live policy's outputs: {_cause(exc)}"
        )
        return
    for fmt in list(manifest["files"]):
        observations, state_in, reference = samples.get(FORMATS[fmt].verify, samples["outputs"])
        try:
            result = verify_artifact(
                fmt,
                staging,
                manifest,
                observations,
                state_in,
                reference,
                weights,
                Tolerances(options.atol, options.rtol, options.int8_atol),
            )
        except Exception as exc:
            result = {"passed": False, "problems": [f"could not run the artifact: {_cause(exc)}"]}
        manifest["verification"][fmt] = result
        if "action_agreement" in result:
            manifest["files"].get(fmt, {})["action_agreement"] = result["action_agreement"]
        if not result["passed"]:
            # A wrong artifact must not be loadable: drop it, keep the evidence.
            _remove(staging / manifest["files"].pop(fmt)["path"])
            failures.add([fmt], "verification failed: " + "; ".join(result["problems"]))


def _samples(target: PolicyTarget, n: int, seed: int) -> tuple[list, Any, dict]:
    """(observations, state, RLlib's outputs) for ``n`` sampled observations."""
    observations = sample_observations(target.observation_space, n, seed)
    state_in = sample_state(target.state, n, seed)
    return observations, state_in, target.reference(observations, state_in)


def _remove(path: Path) -> None:
    import shutil

    if path.is_dir():
        shutil.rmtree(path, ignore_errors=True)
    elif path.exists():
        os.remove(path)
