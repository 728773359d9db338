"""SIGKILL during an export never costs the checkpoint, and never shows half an export.

tests/fault_child.py arms numbered kill points inside the export only (each
format write before and after, a torn half-written ONNX file, each verification,
manifest, fsync, renames, removal of a replaced export) and, in one fork of
itself per K, kills the export at the K-th. For every K: RLlib still restores the checkpoint, list_exports shows only
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


def _run(root: Path, mode: str, last: int, address: str) -> subprocess.CompletedProcess:
    # The child trains torch only; keeping RLlib from importing TensorFlow halves
    # its start-up. One OpenMP thread: the child forks once per kill point.
    env = {
        **os.environ,
        "RAY_ADDRESS": address,
        "RLLIB_TEST_NO_TF_IMPORT": "1",
        "OMP_NUM_THREADS": "1",
    }
    return subprocess.run(
        [sys.executable, str(CHILD), str(root), mode, str(last)],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )


def _exits(out: subprocess.CompletedProcess) -> dict[int, tuple[int, str]]:
    """K -> (exit code, the fork's last line) from the child's "EXIT K CODE" lines."""
    exits, last = {}, ""
    for line in out.stdout.splitlines():
        if match := re.fullmatch(r"EXIT (\d+) (-?\d+)", line):
            exits[int(match.group(1))] = (int(match.group(2)), last)
        elif line.startswith(("KILL ", "COMPLETED ", "ERROR ")):
            last = line
    return exits


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
    with ThreadPoolExecutor(max_workers=2) as pool:  # two cores: both modes at once
        new, replace = pool.map(
            lambda p: _run(tmp_path, *p, address), [("new", 0), ("replace", REPLACE_TAIL)]
        )
    labels = []
    for mode, out in (("new", new), ("replace", replace)):
        assert out.returncode == 0, out.stderr[-3000:]
        exits = _exits(out)
        code, line = exits.pop(0)
        assert code == 0 and line.startswith("COMPLETED"), f"{mode} dry run: {line}"
        points = int(line.split()[1])
        assert points >= 20, (mode, points)
        first = 1 if mode == "new" else points - REPLACE_TAIL + 1
        assert sorted(exits) == list(range(first, points + 1)), (mode, sorted(exits))
        for kill_at, (code, line) in sorted(exits.items()):
            killed = re.fullmatch(rf"KILL {kill_at} (.*)", line)
            assert code == -9 and killed, f"{mode} {kill_at}: not killed ({code}, {line!r})"
            label = f"{mode} at {kill_at} ({killed.group(1)})"
            labels.append(label)
            checkpoint = tmp_path / f"{mode}-{kill_at}" / "checkpoint"
            _check_after_kill(checkpoint, label)
            if mode == "replace":
                # The next export's clean-up brings back a replaced export if the kill
                # fell between its two renames: the checkpoint keeps a complete export.
                remove_leftovers(checkpoint / EXPORT_DIRNAME)
                assert list_exports(checkpoint), f"{label}: the replaced export was lost"
                _check_after_kill(checkpoint, label)
    assert len(set(labels)) >= 20, labels
