"""Fast gradient sign method (Goodfellow et al. 2015): one signed gradient step of size eps."""

from __future__ import annotations

import torch
from torch import nn

from genrob.attacks._libraries import torchattacks
from genrob.attacks.base import Attack, torchattacks_instance


class FGSM(Attack):
    name = "fgsm_linf"
    paper_name = "FGSM"
    norm = "linf"
    source = "torchattacks"
    gradient_based = True

    def generate(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor, *,
                 eps: float | None, device: torch.device) -> torch.Tensor:
        return torchattacks_instance(torchattacks().FGSM, model, device, eps=eps)(x, y)
