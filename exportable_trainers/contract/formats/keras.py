"""keras: the TF policy network as a Keras 3 ``.keras`` file."""

from __future__ import annotations

from .examples import network_card
from .spec import Format, Runtime

FORMAT = Format(
    name="keras",
    path="model.keras",
    description="Keras 3 .keras file of the policy network (keras.saving.load_model)",
    written_by={"tf": "write_keras", "tf2": "write_keras"},
    whole_policy=False,
    runtime=Runtime("keras", "tf", "exportable_trainers.load.runtimes.keras_models:load_keras3"),
    verify="outputs",
    card=network_card("Keras 3 (.keras)", "import keras\nmodel = keras.saving.load_model"),
    preference=4,
)
