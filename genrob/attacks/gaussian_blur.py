"""Gaussian blur: blur with a growing standard deviation until the label flips.

A minimisation attack over the blur width, measured in l_inf like the paper's.
It is foolbox 3.3.4's algorithm (1000 widths up to the image size, result
clipped to [0, 1]) with one change its own code marks as a to-do: an image
leaves the batch once its label flipped, so each step blurs and classifies only
the images still standing. Each image is blurred on its own, with the same
widths in the same order, so the adversarials are the same (a test compares
with foolbox).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from scipy.ndimage import gaussian_filter
from torch import nn

from genrob.attacks.base import Attack, misclassified
from genrob.profiles import Profile


class GaussianBlur(Attack):
    name = "gaussian_blur_linf"
    paper_name = "Gaussian Blur"
    norm = "linf"
    minimisation = True
    source = "foolbox 3.3.4's algorithm, decided images dropped"
    gradient_based = False

    @classmethod
    def default_settings(cls, profile: Profile | None = None) -> dict[str, Any]:
        return {"steps": 1000}

    @torch.no_grad()
    def generate(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor, *,
                 eps: float | None, device: torch.device) -> torch.Tensor:
        images = x.cpu().numpy()
        max_sigma = max(x.shape[-2:])
        result = x.clone()
        standing = torch.nonzero(~misclassified(model, x, y)).flatten()
        width, step = 0.0, 1.0 / self.settings["steps"]
        for _ in range(self.settings["steps"]):
            if len(standing) == 0:
                break
            width += step  # accumulated as foolbox does, so the widths match to the last bit
            sigma = width * max_sigma
            blurred = np.clip(gaussian_filter(images[standing.cpu().numpy()], [0, 0, sigma, sigma]), 0.0, 1.0)
            blurred = torch.from_numpy(blurred).to(x.device)
            flipped = misclassified(model, blurred, y[standing])
            result[standing[flipped]] = blurred[flipped]
            standing = standing[~flipped]
        return result
