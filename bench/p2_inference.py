"""P2: per-call inference time of an exported policy vs RLlib's own paths and bare ONNX Runtime.

RLlib is timed in this process, where the algorithms live. The exported policy and
a bare ONNX Runtime session on the same file are timed in a process without Ray,
as they are deployed (bench/infer_child.py), on the same observations.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .common import Row, median_time, run_python

OBS = np.array([0.02, -0.3, 0.01, 0.4], np.float32)
CHILD = str(Path(__file__).with_name("infer_child.py"))


def batch_of(n: int) -> np.ndarray:
    """The same n observations in every process."""
    noise = np.random.default_rng(0).normal(0, 0.1, (n, 4)).astype(np.float32)
    return np.repeat(OBS[None], n, 0) + noise


def _algos(workdir: Path):
    """Default-config PPO (256x256 MLPs) on each stack, exported once."""
    from ray.rllib.algorithms.ppo import PPO, PPOConfig

    from exportable_trainers import make_exporting

    new = make_exporting(PPO)(
        config=PPOConfig().environment("CartPole-v1").env_runners(num_env_runners=0)
    )
    old_config = (
        PPOConfig()
        .api_stack(enable_rl_module_and_learner=False, enable_env_runner_and_connector_v2=False)
        .environment("CartPole-v1")
        .env_runners(num_env_runners=0)
    )
    old = make_exporting(PPO)(config=old_config)
    new_ckpt = Path(new.save(str(workdir / "new")).checkpoint.path)
    old_ckpt = Path(old.save(str(workdir / "old")).checkpoint.path)
    return new, old, new_ckpt, old_ckpt


def _rllib_times(new, old) -> dict:
    import torch

    module = new.get_module()
    dist_cls = module.get_inference_action_dist_cls()
    policy = old.get_policy()
    times = {}
    for batch in (1, 256):
        x = batch_of(batch)
        xt = torch.as_tensor(x)

        def module_path(xt=xt):
            with torch.no_grad():
                out = module.forward_inference({"obs": xt})
                return (
                    dist_cls.from_logits(out["action_dist_inputs"])
                    .to_deterministic()
                    .sample()
                    .numpy()
                )

        if batch == 1:
            old_fn = lambda x=x: old.compute_single_action(x[0], explore=False)  # noqa: E731
        else:
            old_fn = lambda x=x: policy.compute_actions(x, explore=False)  # noqa: E731
        number = 500 if batch == 1 else 50
        times[batch] = {
            "old": median_time(old_fn, number, 7),
            "module": median_time(module_path, number, 7),
        }
    return times


def run(workdir: Path) -> tuple[list[Row], dict]:
    new, old, new_ckpt, old_ckpt = _algos(workdir)
    rllib = _rllib_times(new, old)
    onnx = {int(k): v for k, v in run_python(CHILD, str(new_ckpt), str(old_ckpt)).items()}
    rows = []
    for batch in (1, 256):
        (t_ours, s_ours), (t_ours_old, s_ours_old), (t_bare, s_bare) = (
            onnx[batch]["ours"],
            onnx[batch]["ours_old"],
            onnx[batch]["bare"],
        )
        (t_old, s_old), (t_module, s_module) = rllib[batch]["old"], rllib[batch]["module"]
        label = "compute_action(obs)" if batch == 1 else "compute_actions(batch of 256)"
        old_label = (
            "algo.compute_single_action" if batch == 1 else "policy.compute_actions (old stack)"
        )

        def headroom(theirs: float, need: float, t_bare: float = t_bare) -> str:
            best = theirs / t_bare
            if best >= need:
                return ""
            return (
                f" Not reachable by any wrapper here: bare ONNX Runtime on this file takes "
                f"{t_bare * 1e3:.3f} ms, only {best:.2f}x less than RLlib; both spend the call in the "
                "same matrix multiplications."
            )

        rows += [
            Row(
                "P2",
                f"batch {batch}: {label} (ONNX Runtime) vs {old_label}",
                t_ours_old,
                t_old,
                "s",
                t_old / t_ours_old,
                ">= 20x faster",
                t_old / t_ours_old >= 20,
                "old-stack export (no Ray in the process) vs the old-stack algorithm."
                + headroom(t_old, 20),
                {"ours": s_ours_old, "rllib": s_old},
            ),
            Row(
                "P2",
                f"batch {batch}: {label} (ONNX Runtime) vs new-stack forward_inference + distribution",
                t_ours,
                t_module,
                "s",
                t_module / t_ours,
                ">= 3x faster",
                t_module / t_ours >= 3,
                "new-stack export (no Ray in the process) vs the module an env runner acts with"
                + (
                    " (the export also computes the value head, forward_inference does not)."
                    if batch > 1
                    else "."
                )
                + headroom(t_module, 3),
                {"ours": s_ours, "rllib": s_module},
            ),
            Row(
                "P2",
                f"batch {batch}: {label} vs bare InferenceSession.run on the same file",
                t_ours,
                t_bare,
                "s",
                t_ours / t_bare,
                "<= 1.5x",
                t_ours / t_bare <= 1.5,
                "the wrapper's overhead: observation checks, feeds, named outputs; both in a process without Ray",
                {"ours": s_ours, "bare": s_bare},
            ),
        ]
    return rows, {"new_ckpt": new_ckpt, "old_ckpt": old_ckpt, "new": new, "old": old}
