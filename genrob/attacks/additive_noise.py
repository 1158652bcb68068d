"""Additive noise (foolbox): one random draw of fixed size, uniform l_inf or Gaussian l_2.

Gradient-free and not adaptive: a floor for what an attack should achieve.
The draw is seeded through torch's generator, which foolbox uses.
"""

from __future__ import annotations

from typing import ClassVar

import torch
from torch import nn

from genrob.attacks._libraries import foolbox
from genrob.attacks.base import Attack, foolbox_model


class _AdditiveNoise(Attack):
    source = "foolbox"
    gradient_based = False
    foolbox_class: ClassVar[str]

    def generate(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor, *,
                 eps: float | None, device: torch.device) -> torch.Tensor:
        attack = getattr(foolbox().attacks, self.foolbox_class)()
        noisy = attack.run(foolbox_model(model, device), x, y, epsilon=eps)
        if self.norm == "linf":
            # foolbox scales the noise by its largest value, not its largest absolute
            # value, so a draw can overshoot eps slightly; clip it back into the ball.
            noisy = x + (noisy - x).clamp(-eps, eps)
        return noisy


class AdditiveUniformNoiseLinf(_AdditiveNoise):
    name = "additive_uniform_noise_linf"
    paper_name = "Additive Uniform Noise"
    norm = "linf"
    foolbox_class = "LinfAdditiveUniformNoiseAttack"


class AdditiveGaussianNoiseL2(_AdditiveNoise):
    name = "additive_gaussian_noise_l2"
    paper_name = "Additive Gaussian Noise"
    norm = "l2"
    foolbox_class = "L2AdditiveGaussianNoiseAttack"
