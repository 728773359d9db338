"""Check that a written artifact reproduces the live policy."""

from __future__ import annotations

from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from ..contract.actions import categorical_parts
from ..contract.formats import FORMATS, MIN_AGREEMENT
from ..contract.manifest import resolve_inside
from ..load.loader import ExportedPolicy
from ..load.runtimes import load_runner


class Tolerances(NamedTuple):
    """How far an artifact's outputs may be from RLlib's.

    Args:
        atol: Absolute tolerance of continuous outputs.
        rtol: Relative tolerance of continuous outputs.
        int8_atol: How far a continuous action of an "agreement" format may be.
    """

    atol: float
    rtol: float
    int8_atol: float


def sample_state(state: list[dict], n: int, seed: int) -> dict[str, np.ndarray] | None:
    """Random recurrent states (normal, std 0.5) for ``n`` samples, or None when stateless."""
    if not state:
        return None
    rng = np.random.default_rng(seed)
    return {s["key"]: rng.normal(0.0, 0.5, (n, *s["shape"])).astype(s["dtype"]) for s in state}


def _tie_explained(
    reference: dict[str, np.ndarray], spec: dict, rows: np.ndarray, got: np.ndarray, tol: float
) -> bool:
    """Whether differing discrete actions come from scores equal within ``tol``.

    The scores are the logits of a categorical head, or the Q-values a
    greedy module (DQN) takes the argmax of.
    """
    if spec.get("distribution") in ("categorical", "multi_categorical"):
        logits = reference.get("action_dist_inputs")
    else:
        logits = reference.get("q_values")
    if logits is None:
        return False
    want = np.asarray(reference["action"])
    splits = categorical_parts(spec, logits)
    for r in rows:
        w = np.atleast_1d(want[r])
        g = np.atleast_1d(got[r])
        for j, part in enumerate(splits):
            if w[j] != g[j] and abs(part[r, w[j]] - part[r, g[j]]) > tol:
                return False
    return True


def compare_outputs(
    reference: dict[str, np.ndarray],
    got: dict[str, np.ndarray],
    atol: float,
    rtol: float,
    action_spec: dict,
) -> dict[str, Any]:
    """Compare every reference output with the artifact's.

    Returns:
        ``{"passed", "samples", "atol", "rtol", "max_abs_diff": {name: float},
        "problems": [str]}``; discrete actions must match exactly unless the
        logits of the two choices are equal within the tolerance.
    """
    problems: list[str] = []
    diffs: dict[str, float] = {}
    n = 0
    for name, want in reference.items():
        want = np.asarray(want)
        n = len(want)
        if name not in got:
            problems.append(f"output {name!r} is missing")
            continue
        have = np.asarray(got[name])
        if want.shape != have.shape:
            problems.append(f"output {name!r} has shape {have.shape}, expected {want.shape}")
            continue
        if want.dtype.kind in "iub" and have.dtype.kind in "iub":
            wrong = np.nonzero((want != have).reshape(len(want), -1).any(axis=1))[0]
            diffs[name] = (
                float(np.max(np.abs(want.astype(np.int64) - have.astype(np.int64))))
                if want.size
                else 0.0
            )
            if len(wrong) and not (
                name == "action" and _tie_explained(reference, action_spec, wrong, have, atol)
            ):
                problems.append(f"output {name!r} differs in {len(wrong)} of {len(want)} samples")
            continue
        diff = np.abs(want.astype(np.float64) - have.astype(np.float64))
        diffs[name] = float(diff.max()) if diff.size else 0.0
        bad = diff > atol + rtol * np.abs(want.astype(np.float64))
        if np.isnan(have).any() and not np.isnan(want).any():
            problems.append(f"output {name!r} holds NaN")
        elif bad.any():
            problems.append(
                f"output {name!r} differs by up to {diffs[name]:.3g} (atol={atol:g}, rtol={rtol:g})"
            )
    return {
        "passed": not problems,
        "samples": n,
        "atol": atol,
        "rtol": rtol,
        "max_abs_diff": diffs,
        "problems": problems,
    }


def action_agreement(
    reference: dict[str, np.ndarray], got: dict[str, np.ndarray], action_spec: dict, atol: float
) -> dict[str, Any]:
    """The share of samples whose every action leaf is RLlib's (continuous leaves within ``atol``).

    Returns:
        ``{"passed", "samples", "action_agreement", "min_agreement", "int8_atol",
        "problems"}``; passed when the share is at least ``MIN_AGREEMENT``.
    """
    from ..contract.actions import leaves_of

    names = [leaf["name"] for leaf in leaves_of(action_spec)]
    missing = [n for n in names if n not in got]
    if missing:
        return {"passed": False, "problems": [f"output(s) {', '.join(missing)} missing"]}
    n = len(np.asarray(reference[names[0]]))
    agree = np.ones(n, bool)
    continuous = False
    for name in names:
        want, have = np.asarray(reference[name]), np.asarray(got[name])
        if want.shape != have.shape:
            return {
                "passed": False,
                "problems": [f"output {name!r} has shape {have.shape}, expected {want.shape}"],
            }
        if want.dtype.kind == "f":
            close = np.abs(want.astype(np.float64) - have.astype(np.float64)) <= atol
            continuous = True
        else:
            close = want == have
        agree &= close.reshape(n, -1).all(axis=1)
    share = float(agree.mean()) if n else 1.0
    problems = []
    if share < MIN_AGREEMENT:
        rule = f"within int8_atol={atol:g}" if continuous else "exactly equal"
        problems.append(
            f"its actions agree with the policy's in {share:.1%} of {n} observations, "
            f"below the {MIN_AGREEMENT:.0%} it needs ({rule})"
        )
    return {
        "passed": not problems,
        "samples": n,
        "action_agreement": round(share, 6),
        "min_agreement": MIN_AGREEMENT,
        "int8_atol": atol,
        "problems": problems,
    }


def judge_outputs(
    fmt: str,
    record: dict,
    manifest: dict,
    reference: dict[str, np.ndarray],
    got: dict[str, np.ndarray],
    tol: Tolerances,
) -> dict[str, Any]:
    """Compare a runnable format's outputs with RLlib's by the format's rule.

    Acting-only formats are compared on the outputs they hold (their record's
    ``outputs``); "agreement" formats on the share of equal actions.
    """
    spec = FORMATS[fmt]
    if spec.acting_only:
        held = set(record.get("outputs") or ())
        reference = {k: v for k, v in reference.items() if k in held}
    if spec.verify == "agreement":
        return action_agreement(reference, got, manifest["action"], tol.int8_atol)
    return compare_outputs(reference, got, tol.atol, tol.rtol, manifest["action"])


def verify_artifact(
    fmt: str,
    export_dir: Path,
    manifest: dict,
    observations: list[Any],
    state_in: dict[str, np.ndarray] | None,
    reference: dict[str, np.ndarray],
    weights: dict[str, np.ndarray] | None,
    tol: Tolerances,
) -> dict[str, Any]:
    """Load one written format the way users will and compare it with the live policy.

    Args:
        fmt: The format.
        export_dir: Directory holding the artifact (the staging directory).
        manifest: The manifest being written (files already recorded).
        observations: Raw observations the reference was computed on.
        state_in: Recurrent state the reference was computed with (or None).
        reference: RLlib's own outputs for ``observations``.
        weights: For weights-only formats, the tensors the file must hold.
        tol: How far its outputs may be from ``reference``.
    """
    record = manifest["files"][fmt]
    path = resolve_inside(export_dir, record["path"], f"files[{fmt!r}]")
    spec = FORMATS.get(fmt)
    if spec is not None and spec.verify in ("outputs", "agreement"):
        policy = ExportedPolicy(export_dir, manifest, fmt, load_runner(fmt, path, manifest))
        got = policy.forward(observations, state=state_in)
        return judge_outputs(fmt, record, manifest, reference, got, tol)
    if spec is not None and spec.verify == "weights" and weights is not None:
        loaded = spec.read_weights(path)
        problems = []
        if set(loaded) != set(weights):
            problems.append("tensor names differ from the network's state_dict")
        diffs = {
            k: float(np.max(np.abs(loaded[k] - weights[k]))) if weights[k].size else 0.0
            for k in weights
            if k in loaded and loaded[k].shape == weights[k].shape
        }
        if any(d != 0.0 for d in diffs.values()) or len(diffs) != len(weights):
            problems.append("tensors differ from the network's weights")
        return {
            "passed": not problems,
            "check": "weights equal the network's state_dict exactly",
            "tensors": len(weights),
            "max_abs_diff": max(diffs.values(), default=0.0),
            "problems": problems,
        }
    return {"passed": True, "check": "none available for this format", "problems": []}
