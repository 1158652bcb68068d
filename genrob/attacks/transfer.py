"""Transfer attacks: PGD run on a surrogate model, its adversarials shown to the target.

The target's own gradient is never used, so a target that hides its gradient
gains nothing against it. A white-box attack that a transfer attack beats was
misled by the target's gradient (Carlini et al. 2019's sanity check). The
surrogate is the plain CNN of the profile, trained and cached like any model;
PGD runs its full step count on it (no early stop), so the adversarials sit deep
in the surrogate's wrong classes and transfer as well as they can.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from genrob.attacks.pgd import PGDL2, PGDLinf
from genrob.profiles import Profile, get_profile

#: The model the adversarials are crafted on.
SURROGATE = "cnn"


class _Transfer:
    """Mixin over a PGD class: the same attack, run on the surrogate instead of the target."""

    paper_name = "Transfer PGD"
    source = "torchattacks PGD on a surrogate CNN"
    gradient_based = False  # no gradient of the target

    @classmethod
    def default_settings(cls, profile: Profile | None = None) -> dict[str, Any]:
        profile = profile if profile is not None else get_profile("default")
        # The surrogate's checkpoint depends on the profile, so the profile is part of the settings.
        return {**super().default_settings(profile), "surrogate": SURROGATE, "surrogate_profile": profile.name}

    def generate(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor, *,
                 eps: float | None, device: torch.device) -> torch.Tensor:
        return super().generate(self._surrogate(device), x, y, eps=eps, device=device)

    def _surrogate(self, device: torch.device) -> nn.Module:
        if getattr(self, "_surrogate_model", None) is None:
            from genrob.models import load_model  # models import attacks' base; load lazily

            # Building the model draws initial weights: keep the attack's random starts as seeded.
            with torch.random.fork_rng(devices=[]):
                self._surrogate_model = load_model(self.settings["surrogate"], self.settings["surrogate_profile"],
                                                   device=device)
        return self._surrogate_model


class TransferPGDLinf(_Transfer, PGDLinf):
    name = "transfer_pgd_linf"


class TransferPGDL2(_Transfer, PGDL2):
    name = "transfer_pgd_l2"
