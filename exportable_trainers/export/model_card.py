"""The README.md written into every export directory: how to load each format."""

from __future__ import annotations

from typing import Any

README_NAME = "README.md"


def _example_feeds(manifest: dict) -> str:
    parts = []
    for spec in manifest["inputs"]:
        shape = tuple(1 if d is None else d for d in spec["shape"])
        parts.append(f'"{spec["name"]}": np.zeros({shape}, np.{spec["dtype"]})')
    return "{" + ", ".join(parts) + "}"


def _section(fmt: str, record: dict, manifest: dict) -> list[str]:
    path = record["path"]
    inputs = ", ".join(f"`{i['name']}`" for i in manifest["inputs"])
    outputs = ", ".join(f"`{o['name']}`" for o in manifest["outputs"])
    if fmt == "onnx":
        return [
            "## ONNX (onnxruntime)",
            "",
            f"Inputs {inputs}; outputs {outputs}; opset {record.get('opset')}.",
            "",
            "```python",
            "import numpy as np, onnxruntime as ort",
            f'session = ort.InferenceSession("{path}", providers=["CPUExecutionProvider"])',
            f"outputs = session.run(None, {_example_feeds(manifest)})",
            "```",
        ]
    if fmt == "torchscript":
        names = ", ".join(i["name"].replace(".", "_") for i in manifest["inputs"])
        return [
            "## TorchScript (torch)",
            "",
            f"Positional inputs {inputs}; returns the tuple {outputs}.",
            "",
            "```python",
            "import torch",
            f'module = torch.jit.load("{path}", map_location="cpu")',
            f"outputs = module({names})  # tensors with the batch axis first",
            "```",
        ]
    if fmt == "safetensors":
        return [
            "## safetensors (weights only)",
            "",
            "The network's `state_dict`; load it into the same network class "
            f"(`{manifest.get('details', {}).get('module_class') or manifest.get('details', {}).get('model_class')}`).",
            "",
            "```python",
            "from safetensors.torch import load_file",
            f'state_dict = load_file("{path}")',
            "```",
        ]
    if fmt == "savedmodel":
        keys = record.get("input_keys", {})
        args = ", ".join(f"{keys.get(i['name'], i['name'])}=..." for i in manifest["inputs"])
        return [
            "## SavedModel (TensorFlow, or Keras 3 via TFSMLayer)",
            "",
            f"Signature `serving_default`; outputs {outputs}.",
            "",
            "```python",
            "import tensorflow as tf",
            f'serving = tf.saved_model.load("{path}").signatures["serving_default"]',
            f"outputs = serving({args})",
            "# Keras 3: keras.layers.TFSMLayer(" + f'"{path}", call_endpoint="serving_default")',
            "```",
        ]
    if fmt in ("h5", "keras"):
        network = manifest.get("network") or {}
        names = ", ".join(f"`{o['name']}`" for o in network.get("outputs", []))
        loader = (
            "import tf_keras\nmodel = tf_keras.models.load_model"
            if fmt == "h5"
            else "import keras\nmodel = keras.saving.load_model"
        )
        return [
            f"## {'Keras 2 HDF5 (tf_keras)' if fmt == 'h5' else 'Keras 3 (.keras)'}",
            "",
            "The network only: its input is the preprocessed observation "
            f"(see `preprocessing` in manifest.json); its outputs are {names}. "
            "`load_policy` adds the preprocessing and the action.",
            "",
            "```python",
            f'{loader}("{path}", compile=False)',
            "```",
        ]
    return []


def render_readme(manifest: dict[str, Any]) -> str:
    """Markdown describing the export and how to load each written format."""
    lines = [
        f"# Policy `{manifest['policy_id']}` at training iteration {manifest.get('training_iteration')}",
        "",
        f"Exported by exportable_trainers {manifest['producer']['version']} from "
        f"{manifest.get('algorithm')} ({manifest.get('framework')}, {manifest.get('api_stack')} API stack), "
        f"after {manifest.get('env_steps_sampled')} env steps.",
        "",
        "## Any format, without Ray",
        "",
        "```python",
        "from exportable_trainers import load_policy",
        'policy = load_policy(".")  # this directory',
        "action = policy.compute_action(observation)  # the action RLlib takes with explore=False",
        "```",
        "",
    ]
    for fmt, record in manifest["files"].items():
        lines += [*_section(fmt, record, manifest), ""]
    if manifest.get("recurrent"):
        lines += [
            "Recurrent policy: feed the `state_in.*` inputs (initial values in manifest.json) "
            "and pass the `state_out.*` outputs back at the next step.",
            "",
        ]
    return "\n".join(lines)
