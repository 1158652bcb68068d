"""Contrast reduction (foolbox): blend the image towards mid-grey until the label flips.

Minimisation attacks measured in l_inf. The linear search tries 1000 blend
factors in order; the binary search bisects the factor 15 times. A blend of t
moves each pixel by t * |0.5 - x_i|, so its l_inf size is at most t / 2.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from torch import nn

from genrob.attacks._libraries import foolbox
from genrob.attacks.base import Attack, foolbox_model
from genrob.profiles import Profile


class _ContrastReduction(Attack):
    norm = "linf"
    minimisation = True
    source = "foolbox"
    gradient_based = False
    foolbox_class: ClassVar[str]

    def generate(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor, *,
                 eps: float | None, device: torch.device) -> torch.Tensor:
        fb = foolbox()
        attack = getattr(fb.attacks, self.foolbox_class)(distance=fb.distances.linf, **self.settings)
        return attack.run(foolbox_model(model, device), x, fb.criteria.Misclassification(y))


class LinearSearchContrastReduction(_ContrastReduction):
    name = "linear_search_contrast_reduction_linf"
    paper_name = "Linear Search Contrast Reduction"
    foolbox_class = "LinearSearchContrastReductionAttack"

    @classmethod
    def default_settings(cls, profile: Profile | None = None) -> dict[str, Any]:
        return {"steps": 1000}


class BinarySearchContrastReduction(_ContrastReduction):
    name = "binary_search_contrast_reduction_linf"
    paper_name = "Binary Search Contrast Reduction"
    foolbox_class = "BinarySearchContrastReductionAttack"

    @classmethod
    def default_settings(cls, profile: Profile | None = None) -> dict[str, Any]:
        return {"binary_search_steps": 15}
