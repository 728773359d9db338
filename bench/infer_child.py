"""P2, ONNX Runtime side (a process without Ray, as deployed): per-call times.

python bench/infer_child.py NEW_CHECKPOINT OLD_CHECKPOINT WIDE_CHECKPOINT

Also profiles ONNX Runtime on a batch of 256 (its own per-node profiler) and
times a run that asks for the action alone, to show where the time goes.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from collections import defaultdict

import onnxruntime as ort

from bench.common import median_times
from bench.p2_inference import batch_of
from exportable_trainers import load_policy

new_ckpt, old_ckpt, wide_ckpt = sys.argv[1], sys.argv[2], sys.argv[3]
model_path = f"{new_ckpt}/export/default_policy/model.onnx"
ours_new = load_policy(new_ckpt, format="onnx")
ours_old = load_policy(old_ckpt, format="onnx")
session = ort.InferenceSession(model_path, providers=["CPUExecutionProvider"])


def node_profile(x, calls: int = 200) -> list[list]:
    """Share of ONNX Runtime's kernel time per node, largest first."""
    options = ort.SessionOptions()
    options.enable_profiling = True
    with tempfile.TemporaryDirectory() as tmp:
        # ONNX Runtime writes its trace into the working directory unless told otherwise.
        options.profile_file_prefix = os.path.join(tmp, "ort_profile")
        profiled = ort.InferenceSession(model_path, options, providers=["CPUExecutionProvider"])
        for _ in range(calls):
            profiled.run(None, {"obs": x})
        with open(profiled.end_profiling(), encoding="utf-8") as f:
            events = json.load(f)
    per_node: dict[tuple[str, str], float] = defaultdict(float)
    for e in events:
        if e.get("cat") == "Node" and e["name"].endswith("_kernel_time"):
            node = e["name"][: -len("_kernel_time")]
            per_node[(node, e["args"].get("op_name", "?"))] += e["dur"]
    total = sum(per_node.values())
    ranked = sorted(per_node.items(), key=lambda kv: -kv[1])
    return [[node, op, dur / total] for (node, op), dur in ranked]


def wrapper_profile(obs, calls: int = 20000) -> str:
    """cProfile of compute_action on one observation, by own time."""
    import cProfile
    import io
    import pstats

    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(calls):
        ours_new.compute_action(obs)
    profiler.disable()
    text = io.StringIO()
    pstats.Stats(profiler, stream=text).sort_stats("tottime").print_stats(10)
    lines = [ln for ln in text.getvalue().splitlines() if ln.strip()]
    start = next(i for i, ln in enumerate(lines) if "ncalls" in ln)
    return "\n".join([f"{calls} calls of compute_action(obs):", *lines[start:]])


def graph_layers() -> dict[str, str]:
    """Which network each Gemm's weight belongs to (its initializer's name)."""
    import onnx  # only for this description; the deployed path never imports it

    model = onnx.load(model_path, load_external_data=False)
    return {n.name: (n.input[1] if len(n.input) > 1 else "") for n in model.graph.node}


out: dict = {}
for batch in (1, 256):
    x = batch_of(batch)
    number, repeat = (4000, 7) if batch == 1 else (300, 7)
    if batch == 1:
        ours, ours_old_fn = (
            (lambda x=x: ours_new.compute_action(x[0])),
            (lambda x=x: ours_old.compute_action(x[0])),
        )
    else:
        ours, ours_old_fn = (
            (lambda x=x: ours_new.compute_actions(x)),
            (lambda x=x: ours_old.compute_actions(x)),
        )
    fns = {
        "ours": ours,
        "ours_old": ours_old_fn,
        "bare": lambda x=x: session.run(None, {"obs": x}),
    }
    if batch == 256:
        fns["bare_action_only"] = lambda x=x: session.run(["action"], {"obs": x})
    out[batch] = median_times(fns, number, repeat)
# The deployment formats at batch 256, each against what it replaces.
x256 = batch_of(256)
actor = load_policy(new_ckpt, format="onnx_actor")
out["actor_256"] = median_times({"a": lambda: actor.compute_actions(x256)}, 300, 7)["a"]
wide = {"wide_actor_256": load_policy(wide_ckpt, format="onnx_actor")}
try:
    wide["int8_256"] = load_policy(wide_ckpt, format="onnx_int8")
except Exception as exc:  # refused for this checkpoint: the parent reports why
    print(f"onnx_int8 not loadable: {exc}", file=sys.stderr)
out.update(median_times({k: (lambda p=p: p.compute_actions(x256)) for k, p in wide.items()}, 50, 7))
out["profile_256"] = node_profile(batch_of(256))
out["wrapper_profile"] = wrapper_profile(batch_of(1)[0])
try:
    out["weights_of_node"] = graph_layers()
except ImportError:
    out["weights_of_node"] = {}
print(json.dumps(out))
