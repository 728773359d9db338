"""h5: the TF policy network as a Keras 2 HDF5 file (tf_keras)."""

from __future__ import annotations

from .cards import network_card
from .spec import TF, Format, Runtime

# fmt: off
FORMAT = Format(
    name="h5", path="model.h5", frameworks=TF, whole_policy=False, preference=3,
    description="Keras 2 HDF5 file of the policy network (tf_keras.models.load_model)",
    runtime=Runtime("tf_keras", "tf", "exportable_trainers.load.runtimes.keras_models:load_h5"),
    card=network_card("Keras 2 HDF5 (tf_keras)", "tf_keras", "tf_keras.models.load_model"),
)
# fmt: on
