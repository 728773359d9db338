"""Child process of the fault-injection test: export, and SIGKILL itself at point K.

    python tests/fault_child.py ROOT MODE LAST

MODE "new": save a checkpoint (RLlib writes it, then the export runs).
MODE "replace": save a checkpoint, then export it again (replacing the export).
A dry export (K=0, killed nowhere) into ROOT/MODE-0 counts the N points the
export passes; then one export per K in N-LAST+1..N (LAST=0: every point)
runs into ROOT/MODE-K and is killed at its K-th point. Each line of output
is "EXIT K CODE" (CODE -9: killed), after the fork's own "KILL K label" or
"COMPLETED N" line.

The algorithm is built once and each export runs in a fork of this process,
so a kill costs a fork, not a Python start-up and an algorithm build (the
test sets OMP_NUM_THREADS=1: an OpenMP pool does not survive a fork). Kill
points are armed only while the export runs.
"""

from __future__ import annotations

import os
import pathlib
import signal
import sys

ROOT, MODE = pathlib.Path(sys.argv[1]), sys.argv[2]
LAST = int(sys.argv[3])
KILL_AT = 0
ARMED = False
COUNT = 0
ORIGINAL_EXPORT = None


def point(label: str) -> None:
    global COUNT
    if not ARMED:
        return
    COUNT += 1
    if COUNT == KILL_AT:
        print(f"KILL {COUNT} {label}", flush=True)
        os.kill(os.getpid(), signal.SIGKILL)


def wrap(owner, name: str, label: str) -> None:
    original = getattr(owner, name)

    def wrapper(*args, **kwargs):
        point(f"{label}:before")
        result = original(*args, **kwargs)
        point(f"{label}:after")
        return result

    setattr(owner, name, wrapper)


def torn_write_bytes(original):
    def write_bytes(self, data):
        global COUNT
        if ARMED:
            COUNT += 1
            if COUNT == KILL_AT:  # half a file on disk, then death
                with open(self, "wb") as f:
                    f.write(data[: len(data) // 2])
                    f.flush()
                    os.fsync(f.fileno())
                print(f"KILL {COUNT} torn write {self.name}", flush=True)
                os.kill(os.getpid(), signal.SIGKILL)
        return original(self, data)

    return write_bytes


def main() -> None:
    global ARMED
    import ray
    from ray.rllib.algorithms.ppo import PPO, PPOConfig

    import exportable_trainers.export.pipeline as export
    import exportable_trainers.export.staging as staging
    import exportable_trainers.export.verification as verification
    from exportable_trainers import make_exporting
    from exportable_trainers.export.mixin import ExportingMixin
    from exportable_trainers.export.torch import exporter as torch_exporter

    ray.init(address=os.environ["RAY_ADDRESS"], log_to_driver=False, configure_logging=False)
    wrap(torch_exporter.TorchExporter, "write", "write")
    wrap(export, "file_record", "file_record")
    wrap(export, "write_manifest", "write_manifest")
    wrap(verification, "verify_artifact", "verify")
    wrap(staging, "_fsync_tree", "fsync")
    wrap(staging.os, "rename", "rename")
    wrap(staging.shutil, "rmtree", "rmtree")
    pathlib.Path.write_bytes = torn_write_bytes(pathlib.Path.write_bytes)

    global ORIGINAL_EXPORT
    original_export = ORIGINAL_EXPORT = ExportingMixin.export_policies

    def armed_export(self, *args, **kwargs):
        global ARMED
        ARMED = True
        try:
            return original_export(self, *args, **kwargs)
        finally:
            ARMED = False

    config = (
        PPOConfig()
        .environment("CartPole-v1")
        .env_runners(num_env_runners=0)
        .training(train_batch_size_per_learner=64, minibatch_size=32, num_epochs=1)
    )
    algo = make_exporting(PPO, on_error="raise")(config=config)
    ExportingMixin.export_policies = armed_export
    ROOT.mkdir(parents=True, exist_ok=True)
    count_file = ROOT / f"{MODE}-0.count"
    _fork(algo, 0, armed_export, count_file)
    points = int(count_file.read_text())
    for kill_at in range(points - LAST + 1 if LAST else 1, points + 1):
        _fork(algo, kill_at, armed_export, None)
    algo.stop()


def _fork(algo, kill_at: int, armed_export, count_file) -> None:
    """Run one export in a fork and print how it ended."""
    pid = os.fork()
    if pid == 0:
        _export_once(algo, ROOT / f"{MODE}-{kill_at}" / "checkpoint", kill_at, armed_export)
        if count_file is not None:
            count_file.write_text(str(COUNT))
        os._exit(0)
    _, status = os.waitpid(pid, 0)
    code = -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)
    print(f"EXIT {kill_at} {code}", flush=True)


def _export_once(algo, checkpoint: pathlib.Path, kill_at: int, armed_export) -> None:
    """In the fork: export (killed at point ``kill_at``); on an error leave at once."""
    global KILL_AT
    from exportable_trainers.export.mixin import ExportingMixin

    KILL_AT = kill_at
    try:
        if MODE == "replace":
            ExportingMixin.export_policies = ORIGINAL_EXPORT
            algo.save(str(checkpoint))
            ExportingMixin.export_policies = armed_export
            algo.export_policies(checkpoint)
        else:
            algo.save(str(checkpoint))
        print(f"COMPLETED {COUNT}", flush=True)
    except BaseException as exc:  # the parent reports the exit code
        print(f"ERROR {type(exc).__name__}: {exc}", flush=True)
        os._exit(1)


if __name__ == "__main__":
    main()
