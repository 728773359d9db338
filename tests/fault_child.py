"""Child process of the fault-injection test: export, and SIGKILL itself at point K.

    python tests/fault_child.py ROOT MODE KILL_AT

MODE "new": save a checkpoint (RLlib writes it, then the export runs).
MODE "replace": save a checkpoint, then export it again (replacing the export).
Kill points are armed only while the export runs. KILL_AT=0 kills nowhere and
prints how many points the export passed.
"""

from __future__ import annotations

import os
import pathlib
import signal
import sys

ROOT, MODE, KILL_AT = pathlib.Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
ARMED = False
COUNT = 0


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

    original_export = ExportingMixin.export_policies

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
    checkpoint = ROOT / "checkpoint"
    if MODE == "replace":
        algo.save(str(checkpoint))
    ExportingMixin.export_policies = armed_export
    if MODE == "replace":
        algo.export_policies(checkpoint)
    else:
        algo.save(str(checkpoint))
    print(f"COMPLETED {COUNT}", flush=True)
    algo.stop()


if __name__ == "__main__":
    main()
