"""keras: the TF policy network as a Keras 3 ``.keras`` file; h5's network, saved by Keras 3."""

from __future__ import annotations

from .cards import network_card
from .h5 import FORMAT as H5
from .spec import Runtime

# fmt: off
FORMAT = H5.variant(
    name="keras", path="model.keras", preference=4,
    description="Keras 3 .keras file of the policy network (keras.saving.load_model)",
    runtime=Runtime("keras", "tf", "exportable_trainers.load.runtimes.keras_models:load_keras3"),
    card=network_card("Keras 3 (.keras)", "keras", "keras.saving.load_model"),
)
# fmt: on
