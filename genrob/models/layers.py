"""Pieces several models share."""

from __future__ import annotations

import torch
from torch import nn

THRESHOLD = 0.5


def binarize(x: torch.Tensor, threshold: float = THRESHOLD) -> torch.Tensor:
    """Threshold at ``threshold`` with a straight-through gradient.

    The forward value is 0 or 1; the backward pass treats the step as the
    identity, so gradient attacks see a useful gradient instead of zero (the BPDA
    of Athalye et al.).
    """
    hard = (x > threshold).to(x.dtype)
    return x + (hard - x).detach()


class ConvEncoder(nn.Module):
    """Li et al.'s MNIST encoder: three 5x5 stride-2 convolutions of 64 channels, then 500 units.

    "Same" padding takes 28 x 28 to 14, 7 and 4.
    """

    def __init__(self, channels: int = 64, hidden: int = 500) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, channels, 5, stride=2, padding=2), nn.ReLU(),
            nn.Conv2d(channels, channels, 5, stride=2, padding=2), nn.ReLU(),
            nn.Conv2d(channels, channels, 5, stride=2, padding=2), nn.ReLU(),
            nn.Flatten(), nn.Linear(channels * 4 * 4, hidden), nn.ReLU(),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x)
