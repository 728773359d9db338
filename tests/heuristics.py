"""A heuristic opponent written as a TorchRLModule (importable, so checkpoints can pickle it)."""

from __future__ import annotations

from ray.rllib.core.columns import Columns
from ray.rllib.core.rl_module.torch import TorchRLModule


class PushTowardsThePole(TorchRLModule):
    """Push the cart the way the pole leans: torch ops, no weights, deterministic."""

    def _forward(self, batch, **kwargs):
        return {Columns.ACTIONS: (batch[Columns.OBS][:, 2] > 0).long()}

    def _forward_train(self, batch, **kwargs):
        raise NotImplementedError("a heuristic is not trained")
