"""Margin PGD through a denoiser's identity gradient (BPDA): the attack for a model that purifies its input.

A model that denoises its input before it classifies it (:func:`genrob.contract.purifies_input`; the CNN
behind the MRF denoiser) is differentiable end to end, but an unrolled denoiser whose steps saturate (ten
damped tanh steps of mean field) can pass back a gradient that vanishes or points nowhere useful: the
classic place where gradient masking hides (Athalye et al. 2018). Backward pass differentiable
approximation replaces the denoiser on the backward pass by the identity, since its output lies close to
its input, while the forward pass, and so every judgement of the model, stays exact. Otherwise it is
margin PGD with its budget and restarts (:mod:`genrob.attacks.pgd_margin`).
"""

from __future__ import annotations

import torch
from torch import nn

from genrob.attacks.pgd_margin import PGDMarginL2, PGDMarginLinf
from genrob.contract import identity_gradient_through_purifiers


class _ThroughDenoiser:
    """Mixin over a margin PGD class: the same attack with the identity's gradient through the denoiser."""

    paper_name = "BPDA margin PGD"
    source = "genrob"

    def generate(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor, *,
                 eps: float | None, device: torch.device) -> torch.Tensor:
        with identity_gradient_through_purifiers():
            return super().generate(model, x, y, eps=eps, device=device)  # type: ignore[misc]


class BPDAPGDMarginLinf(_ThroughDenoiser, PGDMarginLinf):
    name = "bpda_pgd_margin_linf"


class BPDAPGDMarginL2(_ThroughDenoiser, PGDMarginL2):
    name = "bpda_pgd_margin_l2"
