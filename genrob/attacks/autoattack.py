"""AutoAttack (Croce and Hein 2020), assembled from torchattacks' parts with the original budgets.

The standard version runs APGD on cross-entropy, targeted APGD on the DLR margin
(nine target classes), targeted FAB and the score-based Square attack (5000
queries), each on the images the previous ones left standing. It is for the
model as evaluated, with its fixed noise. The randomised version, for a model
used with fresh noise on every call, runs APGD on cross-entropy and on DLR with
expectation over 20 draws per step, on the sampling model (like
:mod:`genrob.attacks.eot`); the adversarials are judged by the sampling model too.

torchattacks' own ``AutoAttack`` leaves its parts at their default of 10
iterations where the original runs 100 (its issue #196); we build the ensemble
with 100, scaled by the profile's adaptive effort (the smoke profile's runs are tiny).
"""

from __future__ import annotations

import contextlib
import functools
import io
from typing import Any, Iterator

import torch
from torch import nn

from genrob.attacks._libraries import torchattacks
from genrob.attacks.base import Attack, SamplingModelAttack, torchattacks_instance
from genrob.contract import N_CLASSES
from genrob.profiles import Profile

TORCHATTACKS_NORM = {"linf": "Linf", "l2": "L2"}


def _effort(profile: Profile | None) -> float:
    return profile.adaptive_effort if profile is not None else 1.0


@contextlib.contextmanager
def _default_dtype(dtype: torch.dtype) -> Iterator[None]:
    previous = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        yield
    finally:
        torch.set_default_dtype(previous)


@functools.cache
def _fab() -> type:
    """torchattacks' FAB for models of any precision. FAB computes in float32 only (it casts its
    images with ``.float()`` and makes tensors of the default dtype): a float64 model (the smoke
    profile) gets its own precision and FAB float32 logits back. For a float32 model nothing changes."""

    class FAB(torchattacks().FAB):
        def forward(self, images: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
            self.model_dtype = images.dtype
            with _default_dtype(torch.float32):
                return super().forward(images.float(), labels).to(images.dtype)

        def get_logits(self, inputs: torch.Tensor, *args: Any, **kwargs: Any) -> torch.Tensor:
            with _default_dtype(self.model_dtype):
                return super().get_logits(inputs.to(self.model_dtype), *args, **kwargs).float()

    return FAB


class _AutoAttack(Attack):
    paper_name = "AutoAttack"
    source = "torchattacks"
    gradient_based = True

    @classmethod
    def default_settings(cls, profile: Profile | None = None) -> dict[str, Any]:
        effort = _effort(profile)
        return {"steps": max(10, round(100 * effort)), "queries": max(100, round(5000 * effort)),
                "targets": max(1, round((N_CLASSES - 1) * effort))}

    def _parts(self, model: nn.Module, eps: float, device: torch.device) -> list:
        ta, s, norm = torchattacks(), self.settings, TORCHATTACKS_NORM[self.norm]
        common = {"norm": norm, "eps": eps, "seed": 0}
        parts = [
            torchattacks_instance(ta.APGD, model, device, loss="ce", steps=s["steps"], **common),
            torchattacks_instance(ta.APGDT, model, device, steps=s["steps"], n_classes=N_CLASSES, **common),
            torchattacks_instance(_fab(), model, device, steps=s["steps"], multi_targeted=True,
                                  n_classes=N_CLASSES, **common),
            torchattacks_instance(ta.Square, model, device, n_queries=s["queries"], **common),
        ]
        for targeted in parts[1:3]:  # the runner-up classes each targeted attack tries, best first
            targeted.n_target_classes = s["targets"]
        return parts

    def generate(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor, *,
                 eps: float | None, device: torch.device) -> torch.Tensor:
        parts = self._parts(model, eps, device)
        with contextlib.redirect_stdout(io.StringIO()):  # as in torchattacks_instance: a model of buffers alone
            ensemble = torchattacks().MultiAttack(parts)  # each part attacks what the previous ones left
        ensemble.set_device(device)
        return ensemble(x, y).detach()


class AutoAttackLinf(_AutoAttack):
    name = "autoattack_linf"
    norm = "linf"


class AutoAttackL2(_AutoAttack):
    name = "autoattack_l2"
    norm = "l2"


class _RandomisedAutoAttack(SamplingModelAttack, _AutoAttack):
    paper_name = "AutoAttack (rand)"

    @classmethod
    def default_settings(cls, profile: Profile | None = None) -> dict[str, Any]:
        effort = _effort(profile)
        return {"steps": max(10, round(100 * effort)), "draws": max(2, round(20 * effort))}

    def _parts(self, model: nn.Module, eps: float, device: torch.device) -> list:
        ta, s = torchattacks(), self.settings
        common = {"norm": TORCHATTACKS_NORM[self.norm], "eps": eps, "seed": 0, "steps": s["steps"],
                  "eot_iter": s["draws"]}
        return [torchattacks_instance(ta.APGD, model, device, loss="ce", **common),
                torchattacks_instance(ta.APGD, model, device, loss="dlr", **common)]


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
    def default_settings(cls, profile: Profile | None = None) -> dict[str, Any]:
        return {"queries": max(100, round(5000 * _effort(profile))), "p_init": 0.8}

    @torch.no_grad()
    def generate(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor, *,
                 eps: float | None, device: torch.device) -> torch.Tensor:
        s = self.settings
        attack = torchattacks_instance(torchattacks().Square, model, device, norm="Linf", eps=eps,
                                       n_queries=s["queries"], p_init=s["p_init"], n_restarts=1, seed=0)
        return attack(x, y)
