"""P2, ONNX Runtime side (a process without Ray, as deployed): per-call times.

python bench/infer_child.py NEW_CHECKPOINT OLD_CHECKPOINT
"""

from __future__ import annotations

import json
import sys

import onnxruntime as ort

from bench.common import median_time
from bench.p2_inference import batch_of
from exportable_trainers import load_policy

new_ckpt, old_ckpt = sys.argv[1], sys.argv[2]
ours_new = load_policy(new_ckpt, format="onnx")
ours_old = load_policy(old_ckpt, format="onnx")
session = ort.InferenceSession(
    f"{new_ckpt}/export/default_policy/model.onnx", providers=["CPUExecutionProvider"]
)
out = {}
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
    out[batch] = {
        "ours": median_time(ours, number, repeat),
        "ours_old": median_time(ours_old_fn, number, repeat),
        "bare": median_time(lambda x=x: session.run(None, {"obs": x}), number, repeat),
    }
print(json.dumps(out))
