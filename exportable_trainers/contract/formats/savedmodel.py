"""SavedModel: the whole policy as a TensorFlow 'serving_default' signature."""

from __future__ import annotations

from .examples import names
from .spec import Format, Runtime


def card(record: dict, manifest: dict) -> list[str]:
    """The README section: the signature, its keyword inputs and a tf.saved_model snippet."""
    keys = record.get("input_keys", {})
    args = ", ".join(f"{keys.get(i['name'], i['name'])}=..." for i in manifest["inputs"])
    path = record["path"]
    return [
        "## SavedModel (TensorFlow, or Keras 3 via TFSMLayer)",
        "",
        f"Signature `serving_default`; outputs {names(manifest['outputs'])}.",
        "",
        "```python",
        "import tensorflow as tf",
        f'serving = tf.saved_model.load("{path}").signatures["serving_default"]',
        f"outputs = serving({args})",
        f'# Keras 3: keras.layers.TFSMLayer("{path}", call_endpoint="serving_default")',
        "```",
    ]


FORMAT = Format(
    name="savedmodel",
    path="savedmodel",
    description="TensorFlow SavedModel with a 'serving_default' signature",
    written_by={"tf": "write_savedmodel", "tf2": "write_savedmodel"},
    whole_policy=True,
    runtime=Runtime("tensorflow", "tf", "exportable_trainers.load.runtimes.savedmodel:load"),
    verify="outputs",
    card=card,
    native_for=frozenset({"tf", "tf2"}),
    default_for=frozenset({"tf", "tf2"}),
    preference=2,
)
