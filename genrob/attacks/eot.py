"""PGD l_inf with expectation over transformation (Athalye et al. 2018), for models that sample.

A model that draws noise in its forward pass (a sampled latent) is a random
classifier. Attacking one fixed draw of its noise says nothing about the others;
EOT averages the loss gradient over ``draws`` fresh samples at every step, and
the adversarials are then judged by the sampling model too (fresh noise, seeded).
For a deterministic model it is plain PGD at ``draws`` times the cost.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from genrob.attacks._libraries import torchattacks
from genrob.attacks.base import SamplingModelAttack, torchattacks_instance
from genrob.profiles import Profile


class EOTPGDLinf(SamplingModelAttack):
    name = "eot_pgd_linf"
    paper_name = "EOT-PGD"
    norm = "linf"
    source = "torchattacks"
    gradient_based = True
    cost_settings = ("steps", "draws")

    @classmethod
    def default_settings(cls, profile: Profile | None = None) -> dict[str, Any]:
        effort = profile.attack_effort if profile is not None else 1.0
        return {"steps": 40, "relative_step": 2.5, "random_start": True, "draws": max(2, round(5 * effort))}

    def generate(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor, *,
                 eps: float | None, device: torch.device) -> torch.Tensor:
        s = self.settings
        attack = torchattacks_instance(torchattacks().EOTPGD, model, device, eps=eps,
                                       alpha=s["relative_step"] * eps / s["steps"], steps=s["steps"],
                                       eot_iter=s["draws"], random_start=s["random_start"])
        return attack(x, y)
