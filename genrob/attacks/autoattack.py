"""AutoAttack (Croce and Hein 2020), assembled from torchattacks' parts with the original budgets.

The standard version runs APGD on cross-entropy, targeted APGD on the DLR margin
(nine target classes), targeted FAB and the score-based Square attack (5000
queries), each on the images the previous ones left standing. It is for the
model as evaluated, with its fixed noise. Each part is also registered alone
(``apgd_ce_linf``, ``apgd_t_linf``, ``fab_t_linf``, ``square_linf`` and their l_2
versions), so that the adaptive evaluation's cascade can run them in AutoAttack's
order among its other attacks and record which part broke an image. The randomised version, for a model
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


def _autoattack_settings(profile: Profile | None) -> dict[str, Any]:
    """AutoAttack's budgets (Croce and Hein's: 100 iterations, 9 target classes, 5000 queries), scaled by
    the profile's adaptive effort; every part of the ensemble takes its own from here."""
    effort = _effort(profile)
    return {"steps": max(10, round(100 * effort)), "queries": max(100, round(5000 * effort)),
            "targets": max(1, round((N_CLASSES - 1) * effort))}


class _AutoAttackPart(Attack):
    """One attack of AutoAttack's standard ensemble, run alone: the adaptive evaluation's cascade
    (:mod:`genrob.adaptive`) runs the four in AutoAttack's order, each on the images no attack before
    it broke, which is what AutoAttack does itself (torchattacks' ``MultiAttack``)."""

    source = "torchattacks"
    gradient_based = True

    @classmethod
    def default_settings(cls, profile: Profile | None = None) -> dict[str, Any]:
        return _autoattack_settings(profile)

    def _instance(self, model: nn.Module, eps: float, device: torch.device):
        raise NotImplementedError

    def generate(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor, *,
                 eps: float | None, device: torch.device) -> torch.Tensor:
        return self._instance(model, eps, device)(x, y).detach()


class _APGDCrossEntropy(_AutoAttackPart):
    paper_name = "APGD-CE"
    cost_settings = ("steps",)

    def _instance(self, model: nn.Module, eps: float, device: torch.device):
        return torchattacks_instance(torchattacks().APGD, model, device, norm=TORCHATTACKS_NORM[self.norm], eps=eps,
                                     seed=0, loss="ce", steps=self.settings["steps"])


class _APGDTargeted(_AutoAttackPart):
    paper_name = "APGD-T"
    cost_settings = ("steps", "targets")

    def _instance(self, model: nn.Module, eps: float, device: torch.device):
        attack = torchattacks_instance(torchattacks().APGDT, model, device, norm=TORCHATTACKS_NORM[self.norm],
                                       eps=eps, seed=0, steps=self.settings["steps"], n_classes=N_CLASSES)
        attack.n_target_classes = self.settings["targets"]  # the runner-up classes it tries, best first
        return attack


class _FABTargeted(_AutoAttackPart):
    paper_name = "FAB-T"
    cost_settings = ("steps", "targets")

    def _instance(self, model: nn.Module, eps: float, device: torch.device):
        attack = torchattacks_instance(_fab(), model, device, norm=TORCHATTACKS_NORM[self.norm], eps=eps, seed=0,
                                       steps=self.settings["steps"], multi_targeted=True, n_classes=N_CLASSES)
        attack.n_target_classes = self.settings["targets"]
        return attack


class _Square(_AutoAttackPart):
    """Square attack (Andriushchenko et al. 2020): random square-shaped updates kept when the margin
    drops; it uses scores only, so a masked gradient does not stop it."""

    paper_name = "Square"
    cost_settings = ("queries",)
    gradient_based = False

    @classmethod
    def default_settings(cls, profile: Profile | None = None) -> dict[str, Any]:
        return {"queries": _autoattack_settings(profile)["queries"], "p_init": 0.8}

    def _instance(self, model: nn.Module, eps: float, device: torch.device):
        return torchattacks_instance(torchattacks().Square, model, device, norm=TORCHATTACKS_NORM[self.norm],
                                     eps=eps, n_queries=self.settings["queries"], p_init=self.settings["p_init"],
                                     n_restarts=1, seed=0)

    @torch.no_grad()
    def generate(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor, *,
                 eps: float | None, device: torch.device) -> torch.Tensor:
        return super().generate(model, x, y, eps=eps, device=device)


class APGDCrossEntropyLinf(_APGDCrossEntropy):
    name = "apgd_ce_linf"
    norm = "linf"


class APGDCrossEntropyL2(_APGDCrossEntropy):
    name = "apgd_ce_l2"
    norm = "l2"


class APGDTargetedLinf(_APGDTargeted):
    name = "apgd_t_linf"
    norm = "linf"


class APGDTargetedL2(_APGDTargeted):
    name = "apgd_t_l2"
    norm = "l2"


class FABTargetedLinf(_FABTargeted):
    name = "fab_t_linf"
    norm = "linf"


class FABTargetedL2(_FABTargeted):
    name = "fab_t_l2"
    norm = "l2"


class SquareLinf(_Square):
    name = "square_linf"
    norm = "linf"


class SquareL2(_Square):
    name = "square_l2"
    norm = "l2"


#: AutoAttack's standard ensemble, per norm, in its order (cheapest first).
AUTOATTACK_PARTS: dict[str, tuple[type[_AutoAttackPart], ...]] = {
    "linf": (APGDCrossEntropyLinf, APGDTargetedLinf, FABTargetedLinf, SquareLinf),
    "l2": (APGDCrossEntropyL2, APGDTargetedL2, FABTargetedL2, SquareL2),
}


class _AutoAttack(Attack):
    """The whole standard ensemble as one attack (its parts from :data:`AUTOATTACK_PARTS`)."""

    paper_name = "AutoAttack"
    source = "torchattacks"
    gradient_based = True
    # its parts' costs add up; the targeted ones, most of it, grow with steps and targets
    cost_settings = ("steps", "targets")

    @classmethod
    def default_settings(cls, profile: Profile | None = None) -> dict[str, Any]:
        return _autoattack_settings(profile)

    def _parts(self, model: nn.Module, eps: float, device: torch.device) -> list:
        parts = []
        for part in AUTOATTACK_PARTS[self.norm]:
            settings = {k: v for k, v in self.settings.items() if k in part.default_settings()}
            parts.append(part(**settings)._instance(model, eps, device))
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
    cost_settings = ("steps", "draws")

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
