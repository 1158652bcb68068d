"""Transfer attacks: PGD run on a surrogate model, its adversarials shown to the target.

The target's own gradient is never used, so a target that hides its gradient
gains nothing against it. A white-box attack that a transfer attack beats was
misled by the target's gradient (Carlini et al. 2019's sanity check). The
surrogate is the plain CNN of the profile, trained and cached like any model;
PGD runs its full step count on it (no early stop), so the adversarials sit deep
in the surrogate's wrong classes and transfer as well as they can. Attacks know no
model but the one they are given: the sweep that runs a transfer attack loads its
surrogate (named in the settings) and hands it over (:attr:`_Transfer.surrogate`).
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

    #: The trained surrogate (``settings["surrogate"]`` of ``settings["surrogate_profile"]``), set by the
    #: sweep before the attack runs.
    surrogate: nn.Module | None = None

    def generate(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor, *,
                 eps: float | None, device: torch.device) -> torch.Tensor:
        if self.surrogate is None:
            raise RuntimeError(f"{self.name}: no surrogate model; load {self.settings['surrogate']!r} "
                               f"({self.settings['surrogate_profile']}) and set it as the attack's surrogate")
        return super().generate(self.surrogate.to(device), x, y, eps=eps, device=device)


class TransferPGDLinf(_Transfer, PGDLinf):
    name = "transfer_pgd_linf"


class TransferPGDL2(_Transfer, PGDL2):
    name = "transfer_pgd_l2"
