"""A heuristic opponent written as a TorchRLModule (importable, so checkpoints can pickle it)."""

from __future__ import annotations

import torch
from ray.rllib.core.columns import Columns
from ray.rllib.core.rl_module.torch import TorchRLModule


class PushTowardsThePole(TorchRLModule):
    """Push the cart the way the pole leans: torch ops, a fixed threshold, deterministic."""

    def setup(self):
        # RLlib's torch learner builds an Adam optimizer for every torch module it
        # holds, trained or not, and Adam refuses an empty parameter list: the
        # threshold is a frozen parameter so the learner can be built at all.
        self.threshold = torch.nn.Parameter(torch.zeros(()), requires_grad=False)

    def _forward(self, batch, **kwargs):
        return {Columns.ACTIONS: (batch[Columns.OBS][:, 2] > self.threshold).long()}

    def _forward_train(self, batch, **kwargs):
        raise NotImplementedError("a heuristic is not trained")
