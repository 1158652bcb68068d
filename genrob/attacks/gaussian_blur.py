"""Gaussian blur (foolbox): blur with a growing standard deviation until the label flips.

A minimisation attack over the blur width, measured in l_inf like the paper's.
"""

from __future__ import annotations

import warnings
from typing import Any

import torch
from torch import nn

from genrob.attacks._libraries import foolbox
from genrob.attacks.base import Attack, foolbox_model
from genrob.profiles import Profile


class GaussianBlur(Attack):
    name = "gaussian_blur_linf"
    paper_name = "Gaussian Blur"
    norm = "linf"
    minimisation = True
    source = "foolbox"
    gradient_based = False

    @classmethod
    def default_settings(cls, profile: Profile | None = None) -> dict[str, Any]:
        return {"steps": 1000}

    def generate(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor, *,
                 eps: float | None, device: torch.device) -> torch.Tensor:
        fb = foolbox()
        attack = fb.attacks.GaussianBlurAttack(distance=fb.distances.linf, steps=self.settings["steps"])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # foolbox calls scipy.ndimage.filters
            return attack.run(foolbox_model(model, device), x, fb.criteria.Misclassification(y))
