"""SIGKILL during an export never costs the checkpoint, and never shows half an export.

tests/fault_child.py arms numbered kill points inside the export only (each
format write before and after, a torn half-written ONNX file, each verification,
manifest, fsync, renames, removal of a replaced export) and kills itself at the
K-th. For every K: RLlib still restores the checkpoint, list_exports shows only
complete, hash-valid exports, and load_policy either loads one or finds none.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from exportable_trainers import ExportNotFoundError, list_exports, load_policy
from exportable_trainers.contract.manifest import EXPORT_DIRNAME, MANIFEST_NAME
from exportable_trainers.export.staging import remove_leftovers

pytestmark = pytest.mark.slow
CHILD = Path(__file__).with_name("fault_child.py")
# The replacement's last points: its renames and the removal of the old export.
REPLACE_TAIL = 6


def _run(root: Path, mode: str, kill_at: int, address: str) -> subprocess.CompletedProcess:
    # The child trains torch only; keeping RLlib from importing TensorFlow halves its start-up.
    env = {**os.environ, "RAY_ADDRESS": address, "RLLIB_TEST_NO_TF_IMPORT": "1"}
    return subprocess.run(
        [sys.executable, str(CHILD), str(root), mode, str(kill_at)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )


def _check_after_kill(checkpoint: Path, label: str) -> None:
    from ray.rllib.algorithms.algorithm import Algorithm

    algo = Algorithm.from_checkpoint(str(checkpoint))  # RLlib's checkpoint survived
    algo.stop()
    root = checkpoint / EXPORT_DIRNAME
    visible = [p for p in root.iterdir() if not p.name.startswith(".")] if root.exists() else []
    for directory in visible:
        assert (directory / MANIFEST_NAME).is_file(), (
            f"{label}: {directory} visible without a manifest"
        )
    entries = list_exports(checkpoint, check_hashes=True)
    for entry in entries:
        for export in entry.policies.values():
            assert export.status == "ok", (
                f"{label}: {export.export_dir} is {export.status}: {export.problem}"
            )
    try:
        policy = load_policy(checkpoint)
    except ExportNotFoundError:
        assert not entries, f"{label}: listed an export that load_policy cannot find"
    else:
        assert entries, f"{label}: load_policy found an export list_exports did not"
        policy.compute_action([0.0, 0.1, 0.0, -0.1])


def test_sigkill_at_every_point_of_an_export(ray_session, tmp_path):
    address = ray_session.get_runtime_context().gcs_address
    counts = {}
    for mode in ("new", "replace"):
        dry = _run(tmp_path / f"dry-{mode}", mode, 0, address)
        assert dry.returncode == 0, dry.stderr[-3000:]
        counts[mode] = int(re.search(r"COMPLETED (\d+)", dry.stdout).group(1))
    assert counts["new"] >= 20, counts
    plan = [("new", k) for k in range(1, counts["new"] + 1)]
    plan += [
        ("replace", k) for k in range(counts["replace"] - REPLACE_TAIL + 1, counts["replace"] + 1)
    ]
    with ThreadPoolExecutor(max_workers=2) as pool:  # two cores: two children at a time
        runs = list(pool.map(lambda p: _run(tmp_path / f"{p[0]}-{p[1]}", *p, address), plan))
    labels = []
    for (mode, kill_at), out in zip(plan, runs):
        root = tmp_path / f"{mode}-{kill_at}"
        killed = re.search(r"KILL \d+ (.*)", out.stdout)
        assert out.returncode == -9 and killed, (
            f"{mode} {kill_at}: not killed\n{out.stdout}\n{out.stderr[-2000:]}"
        )
        label = f"{mode} at {kill_at} ({killed.group(1)})"
        labels.append(label)
        checkpoint = root / "checkpoint"
        _check_after_kill(checkpoint, label)
        if mode == "replace":
            # The next export's clean-up brings back a replaced export if the kill
            # fell between its two renames: the checkpoint keeps a complete export.
            remove_leftovers(checkpoint / EXPORT_DIRNAME)
            assert list_exports(checkpoint), f"{label}: the replaced export was lost"
            _check_after_kill(checkpoint, label)
    assert len(set(labels)) >= 20, labels
