"""One base class for every attack, and what an attack's outcome means.

An attack is either *fixed-eps* (it is run once per eps and must stay inside
that eps ball) or a *minimisation* attack (it is run once per image, looks for
the smallest adversarial perturbation it can, and answers every eps at once: an
image is fooled at eps when the perturbation found is no larger than eps, or when
it is still misclassified once projected into the eps ball).

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

from genrob.attacks._libraries import foolbox
from genrob.contract import predict, stochastic
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


def project(x: torch.Tensor, adversarial: torch.Tensor, eps: float, norm: Norm) -> torch.Tensor:
    """``adversarial`` moved into the ``norm`` ball of radius ``eps`` around ``x`` (stays in [0, 1])."""
    delta = adversarial - x
    if norm == "linf":
        return x + delta.clamp(-eps, eps)
    size = delta.flatten(1).norm(dim=1).clamp_min(1e-12)
    return x + delta * (eps / size).clamp(max=1.0).view(-1, *[1] * (x.dim() - 1))


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
    #: The settings whose product a run's cost grows with (iterations, restarts, draws, queries): at most in
    #: proportion, since most attacks leave an image once it is broken. How a cost measured under one
    #: profile's settings is scaled to another's (:func:`genrob.attacks.cost_ratio`).
    cost_settings: ClassVar[tuple[str, ...]] = ()

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
            device: torch.device, seed: int, batch_size: int = 500, bar=None,
            only: np.ndarray | None = None) -> AttackOutcome:
        """Attack the correctly classified images of ``x`` at every eps of ``eps_grid``; given ``only``
        (one bool per image), just those of them it marks: the others count as not fooled by this attack
        (the adaptive evaluation's cascade passes the images no earlier attack broke)."""
        if self.minimisation:
            if only is not None:
                raise ValueError(f"{self.name} searches every image once for all eps; it takes no `only`")
            clean_correct, adversarial = self.search(model, x, y, device=device, seed=seed,
                                                     batch_size=batch_size, bar=bar)
            return self.outcome(model, x, y, clean_correct, adversarial, eps_grid)
        model.eval()
        eps_grid = np.asarray(eps_grid, dtype=float)
        clean_correct = (predict(model, x) == y).numpy()
        targets = clean_correct if only is None else clean_correct & np.asarray(only, dtype=bool)
        fooled = np.zeros((len(eps_grid), len(y)), dtype=bool)
        perturbation = np.full((len(eps_grid), len(y)), np.nan)
        for k, eps in enumerate(eps_grid):
            adversarial = self._attack_correct(model, x, y, targets, eps=float(eps), device=device,
                                               seed=seed, batch_size=batch_size, bar=bar)
            norms = perturbation_norm(adversarial - x, self.norm).numpy()
            fooled[k] = targets & (predict(model, adversarial) != y).numpy()
            perturbation[k] = np.where(fooled[k], norms, np.nan)
        return AttackOutcome(eps_grid, clean_correct, fooled, perturbation)

    def search(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor, *, device: torch.device,
               seed: int, batch_size: int = 500, bar=None) -> tuple[np.ndarray, torch.Tensor]:
        """A minimisation attack's one run: which images are correct, and its adversarial for each."""
        model.eval()
        clean_correct = (predict(model, x) == y).numpy()
        return clean_correct, self._attack_correct(model, x, y, clean_correct, eps=None, device=device,
                                                   seed=seed, batch_size=batch_size, bar=bar)

    def outcome(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor, clean_correct: np.ndarray,
                adversarial: torch.Tensor, eps_grid: Sequence[float]) -> AttackOutcome:
        """What a minimisation attack's adversarials mean at each eps.

        An image is fooled at eps when the adversarial found is misclassified and no
        larger than eps, or when that adversarial projected into the eps ball is
        still misclassified (foolbox's own criterion, which the paper used). Both
        are concrete misclassified images inside the ball.
        """
        eps_grid = np.asarray(eps_grid, dtype=float)
        norms = perturbation_norm(adversarial - x, self.norm)
        wrong = predict(model, adversarial) != y
        fooled = np.zeros((len(eps_grid), len(y)), dtype=bool)
        perturbation = np.full((len(eps_grid), len(y)), np.nan)
        for k, eps in enumerate(eps_grid):
            within = wrong & (norms <= eps * (1 + TOLERANCE) + TOLERANCE)
            projected = project(x, adversarial, float(eps), self.norm)
            by_projection = ~within & (predict(model, projected) != y)
            sizes = torch.where(within, norms, perturbation_norm(projected - x, self.norm))
            fooled[k] = clean_correct & (within | by_projection).numpy()
            perturbation[k] = np.where(fooled[k], sizes.numpy(), np.nan)
        return AttackOutcome(eps_grid, clean_correct, fooled, perturbation)

    def _attack_correct(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor, clean_correct: np.ndarray,
                        *, eps: float | None, device: torch.device, seed: int, batch_size: int,
                        bar) -> torch.Tensor:
        """``x`` with each correctly classified image replaced by its adversarial (on the CPU)."""
        # Every pass starts from the same seed: an eps draws the same noise and
        # random starts whichever eps ran before it, so a resumed sweep matches.
        torch.manual_seed(seed)
        adversarial = x.clone()
        targets = np.flatnonzero(clean_correct)
        if bar is not None:
            bar.update(len(y) - len(targets))  # misclassified images need no attack
        for start in range(0, len(targets), batch_size):
            index = torch.as_tensor(targets[start : start + batch_size])
            xb, yb = x[index].to(device), y[index].to(device)
            candidate = self.generate(model, xb, yb, eps=eps, device=device).detach()
            self._check(xb, candidate, eps)
            adversarial[index] = candidate.cpu()
            if bar is not None:
                bar.update(len(index))
        return adversarial

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


class SamplingModelAttack(Attack):
    """An attack on a model used with fresh noise on every call (:func:`genrob.contract.stochastic`):
    the clean predictions, the attack and the judgement of its adversarials all sample (seeded)."""

    def run(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor, eps_grid: Sequence[float], *,
            device: torch.device, seed: int, batch_size: int = 500, bar=None,
            only: np.ndarray | None = None) -> AttackOutcome:
        torch.manual_seed(seed)  # the clean predictions sample too
        with stochastic(model):
            return super().run(model, x, y, eps_grid, device=device, seed=seed, batch_size=batch_size, bar=bar,
                               only=only)


def misclassified(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Which of ``x`` the model labels other than ``y`` (foolbox's Misclassification criterion)."""
    return model(x).argmax(1) != y


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
    return foolbox().PyTorchModel(model, bounds=(0.0, 1.0), device=device)
