"""P3: a fresh process to its first action: load_policy vs Algorithm.from_checkpoint vs a bare script."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from .common import ROOT, Row

OBS = [0.02, -0.3, 0.01, 0.4]

OURS = """
from exportable_trainers import load_policy
load_policy({ckpt!r}).compute_action({obs!r})
import os; os._exit(0)
"""
BARE = """
import numpy as np, onnxruntime as ort
session = ort.InferenceSession({onnx!r}, providers=["CPUExecutionProvider"])
session.run(None, {{"obs": np.array([{obs!r}], np.float32)}})[0]
import os; os._exit(0)
"""
RLLIB = """
import torch
from ray.rllib.algorithms.algorithm import Algorithm
algo = Algorithm.from_checkpoint({ckpt!r})
module = algo.get_module()
out = module.forward_inference({{"obs": torch.tensor([{obs!r}])}})
module.get_inference_action_dist_cls().from_logits(out["action_dist_inputs"]).to_deterministic().sample()
import os; os._exit(0)
"""


def _seconds(code: str) -> float:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-c", code], check=True, env=env, capture_output=True, timeout=600
    )
    return time.perf_counter() - start


def run(checkpoint: Path, repeats: int = 5, rllib_repeats: int = 2) -> list[Row]:
    onnx = str(checkpoint / "export/default_policy/model.onnx")
    ours, bare, rllib = [], [], []
    for _ in range(repeats):  # interleaved, so drift hits both alike
        ours.append(_seconds(OURS.format(ckpt=str(checkpoint), obs=OBS)))
        bare.append(_seconds(BARE.format(onnx=onnx, obs=OBS)))
    for _ in range(rllib_repeats):
        rllib.append(_seconds(RLLIB.format(ckpt=str(checkpoint), obs=OBS)))
    t_ours, t_bare, t_rllib = (statistics.median(v) for v in (ours, bare, rllib))
    return [
        Row(
            "P3",
            "cold start to first action: load_policy vs Algorithm.from_checkpoint",
            t_ours,
            t_rllib,
            "s",
            t_rllib / t_ours,
            ">= 30x faster",
            t_rllib / t_ours >= 30,
            "fresh Python process each; RLlib restores the default PPO (2 env runners)",
            {"ours": ours, "rllib": rllib},
        ),
        Row(
            "P3",
            "cold start to first action: load_policy vs a bare numpy + onnxruntime script",
            t_ours,
            t_bare,
            "s",
            t_ours / t_bare,
            "<= 1.2x",
            t_ours / t_bare <= 1.2,
            "includes interpreter start; load_policy also imports gymnasium (for the spaces) "
            "and checks the file's sha256 against the manifest",
            {"ours": ours, "bare": bare},
        ),
    ]
