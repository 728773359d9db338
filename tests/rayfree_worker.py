"""Runs exported artifacts in a process where ``import ray`` fails.

Started once per test session by tests/rayfree.py; reads one JSON request per
line on stdin and answers one JSON line on stdout. Each request names an export
directory, a format, a mode and two .npz files (inputs, outputs):

* mode "raw": the artifact is opened with its own runtime only (onnxruntime,
  torch.jit, safetensors) - no exportable_trainers code; inputs are the graph
  inputs by name.
* mode "load_policy": exportable_trainers.load_policy(...).forward(batch);
  inputs are the leaves by name and are reassembled into Dict / Tuple batches.
* mode "compute_action": ExportedPolicy.compute_action on each single observation.
* mode "episode": a recurrent policy stepped through observation sequences.
* mode "replay": compute_action step by step through whole episodes (reset at
  each ``episode_start``), returning each action leaf by output name, and the
  ``scores`` (logits or Q-values) where the format outputs them.
* mode "file": load_policy on one ONNX file (``export_dir`` names the file, which
  may sit alone in a directory).forward(batch).
* modes "reference" / "openvino": an ONNX format run by onnx.reference's
  ReferenceEvaluator or OpenVINO's CPU runtime (no exportable_trainers code);
  inputs are the graph inputs by name.
"""

from __future__ import annotations

import json
import sys
import traceback
from pathlib import Path


class BlockRay:
    """Meta-path hook that makes every import of ray fail."""

    def find_spec(self, name, path=None, target=None):
        if name == "ray" or name.startswith("ray."):
            raise ImportError(f"{name} is blocked in the Ray-free worker")
        return None


sys.meta_path.insert(0, BlockRay())

import numpy as np  # noqa: E402

_CACHE: dict = {}


def _manifest(export_dir: Path) -> dict:
    return json.loads((export_dir / "manifest.json").read_text())


def _raw_onnx(export_dir: Path, manifest: dict, feeds: dict) -> dict:
    import onnxruntime as ort

    key = ("onnx", str(export_dir))
    if key not in _CACHE:
        path = export_dir / manifest["files"]["onnx"]["path"]
        _CACHE[key] = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    session = _CACHE[key]
    names = [o.name for o in session.get_outputs()]
    return dict(zip(names, session.run(names, feeds)))


def _torch_module(export_dir: Path, manifest: dict):
    import torch

    return torch.jit.load(
        str(export_dir / manifest["files"]["torchscript"]["path"]), map_location="cpu"
    )


def _run_torch(module, manifest: dict, feeds: dict) -> dict:
    import torch

    args = [torch.from_numpy(np.ascontiguousarray(feeds[i["name"]])) for i in manifest["inputs"]]
    with torch.no_grad():
        outs = module(*args)
    return {o["name"]: t.numpy() for o, t in zip(manifest["outputs"], outs)}


def _raw_torchscript(export_dir: Path, manifest: dict, feeds: dict) -> dict:
    return _run_torch(_torch_module(export_dir, manifest), manifest, feeds)


def _raw_safetensors(export_dir: Path, manifest: dict, feeds: dict) -> dict:
    """Weights from safetensors, put into the TorchScript graph after zeroing it."""
    import torch
    from safetensors.torch import load_file

    module = _torch_module(export_dir, manifest)
    record = manifest["files"]["safetensors"]
    weights = load_file(str(export_dir / record["path"]))
    prefix = record["graph_prefix"]
    state = module.state_dict()
    with torch.no_grad():
        for name, tensor in state.items():
            if name.startswith(prefix):
                tensor.zero_()
    missing = [k for k in weights if prefix + k not in state]
    if missing:
        raise KeyError(f"safetensors keys not in the graph: {missing[:5]}")
    module.load_state_dict({prefix + k: v for k, v in weights.items()}, strict=False)
    return _run_torch(module, manifest, feeds)


def _raw_savedmodel(export_dir: Path, manifest: dict, feeds: dict) -> dict:
    """tf.saved_model.load and its serving_default signature."""
    import tensorflow as tf

    record = manifest["files"]["savedmodel"]
    key = ("savedmodel", str(export_dir))
    if key not in _CACHE:
        _CACHE[key] = tf.saved_model.load(str(export_dir / record["path"]))
    fn = _CACHE[key].signatures[record["signature"]]
    args = {record["input_keys"][k]: tf.constant(v) for k, v in feeds.items()}
    return {k: v.numpy() for k, v in fn(**args).items()}


def _raw_keras(export_dir: Path, manifest: dict, feeds: dict, fmt: str) -> dict:
    """tf_keras / Keras 3 load_model with no custom objects; the network's own outputs."""
    path = str(export_dir / manifest["files"][fmt]["path"])
    if fmt == "h5":
        import tf_keras

        model = tf_keras.models.load_model(path, compile=False)
    else:
        import keras

        model = keras.saving.load_model(path, compile=False)
    (x,) = feeds.values()
    outs = model(np.asarray(x, np.float32), training=False)
    return {
        e["name"]: np.asarray(outs[e["index"]]).reshape(
            [-1 if d is None else d for d in e["shape"]]
        )
        for e in manifest["network"]["outputs"]
    }


def _other_runtime(export_dir: Path, manifest: dict, feeds: dict, fmt: str, runtime: str) -> dict:
    """An ONNX file run by a runtime other than ONNX Runtime."""
    path = str(export_dir / manifest["files"][fmt]["path"])
    if runtime == "reference":
        from onnx.reference import ReferenceEvaluator

        evaluator = ReferenceEvaluator(path)
        names = list(evaluator.output_names)
        return dict(zip(names, evaluator.run(None, feeds)))
    import openvino as ov

    core = ov.Core()
    # OpenVINO's CPU plugin computes in bf16 where the CPU supports it unless told
    # otherwise: a policy's continuous actions then move by ~1e-2.
    compiled = core.compile_model(core.read_model(path), "CPU", {"INFERENCE_PRECISION_HINT": "f32"})
    result = compiled(feeds)
    return {out.get_any_name(): np.asarray(result[out]) for out in compiled.outputs}


def _file_outputs(path: Path, feeds: dict) -> dict:
    from exportable_trainers import load_policy

    policy = load_policy(path)
    names = [i["name"] for i in policy.manifest["inputs"]]
    return policy.forward(_assemble(names, feeds))


RAW = {
    "onnx": _raw_onnx,
    "torchscript": _raw_torchscript,
    "safetensors": _raw_safetensors,
    "savedmodel": _raw_savedmodel,
    "h5": lambda d, m, f: _raw_keras(d, m, f, "h5"),
    "keras": lambda d, m, f: _raw_keras(d, m, f, "keras"),
}


def _assemble(names: list[str], arrays: dict):
    """Leaves named obs / obs.a.b / obs.0 back into one batched structure."""
    if names == ["obs"]:
        return arrays["obs"]
    tree: dict = {}
    for name in names:
        node = tree
        parts = name.split(".")[1:]
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = arrays[name]

    def build(node):
        if not isinstance(node, dict):
            return node
        if all(k.isdigit() for k in node):
            return tuple(build(node[k]) for k in sorted(node, key=int))
        return {k: build(v) for k, v in node.items()}

    return build(tree)


def _load_policy_outputs(export_dir: Path, fmt: str, manifest: dict, feeds: dict) -> dict:
    from exportable_trainers import load_policy

    key = ("policy", str(export_dir), fmt)
    if key not in _CACHE:
        _CACHE[key] = load_policy(export_dir, format=fmt)
    batch = _assemble([i["name"] for i in manifest["inputs"]], feeds)
    return _CACHE[key].forward(batch)


def _compute_action_outputs(export_dir: Path, fmt: str, manifest: dict, feeds: dict) -> dict:
    """ExportedPolicy.compute_action on each observation of the batch, one at a time."""
    _load_policy_outputs(export_dir, fmt, manifest, {k: v[:1] for k, v in feeds.items()})
    policy = _CACHE[("policy", str(export_dir), fmt)]
    names = [i["name"] for i in manifest["inputs"]]
    n = len(next(iter(feeds.values())))
    actions = []
    for row in range(n):
        single = _assemble(names, {k: v[row] for k, v in feeds.items()})
        actions.append(np.asarray(policy.compute_action(single)))
    return {"action": np.stack(actions)}


def _episode_outputs(export_dir: Path, fmt: str, manifest: dict, feeds: dict) -> dict:
    """Step a recurrent policy through observation sequences.

    ``feeds`` holds the observation leaves [T, ...] and ``episode_start`` [T];
    the policy is reset where an episode starts. Actions come from
    compute_action (state kept inside), logits from forward with explicit state.
    """
    from exportable_trainers import load_policy

    policy = load_policy(export_dir, format=fmt)
    starts = feeds.pop("episode_start")
    names = [i["name"] for i in manifest["inputs"] if not i["name"].startswith("state_in.")]
    actions, logits, states = [], [], []
    state = None
    for t, start in enumerate(starts):
        if start:
            policy.reset()
            state = policy.initial_state(1)
        obs = _assemble(names, {k: feeds[k][t] for k in names})
        actions.append(np.asarray(policy.compute_action(obs)))
        out = policy.forward([obs], state=state)
        state = {e["key"]: out[e["output"]] for e in manifest["recurrent"]["state"]}
        logits.append(out["action_dist_inputs"][0])
        states.append(np.concatenate([v.reshape(-1) for v in state.values()]))
    return {
        "action": np.stack(actions),
        "action_dist_inputs": np.stack(logits),
        "state": np.stack(states),
    }


def _pick(action, name: str):
    node = action
    for part in name.split(".")[1:]:
        node = node[int(part)] if isinstance(node, (tuple, list)) else node[part]
    return node


# The outputs a discrete action is the argmax of.
SCORES = ("action_dist_inputs", "q_values")


def _replay_outputs(export_dir: Path, fmt: str, manifest: dict, feeds: dict) -> dict:
    """compute_action through whole episodes, state carried, reset where one starts.

    Beside the actions, the scores the action is the argmax of (logits or Q-values)
    where the format outputs them, from ``forward`` on the same step and state, so
    that an exact tie can be told from a wrong action.
    """
    from exportable_trainers import load_policy

    policy = load_policy(export_dir, format=fmt)
    starts = feeds.pop("episode_start")
    names = [i["name"] for i in manifest["inputs"] if not i["name"].startswith("state_in.")]
    leaves = [leaf["name"] for leaf in manifest["action"]["leaves"]]
    out: dict = {name: [] for name in leaves}
    scores: list = []
    state: dict = {}
    for t, start in enumerate(starts):
        if start:
            policy.reset()
            state = policy.initial_state(1)
        step = policy.forward(
            _assemble(names, {k: feeds[k][t : t + 1] for k in names}), state=state or None
        )
        state = {k: step[f"state_out.{k}"] for k in state}
        score = next((step[k] for k in SCORES if k in step), None)
        if score is not None:
            scores.append(score[0])
        action = policy.compute_action(_assemble(names, {k: feeds[k][t] for k in names}))
        for name in leaves:
            out[name].append(np.asarray(_pick(action, name)))
    result = {name: np.stack(values) for name, values in out.items()}
    if len(scores) == len(starts):
        result["scores"] = np.stack(scores)
    return result


def handle(request: dict) -> dict:
    export_dir = Path(request["export_dir"])
    with np.load(request["inputs"]) as data:
        feeds = {k: data[k] for k in data.files}
    if request["mode"] == "file":
        np.savez(request["outputs"], **_file_outputs(export_dir, feeds))
        return {"ok": True, "ray_imported": "ray" in sys.modules}
    manifest = _manifest(export_dir)
    if request["mode"] in ("reference", "openvino"):
        outputs = _other_runtime(export_dir, manifest, feeds, request["format"], request["mode"])
    elif request["mode"] == "raw":
        outputs = RAW[request["format"]](export_dir, manifest, feeds)
    elif request["mode"] == "episode":
        outputs = _episode_outputs(export_dir, request["format"], manifest, feeds)
    elif request["mode"] == "replay":
        outputs = _replay_outputs(export_dir, request["format"], manifest, feeds)
    elif request["mode"] == "compute_action":
        outputs = _compute_action_outputs(export_dir, request["format"], manifest, feeds)
    else:
        outputs = _load_policy_outputs(export_dir, request["format"], manifest, feeds)
    np.savez(request["outputs"], **outputs)
    return {"ok": True, "ray_imported": "ray" in sys.modules}


def main() -> None:
    for line in sys.stdin:
        try:
            reply = handle(json.loads(line))
        except Exception as e:  # report to the test, keep serving
            reply = {
                "ok": False,
                "error": f"{type(e).__name__}: {e}",
                "trace": traceback.format_exc(),
            }
        sys.stdout.write(json.dumps(reply) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
