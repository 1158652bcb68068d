"""Projected gradient descent (Madry et al. 2018), l_inf (40 steps) and l_2 (50 steps).

The paper gives the step counts but not the step size; we take Madry et al.'s
rule of thumb, step = 2.5 * eps / steps, which lets a walk cross the ball, and
start from a random point inside it.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from torch import nn

from genrob.attacks._libraries import torchattacks
from genrob.attacks.base import Attack, torchattacks_instance
from genrob.profiles import Profile


class _PGD(Attack):
    paper_name = "PGD"
    source = "torchattacks"
    gradient_based = True
    steps: ClassVar[int]
    torchattacks_class: ClassVar[str]

    @classmethod
    def default_settings(cls, profile: Profile | None = None) -> dict[str, Any]:
        return {"steps": cls.steps, "relative_step": 2.5, "random_start": True}

    def generate(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor, *,
                 eps: float | None, device: torch.device) -> torch.Tensor:
        s = self.settings
        attack = torchattacks_instance(getattr(torchattacks(), self.torchattacks_class), model, device,
                                       eps=eps, alpha=s["relative_step"] * eps / s["steps"],
                                       steps=s["steps"], random_start=s["random_start"])
        return attack(x, y)


class PGDLinf(_PGD):
    name = "pgd_linf"
    norm = "linf"
    steps = 40
    torchattacks_class = "PGD"


class PGDL2(_PGD):
    name = "pgd_l2"
    norm = "l2"
    steps = 50
    torchattacks_class = "PGDL2"
