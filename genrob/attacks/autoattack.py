"""AutoAttack (Croce and Hein 2020) from torchattacks: the reference evaluation of robustness.

The standard version runs APGD on cross-entropy, targeted APGD on the DLR margin
(nine target classes), targeted FAB and the score-based Square attack (5000
queries), each on the images the previous ones left standing. It is for the
model as evaluated, with its fixed noise. The randomised version, for a model
used with fresh noise on every call, runs APGD on cross-entropy and on DLR with
expectation over 20 draws per step, on the sampling model (like
:mod:`genrob.attacks.eot`); the adversarials are judged by the sampling model too.
"""

from __future__ import annotations

from typing import Any, ClassVar, Sequence

import torch
from torch import nn

from genrob.attacks._libraries import torchattacks
from genrob.attacks.base import Attack, AttackOutcome, torchattacks_instance
from genrob.models.base import N_CLASSES, stochastic

TORCHATTACKS_NORM = {"linf": "Linf", "l2": "L2"}


def _on_device(attack, device: torch.device):
    """torchattacks sets the device of AutoAttack's inner attacks from the model's parameters only."""
    for inner in getattr(attack._autoattack, "attacks", []):
        inner.set_device(device)
    return attack


class _AutoAttack(Attack):
    source = "torchattacks"
    gradient_based = True
    version: ClassVar[str]

    def generate(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor, *,
                 eps: float | None, device: torch.device) -> torch.Tensor:
        attack = torchattacks_instance(torchattacks().AutoAttack, model, device, norm=TORCHATTACKS_NORM[self.norm],
                                       eps=eps, version=self.version, n_classes=N_CLASSES, seed=0)
        return _on_device(attack, device)(x, y).detach()


class AutoAttackLinf(_AutoAttack):
    name = "autoattack_linf"
    paper_name = "AutoAttack"
    norm = "linf"
    version = "standard"


class AutoAttackL2(_AutoAttack):
    name = "autoattack_l2"
    paper_name = "AutoAttack"
    norm = "l2"
    version = "standard"


class _RandomisedAutoAttack(_AutoAttack):
    paper_name = "AutoAttack (rand)"
    version = "rand"

    def run(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor, eps_grid: Sequence[float], *,
            device: torch.device, seed: int, batch_size: int = 500, bar=None) -> AttackOutcome:
        torch.manual_seed(seed)  # the clean predictions sample too
        with stochastic(model):
            return super().run(model, x, y, eps_grid, device=device, seed=seed, batch_size=batch_size, bar=bar)


class RandomisedAutoAttackLinf(_RandomisedAutoAttack):
    name = "autoattack_rand_linf"
    norm = "linf"


class RandomisedAutoAttackL2(_RandomisedAutoAttack):
    name = "autoattack_rand_l2"
    norm = "l2"


class SquareLinf(Attack):
    """Square attack (Andriushchenko et al. 2020): random square-shaped updates kept when the margin
    drops; it uses scores only, so a masked gradient does not stop it."""

    name = "square_linf"
    paper_name = "Square"
    norm = "linf"
    source = "torchattacks"
    gradient_based = False

    @classmethod
    def default_settings(cls, profile=None) -> dict[str, Any]:
        effort = profile.attack_effort if profile is not None else 1.0
        return {"queries": max(100, round(5000 * effort)), "p_init": 0.8}

    @torch.no_grad()
    def generate(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor, *,
                 eps: float | None, device: torch.device) -> torch.Tensor:
        s = self.settings
        attack = torchattacks_instance(torchattacks().Square, model, device, norm="Linf", eps=eps,
                                       n_queries=s["queries"], p_init=s["p_init"], n_restarts=1, seed=0)
        return attack(x, y)
