"""SavedModel: the whole policy as a TensorFlow 'serving_default' signature."""

from __future__ import annotations

from .cards import names, section
from .spec import TF, Format, Runtime


def card(record: dict, manifest: dict) -> list[str]:
    """The README section: the signature, its keyword inputs and a tf.saved_model snippet."""
    keys = record.get("input_keys", {})
    args = ", ".join(f"{keys.get(i['name'], i['name'])}=..." for i in manifest["inputs"])
    path = record["path"]
    code = [
        "import tensorflow as tf",
        f'serving = tf.saved_model.load("{path}").signatures["serving_default"]',
        f"outputs = serving({args})",
        f'# Keras 3: keras.layers.TFSMLayer("{path}", call_endpoint="serving_default")',
    ]
    return section(
        "SavedModel (TensorFlow, or Keras 3 via TFSMLayer)",
        f"Signature `serving_default`; outputs {names(manifest['outputs'])}.",
        code,
    )


# fmt: off
FORMAT = Format(
    name="savedmodel", path="savedmodel", frameworks=TF, native_for=TF, default_for=TF,
    description="TensorFlow SavedModel with a 'serving_default' signature",
    runtime=Runtime("tensorflow", "tf", "exportable_trainers.load.runtimes.savedmodel:load"),
    card=card, preference=2,
)
# fmt: on
