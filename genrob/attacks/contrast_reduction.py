"""Contrast reduction: blend the image towards mid-grey until the label flips.

Minimisation attacks measured in l_inf. The linear search tries 1000 blend
factors in order; the binary search bisects the factor 15 times (foolbox's). A
blend of t moves each pixel by t * |0.5 - x_i|, so its l_inf size is at most t / 2.

The linear search is foolbox 3.3.4's algorithm with one change its own code
marks as a to-do: an image leaves the batch once its label flipped, so a step
costs a forward pass of the images still standing, not of the whole batch. Every
image sees the same blend factors in the same order and keeps its first flip,
so the adversarials are the same (a test compares with foolbox).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from genrob.attacks._libraries import foolbox
from genrob.attacks.base import Attack, foolbox_model, misclassified
from genrob.profiles import Profile

#: The grey level contrast is reduced towards (foolbox's default, the middle of [0, 1]).
TARGET = 0.5


class _ContrastReduction(Attack):
    norm = "linf"
    minimisation = True
    gradient_based = False


class LinearSearchContrastReduction(_ContrastReduction):
    name = "linear_search_contrast_reduction_linf"
    paper_name = "Linear Search Contrast Reduction"
    source = "foolbox 3.3.4's algorithm, decided images dropped"

    @classmethod
    def default_settings(cls, profile: Profile | None = None) -> dict[str, Any]:
        return {"steps": 1000}

    @torch.no_grad()
    def generate(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor, *,
                 eps: float | None, device: torch.device) -> torch.Tensor:
        direction = TARGET - x
        best = torch.ones(len(x), device=x.device)  # blend factor of the first flip; 1 where none
        standing = torch.arange(len(x), device=x.device)
        blend, step = 0.0, 1.0 / self.settings["steps"]
        for _ in range(self.settings["steps"]):
            flipped = misclassified(model, x[standing] + blend * direction[standing], y[standing])
            best[standing[flipped]] = blend
            standing = standing[~flipped]
            if len(standing) == 0:
                break
            blend += step  # accumulated as foolbox does, so the factors match to the last bit
        return x + best.view(-1, *[1] * (x.dim() - 1)) * direction


class BinarySearchContrastReduction(_ContrastReduction):
    name = "binary_search_contrast_reduction_linf"
    paper_name = "Binary Search Contrast Reduction"
    source = "foolbox"

    @classmethod
    def default_settings(cls, profile: Profile | None = None) -> dict[str, Any]:
        return {"binary_search_steps": 15}

    def generate(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor, *,
                 eps: float | None, device: torch.device) -> torch.Tensor:
        fb = foolbox()
        attack = fb.attacks.BinarySearchContrastReductionAttack(distance=fb.distances.linf, **self.settings)
        return attack.run(foolbox_model(model, device), x, fb.criteria.Misclassification(y))
