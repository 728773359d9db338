"""keras: the TF policy network as a Keras 3 ``.keras`` file."""

from __future__ import annotations

from .examples import network_card
from .spec import Format, Runtime


def card(record: dict, manifest: dict) -> list[str]:
    """The README section: a network-only file opened by Keras 3."""
    loader = "import keras\nmodel = keras.saving.load_model"
    return network_card("Keras 3 (.keras)", loader, record["path"], manifest)


FORMAT = Format(
    name="keras",
    path="model.keras",
    description="Keras 3 .keras file of the policy network (keras.saving.load_model)",
    written_by={"tf": "write_keras", "tf2": "write_keras"},
    whole_policy=False,
    runtime=Runtime("keras", "tf", "exportable_trainers.load.runtimes.keras_models:load_keras3"),
    verify="outputs",
    card=card,
    preference=4,
)
