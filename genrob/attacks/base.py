"""One base class for every attack, and what an attack's outcome means.

An attack is either *fixed-eps* (it is run once per eps and must stay inside
that eps ball) or a *minimisation* attack (it is run once per image, looks for
the smallest adversarial perturbation it can, and answers every eps at once: an
image is fooled at eps when the perturbation found is no larger than eps).

Only images the model classifies correctly are attacked: an image already
misclassified counts as not robust at every eps, whatever the attack does.
"""

from __future__ import annotations

import contextlib
import io
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar, Literal, Sequence

import numpy as np
import torch
from torch import nn

from genrob.models.base import predict
from genrob.profiles import Profile

Norm = Literal["linf", "l2"]

#: Slack allowed on the eps ball and on [0, 1] for float rounding.
TOLERANCE = 1e-5


class AttackConstraintError(AssertionError):
    """An attack returned an image outside [0, 1] or outside its eps ball."""


def perturbation_norm(delta: torch.Tensor, norm: Norm) -> torch.Tensor:
    """Per-image l_inf or l_2 norm of a batch of perturbations."""
    flat = delta.flatten(1)
    return flat.abs().amax(1) if norm == "linf" else flat.norm(dim=1)


@dataclass
class AttackOutcome:
    """Per-image result of one attack on one model, at every eps asked for."""

    eps: np.ndarray  # (E,)
    clean_correct: np.ndarray  # (n,) bool
    fooled: np.ndarray  # (E, n) bool: correct on the clean image, wrong within eps
    perturbation: np.ndarray  # (E, n) float: norm of the adversarial perturbation, nan where none

    @property
    def robust(self) -> np.ndarray:
        """(E, n) bool: classified correctly and not fooled within eps."""
        return self.clean_correct[None, :] & ~self.fooled


class Attack(ABC):
    """Base class: subclasses set the class attributes and implement :meth:`generate`."""

    name: ClassVar[str]  # registry name, e.g. "pgd_linf"
    paper_name: ClassVar[str]
    norm: ClassVar[Norm]
    minimisation: ClassVar[bool] = False
    source: ClassVar[str]  # the library that implements it
    gradient_based: ClassVar[bool]

    def __init__(self, **settings: Any) -> None:
        unknown = set(settings) - set(self.default_settings())
        if unknown:
            raise ValueError(f"{self.name}: unknown settings {sorted(unknown)}; "
                             f"known: {sorted(self.default_settings())}")
        self.settings = {**self.default_settings(), **settings}

    @classmethod
    def default_settings(cls, profile: Profile | None = None) -> dict[str, Any]:
        """Settings (step counts, step sizes) under ``profile``; recorded with every result."""
        return {}

    @abstractmethod
    def generate(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor, *,
                 eps: float | None, device: torch.device) -> torch.Tensor:
        """Adversarial candidates for ``x`` (true labels ``y``), on ``device``.

        Fixed-eps attacks get an eps; minimisation attacks get ``None`` and return
        their smallest adversarial found (or anything, where they found none).
        """

    def run(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor, eps_grid: Sequence[float], *,
            device: torch.device, seed: int, batch_size: int = 500, bar=None) -> AttackOutcome:
        """Attack the correctly classified images of ``x`` at every eps of ``eps_grid``."""
        model.eval()
        eps_grid = np.asarray(eps_grid, dtype=float)
        n = len(y)
        clean_correct = (predict(model, x) == y).numpy()
        fooled = np.zeros((len(eps_grid), n), dtype=bool)
        perturbation = np.full((len(eps_grid), n), np.nan)
        targets = np.flatnonzero(clean_correct)
        batches = [targets[i : i + batch_size] for i in range(0, len(targets), batch_size)]
        passes = [None] if self.minimisation else list(range(len(eps_grid)))
        for k in passes:
            # Every pass starts from the same seed: an eps draws the same noise and
            # random starts whichever eps ran before it, so a resumed sweep matches.
            torch.manual_seed(seed)
            if bar is not None:
                bar.update(n - len(targets))  # misclassified images need no attack
            for index in batches:
                xb, yb = x[index].to(device), y[index].to(device)
                eps = None if k is None else float(eps_grid[k])
                adversarial = self.generate(model, xb, yb, eps=eps, device=device).detach()
                norms = self._check(xb, adversarial, eps).cpu().numpy()
                wrong = (predict(model, adversarial) != yb.cpu()).numpy()
                rows = range(len(eps_grid)) if k is None else [k]
                for row in rows:
                    hit = wrong & (norms <= eps_grid[row] * (1 + TOLERANCE) + TOLERANCE)
                    fooled[row, index] = hit
                    perturbation[row, index] = np.where(hit, norms, np.nan)
                if bar is not None:
                    bar.update(len(index))
        return AttackOutcome(eps_grid, clean_correct, fooled, perturbation)

    def _check(self, x: torch.Tensor, adversarial: torch.Tensor, eps: float | None) -> torch.Tensor:
        if adversarial.shape != x.shape:
            raise AttackConstraintError(f"{self.name} changed the shape {tuple(x.shape)} -> {tuple(adversarial.shape)}")
        if adversarial.min() < -TOLERANCE or adversarial.max() > 1 + TOLERANCE:
            raise AttackConstraintError(f"{self.name} left [0, 1]")
        norms = perturbation_norm(adversarial - x, self.norm)
        if eps is not None and (norms > eps * (1 + TOLERANCE) + TOLERANCE).any():
            raise AttackConstraintError(f"{self.name} left its {self.norm} ball of radius {eps}: "
                                        f"largest perturbation {float(norms.max()):.6f}")
        return norms


def torchattacks_instance(cls: type, model: nn.Module, device: torch.device, **kwargs: Any):
    """A torchattacks attack with its device set explicitly.

    torchattacks looks for the device among a model's parameters only, and a model
    of buffers alone (a fitted naive Bayes) has none: it prints a complaint and
    leaves the device unset. We silence the complaint and hand the device over.
    """
    with contextlib.redirect_stdout(io.StringIO()):
        attack = cls(model, **kwargs)
    attack.set_device(device)
    return attack


def foolbox_model(model: nn.Module, device: torch.device):
    """The model wrapped for foolbox, inputs bounded to [0, 1]."""
    import foolbox

    return foolbox.PyTorchModel(model, bounds=(0.0, 1.0), device=device)
