"""Flips across the threshold: the attack in the threat model of a model that binarises its input.

A model that sees an image only as ``x > 0.5`` (:func:`genrob.contract.input_threshold`) sees a change
only where a pixel crosses the threshold. Within l_inf eps the pixels that can cross are those with
``|x - 0.5| <= eps``: one above the threshold moves down to it, one at or below it to just above it. Each
flip costs exactly that distance, so under l_2 a set of flips costs the root of the sum of their squares.
A surrogate gradient through the threshold (straight-through or a steep sigmoid) guesses which flips help;
this attack does not trust the guess. It searches the flips greedily: at each step the gradient of the
margin only ranks the ``candidates`` most promising flips still affordable, an exact forward pass of the
model on each of them scores it, and the flip that lowers the margin most is made. An image leaves the
search once the model misreads it, or once no candidate lowers its margin any more.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from torch import nn

from genrob.attacks.base import Attack
from genrob.contract import flip_targets, input_threshold, logit_margin
from genrob.profiles import Profile

#: Candidate images per forward pass of the exact scoring (a conv VAE's pass holds 100 decodings per class).
SCORING_BATCH = 1024


class _ThresholdFlips(Attack):
    paper_name = "threshold flips"
    source = "genrob"
    gradient_based = False  # a gradient ranks the candidates; exact forward passes decide
    cost_settings = ("candidates", "flips")  # a forward pass per candidate, at each flip

    @classmethod
    def default_settings(cls, profile: Profile | None = None) -> dict[str, Any]:
        effort = profile.adaptive_effort if profile is not None else 1.0
        return {"candidates": max(4, round(16 * effort)), "flips": max(40, round(200 * effort))}

    def generate(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor, *,
                 eps: float | None, device: torch.device) -> torch.Tensor:
        threshold = input_threshold(model)
        if threshold is None:
            raise ValueError(f"{self.name} attacks a model that thresholds its input; this one declares no "
                             "input_threshold (genrob.contract.input_threshold)")
        flat = x.flatten(1)
        target, cost = flip_targets(flat, threshold)  # down to the threshold, or up to the next float above it
        budget = eps * eps if self.norm == "l2" else None
        affordable = cost <= eps if self.norm == "linf" else cost * cost <= budget
        spent = torch.zeros(len(x), dtype=flat.dtype, device=flat.device)
        adversarial = flat.clone()
        active = torch.ones(len(x), dtype=torch.bool, device=flat.device)
        for _ in range(self.settings["flips"]):
            if not active.any():
                break
            index = torch.nonzero(active).flatten()
            current = adversarial[index].clone().requires_grad_(True)
            margins = logit_margin(model(current.view(-1, *x.shape[1:])), y[index])
            (gradient,) = torch.autograd.grad(margins.sum(), current)
            # First-order change of the margin if a pixel's binarised value flips (+1 up, -1 down), per unit of
            # the l_2 budget it spends (under l_inf every affordable flip is free): only a ranking.
            direction = torch.where(adversarial[index] > threshold, -1.0, 1.0).to(flat.dtype)
            promise = gradient.detach() * direction
            if budget is not None:
                promise = promise / (cost[index] ** 2).clamp_min(1e-12)
            open_ = affordable[index] & (adversarial[index] == flat[index])
            if budget is not None:
                open_ &= spent[index, None] + cost[index] ** 2 <= budget
            promise = torch.where(open_, promise, torch.full_like(promise, float("inf")))
            k = min(self.settings["candidates"], flat.shape[1])
            ranked = promise.topk(k, dim=1, largest=False).indices  # (m, k)
            usable = torch.gather(open_, 1, ranked)
            scores, wrong = self._score(model, adversarial[index], ranked, target[index], y[index], x.shape[1:])
            scores = torch.where(usable, scores, torch.full_like(scores, float("inf")))
            best = scores.argmin(1)
            rows = torch.arange(len(index), device=flat.device)
            improves = scores[rows, best] < margins.detach()
            chosen = index[improves]
            pixels = ranked[rows, best][improves]
            adversarial[chosen, pixels] = target[chosen, pixels]
            spent[chosen] += cost[chosen, pixels] ** 2
            fooled = wrong[rows, best] & improves
            active[index[~improves | fooled]] = False
        return adversarial.view_as(x)

    @staticmethod
    def _score(model: nn.Module, images: torch.Tensor, pixels: torch.Tensor, target: torch.Tensor,
               y: torch.Tensor, shape: torch.Size) -> tuple[torch.Tensor, torch.Tensor]:
        """The exact margin (and whether the model misreads it) of each image with each one of its
        candidate ``pixels`` flipped: (m, k) each."""
        m, k = pixels.shape
        trials = images[:, None, :].repeat(1, k, 1)
        trials.scatter_(2, pixels[:, :, None], torch.gather(target, 1, pixels)[:, :, None])
        trials = trials.view(m * k, -1)
        labels = y.repeat_interleave(k)
        margins, wrong = [], []
        with torch.no_grad():
            for start in range(0, len(trials), SCORING_BATCH):
                logits = model(trials[start : start + SCORING_BATCH].view(-1, *shape))
                part = labels[start : start + SCORING_BATCH]
                margins.append(logit_margin(logits, part))
                wrong.append(logits.argmax(1) != part)
        return torch.cat(margins).view(m, k), torch.cat(wrong).view(m, k)


class ThresholdFlipsLinf(_ThresholdFlips):
    name: ClassVar[str] = "threshold_flips_linf"
    norm = "linf"


class ThresholdFlipsL2(_ThresholdFlips):
    name: ClassVar[str] = "threshold_flips_l2"
    norm = "l2"
