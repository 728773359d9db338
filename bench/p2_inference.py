"""P2: per-call inference time of an exported policy vs RLlib's own paths and bare ONNX Runtime.

RLlib is timed in this process, where the algorithms live. The exported policy and
a bare ONNX Runtime session on the same file are timed in a process without Ray,
as they are deployed (bench/infer_child.py), on the same observations.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .common import Row, median_times, run_python

OBS = np.array([0.02, -0.3, 0.01, 0.4], np.float32)
CHILD = str(Path(__file__).with_name("infer_child.py"))


def batch_of(n: int) -> np.ndarray:
    """The same n observations in every process."""
    noise = np.random.default_rng(0).normal(0, 0.1, (n, 4)).astype(np.float32)
    return np.repeat(OBS[None], n, 0) + noise


# The new stack also writes the deployment formats; the wide MLP is the int8 subject.
DEPLOY_FORMATS = ["onnx", "torchscript", "safetensors", "onnx_actor", "onnx_int8"]
WIDE = [1024] * 5  # ~4.2M parameters in the actor


def _algos(workdir: Path):
    """Default-config PPO (256x256 MLPs) on each stack, and a wide MLP, exported once."""
    from ray.rllib.algorithms.ppo import PPO, PPOConfig

    from exportable_trainers import make_exporting

    new = make_exporting(PPO, formats=DEPLOY_FORMATS)(
        config=PPOConfig().environment("CartPole-v1").env_runners(num_env_runners=0)
    )
    wide = make_exporting(PPO, formats=["onnx_actor", "onnx_int8"], on_error="warn")(
        config=PPOConfig()
        .environment("CartPole-v1")
        .env_runners(num_env_runners=0)
        .rl_module(model_config={"fcnet_hiddens": WIDE})
        .debugging(seed=0)  # the same weights, so the same agreement, in every run
    )
    wide_ckpt = Path(wide.save(str(workdir / "wide")).checkpoint.path)
    wide.stop()
    old_config = (
        PPOConfig()
        .api_stack(enable_rl_module_and_learner=False, enable_env_runner_and_connector_v2=False)
        .environment("CartPole-v1")
        .env_runners(num_env_runners=0)
    )
    old = make_exporting(PPO)(config=old_config)
    new_ckpt = Path(new.save(str(workdir / "new")).checkpoint.path)
    old_ckpt = Path(old.save(str(workdir / "old")).checkpoint.path)
    return new, old, new_ckpt, old_ckpt, wide_ckpt


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
        times[batch] = median_times({"old": old_fn, "module": module_path}, number, 7)
    return times


def run(workdir: Path) -> tuple[list[Row], dict]:
    new, old, new_ckpt, old_ckpt, wide_ckpt = _algos(workdir)
    rllib = _rllib_times(new, old)
    child = run_python(CHILD, str(new_ckpt), str(old_ckpt), str(wide_ckpt))
    onnx = {int(k): v for k, v in child.items() if k.isdigit()}
    value_share = _value_share(child["profile_256"], child["weights_of_node"])
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

        def headroom(
            theirs: float, need: float, t_bare: float = t_bare, t_ours: float = t_ours
        ) -> str:
            best = theirs / t_bare
            if theirs / t_ours >= need:
                return ""
            if best >= need:
                return (
                    f" Bare ONNX Runtime takes {t_bare * 1e6:.0f} us of our {t_ours * 1e6:.0f} us "
                    "per call; the rest is the wrapper (profile below)."
                )
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
                + headroom(t_old, 20, t_ours=t_ours_old),
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
                    f" (the export also computes the value branch, {value_share:.0%} of ONNX "
                    "Runtime's kernel time at this batch size; forward_inference does not)."
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
                "<= 1.15x" if batch == 1 else "<= 1.5x",
                t_ours / t_bare <= (1.15 if batch == 1 else 1.5),
                "the wrapper's overhead: observation checks, feeds, named outputs; both in a process "
                "without Ray"
                + (
                    f"; {(t_ours - t_bare) * 1e6:.0f} us per call, see the compute_action profile below"
                    if t_ours / t_bare > (1.15 if batch == 1 else 1.5)
                    else ""
                ),
                {"ours": s_ours, "bare": s_bare},
            ),
        ]
    rows += _deploy_rows(child, rllib[256]["module"], wide_ckpt)
    info = {"new_ckpt": new_ckpt, "old_ckpt": old_ckpt, "new": new, "old": old}
    info["ort_profile"] = [
        *_profile_lines(child, value_share),
        "",
        "Where a single `compute_action` call goes (cProfile, process without Ray, own time):",
        "",
        "```",
        child["wrapper_profile"],
        "```",
    ]
    return rows, info


def _deploy_rows(child: dict, module: tuple, wide_ckpt: Path) -> list[Row]:
    """onnx_actor vs RLlib's module path, and onnx_int8 vs onnx_actor on the wide MLP."""
    import json

    (t_actor, s_actor), (t_module, s_module) = child["actor_256"], module
    rows = [
        Row(
            "P2",
            "batch 256: onnx_actor compute_actions vs new-stack forward_inference + distribution",
            t_actor,
            t_module,
            "s",
            t_module / t_actor,
            ">= 1.3x faster",
            t_module / t_actor >= 1.3,
            "the acting graph only (no value branch), no Ray in the process",
            {"ours": s_actor, "rllib": s_module},
        )
    ]
    manifest = json.loads((wide_ckpt / "export/default_policy/manifest.json").read_text())
    if "int8_256" not in child:
        why = manifest["errors"].get("onnx_int8", "not written")
        return [
            *rows,
            Row(
                "P2",
                "batch 256: onnx_int8 vs onnx_actor, 4.2M-parameter MLP",
                None,
                child["wide_actor_256"][0],
                "s",
                None,
                ">= 1.5x faster, >= 99% agreement",
                False,
                f"onnx_int8 refused for this checkpoint: {why}",
                {},
            ),
        ]
    (t_int8, s_int8), (t_wide, s_wide) = child["int8_256"], child["wide_actor_256"]
    agreement = manifest["verification"]["onnx_int8"]["action_agreement"]
    return [
        *rows,
        Row(
            "P2",
            "batch 256: onnx_int8 vs onnx_actor, 4.2M-parameter MLP (fcnet 1024x5)",
            t_int8,
            t_wide,
            "s",
            t_wide / t_int8,
            ">= 1.5x faster, >= 99% agreement",
            t_wide / t_int8 >= 1.5 and agreement >= 0.99,
            f"dynamic int8 quantization; agreement with the live policy {agreement:.1%} "
            "(manifest verification.onnx_int8.action_agreement)",
            {"ours": s_int8, "fp32": s_wide},
        ),
    ]


def _branch(weights: str) -> str:
    if "critic" in weights or ".vf." in weights:
        return "value"
    if "actor" in weights or ".pi." in weights:
        return "policy"
    return "-"


def _value_share(profile: list, weights_of_node: dict) -> float:
    """Fraction of ONNX Runtime's kernel time spent in the value branch."""
    share = 0.0
    for node, _, fraction in profile:
        if _branch(weights_of_node.get(node.removeprefix("fused "), "")) == "value":
            share += fraction
    return share


def _profile_lines(child: dict, value_share: float) -> list[str]:
    """Markdown: where ONNX Runtime's time goes on a batch of 256."""
    weights = child["weights_of_node"]
    all_out, _ = child["256"]["bare"]
    action_only, _ = child["256"]["bare_action_only"]
    lines = [
        "ONNX Runtime's own profiler (`SessionOptions.enable_profiling`), 200 runs of the default",
        "new-stack PPO export on a batch of 256; share of kernel time per node:",
        "",
        "| node | op | weights | branch | share |",
        "| --- | --- | --- | --- | --- |",
    ]
    for node, op, fraction in child["profile_256"][:8]:
        w = weights.get(node.removeprefix("fused "), "")
        lines.append(f"| {node} | {op} | {w or '-'} | {_branch(w)} | {fraction:.1%} |")
    lines += [
        "",
        f"The value branch takes {value_share:.0%}. Asking the session for `action` alone costs "
        f"{action_only * 1e3:.3f} ms against {all_out * 1e3:.3f} ms for every output: ONNX Runtime "
        "runs the whole graph whatever is fetched, so the time is in the matrix products, the "
        "same ones RLlib's torch forward pass computes.",
    ]
    return lines
