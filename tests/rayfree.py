"""Client of tests/rayfree_worker.py: run exports in a process without Ray."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

WORKER = Path(__file__).with_name("rayfree_worker.py")


class RayFreeRunner:
    """A long-lived worker process where ``import ray`` raises ImportError.

    Args:
        workdir: Directory for the exchanged .npz files and the worker's stderr.
    """

    def __init__(self, workdir: Path) -> None:
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self._ids = itertools.count()
        self._stderr = open(self.workdir / "worker.stderr", "w")  # noqa: SIM115
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        self.proc = subprocess.Popen(
            [sys.executable, str(WORKER)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            text=True,
            env=env,
        )

    def run(self, export_dir: Path, fmt: str, feeds: dict, mode: str = "raw") -> dict:
        """Outputs (name -> array) of ``fmt`` at ``export_dir`` on ``feeds``.

        Raises:
            AssertionError: The worker failed or imported Ray.
        """
        n = next(self._ids)
        inputs, outputs = self.workdir / f"in{n}.npz", self.workdir / f"out{n}.npz"
        np.savez(inputs, **feeds)
        request = {
            "export_dir": str(export_dir),
            "format": fmt,
            "mode": mode,
            "inputs": str(inputs),
            "outputs": str(outputs),
        }
        self.proc.stdin.write(json.dumps(request) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise AssertionError(
                "Ray-free worker died: " + (self.workdir / "worker.stderr").read_text()[-3000:]
            )
        reply = json.loads(line)
        assert reply["ok"], f"Ray-free worker failed: {reply['error']}\n{reply['trace']}"
        assert not reply["ray_imported"], "the Ray-free worker imported ray"
        with np.load(outputs) as data:
            result = {k: data[k] for k in data.files}
        inputs.unlink()
        outputs.unlink()
        return result

    def close(self) -> None:
        """Stop the worker."""
        if self.proc.poll() is None:
            self.proc.stdin.close()
            self.proc.wait(timeout=60)
        self._stderr.close()
