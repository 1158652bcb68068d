"""Fast gradient method, l_2: one step of length eps along the normalised gradient.

torchattacks has no l_2 FGM; an l_2 PGD of one step of size eps, started at the
clean image, is exactly that step (followed by clipping to [0, 1]).
"""

from __future__ import annotations

import torch
from torch import nn

from genrob.attacks._libraries import torchattacks
from genrob.attacks.base import Attack, torchattacks_instance


class FGM(Attack):
    name = "fgm_l2"
    paper_name = "FGM"
    norm = "l2"
    source = "torchattacks"
    gradient_based = True

    def generate(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor, *,
                 eps: float | None, device: torch.device) -> torch.Tensor:
        attack = torchattacks_instance(torchattacks().PGDL2, model, device, eps=eps, alpha=eps,
                                       steps=1, random_start=False)
        return attack(x, y)
