"""h5: the TF policy network as a Keras 2 HDF5 file (tf_keras)."""

from __future__ import annotations

from .examples import network_card
from .spec import Format, Runtime

FORMAT = Format(
    name="h5",
    path="model.h5",
    description="Keras 2 HDF5 file of the policy network (tf_keras.models.load_model)",
    written_by={"tf": "write_h5", "tf2": "write_h5"},
    whole_policy=False,
    runtime=Runtime("tf_keras", "tf", "exportable_trainers.load.runtimes.keras_models:load_h5"),
    verify="outputs",
    card=network_card(
        "Keras 2 HDF5 (tf_keras)", "import tf_keras\nmodel = tf_keras.models.load_model"
    ),
    preference=3,
)
