"""Carlini-Wagner l_2 (Carlini & Wagner 2017): a minimisation attack.

It minimises ||delta||_2^2 + c * max(Z_y - max_{j != y} Z_j, -kappa) over a
tanh-parametrised image, and searches c per image by bisection, keeping the
smallest adversarial it finds. Built on torchattacks' CW with two repairs:

* the margin: torchattacks takes max over ``(1 - onehot) * logits``, which is 0,
  not the best other logit, when logits are negative; log p(x, y) logits always
  are, so the attack would see no margin at all (torchattacks issue #184);
* the start: ``atanh`` of a pixel at exactly 0 or 1 is infinite, and such a pixel
  (most of an MNIST image) could never move; we shrink by 1e-6 first, as
  Carlini's reference code does.
"""

from __future__ import annotations

import functools
import math
from typing import Any

import torch
from torch import nn

from genrob.attacks._libraries import torchattacks
from genrob.attacks.base import Attack, torchattacks_instance
from genrob.contract import logit_margin
from genrob.profiles import Profile


@functools.cache
def _margin_cw_class() -> type:
    class MarginCW(torchattacks().CW):
        """torchattacks' CW with a correct margin and a per-image constant ``scale``."""

        scale: torch.Tensor

        def f(self, outputs: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
            return self.scale * torch.clamp(logit_margin(outputs, labels), min=-self.kappa)

        def inverse_tanh_space(self, x: torch.Tensor) -> torch.Tensor:
            return self.atanh(torch.clamp(x * 2 - 1, min=-1, max=1) * (1 - 1e-6))

    return MarginCW


class CarliniWagnerL2(Attack):
    name = "cw_l2"
    paper_name = "C&W"
    norm = "l2"
    minimisation = True
    source = "torchattacks"
    gradient_based = True
    cost_settings = ("steps", "binary_search_steps")

    @classmethod
    def default_settings(cls, profile: Profile | None = None) -> dict[str, Any]:
        effort = profile.attack_effort if profile is not None else 1.0
        return {"steps": max(10, round(100 * effort)), "binary_search_steps": 5,
                "initial_c": 1.0, "kappa": 0.0, "lr": 0.05}

    def generate(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor, *,
                 eps: float | None, device: torch.device) -> torch.Tensor:
        s = self.settings
        attack = torchattacks_instance(_margin_cw_class(), model, device, c=1.0, kappa=s["kappa"],
                                       steps=s["steps"], lr=s["lr"])
        c = torch.full((len(x),), s["initial_c"], device=device)
        lower, upper = torch.zeros_like(c), torch.full_like(c, math.inf)
        best, best_norm = x.clone(), torch.full_like(c, math.inf)
        for _ in range(s["binary_search_steps"]):
            attack.scale = c
            candidate = attack(x, y)
            with torch.no_grad():
                success = model(candidate).argmax(1) != y
            norm = (candidate - x).flatten(1).norm(dim=1)
            better = success & (norm < best_norm)
            best[better], best_norm[better] = candidate[better], norm[better]
            upper = torch.where(success, torch.minimum(upper, c), upper)
            lower = torch.where(success, lower, torch.maximum(lower, c))
            c = torch.where(torch.isinf(upper), c * 10, (lower + upper) / 2)
        return best
