"""A reference for what robust looks like on MNIST: the CNN trained adversarially.

Training follows Wong et al. (2020, "Fast is better than free"): each batch is
replaced by its FGSM adversarial from a random start in the l_inf ball of
radius eps, with step 1.25 eps, which costs about twice plain training. That
recipe can overfit catastrophically (the model learns to defeat FGSM alone and
PGD accuracy collapses within an epoch), so the epoch kept is the one with the
best accuracy under PGD on validation images, not the best clean accuracy. The
radius grows linearly over the first epochs: at the full 0.3 from the start the
CNN stays at chance.
"""

from __future__ import annotations

from typing import Mapping

import torch
from torch import nn

from genrob.contract import logit_margin, model_device, predict
from genrob.data import Split
from genrob.models.cnn import CNN, cnn_architecture
from genrob.models.registry import ModelSpec, register
from genrob.models.training import fit
from genrob.profiles import Profile

#: Validation images scored under PGD after each epoch.
VALIDATION_IMAGES = 1000


def fgsm_random_start(model: nn.Module, x: torch.Tensor, y: torch.Tensor, *, eps: float,
                      step: float) -> torch.Tensor:
    """One FGSM step of size ``step`` from a uniform random point of the l_inf ball, projected back."""
    delta = torch.empty_like(x).uniform_(-eps, eps)
    delta.requires_grad_(True)
    loss = nn.functional.cross_entropy(model((x + delta).clamp(0, 1)), y)
    gradient, = torch.autograd.grad(loss, delta)
    delta = (delta.detach() + step * gradient.sign()).clamp(-eps, eps)
    return (x + delta).clamp(0, 1)


class AdversarialLoss:
    """Cross-entropy on FGSM-with-random-start adversarials, eps ramped up over ``ramp`` batches."""

    def __init__(self, *, eps: float, relative_step: float, ramp: int) -> None:
        self.eps, self.relative_step, self.ramp, self.batches = eps, relative_step, ramp, 0

    def __call__(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        self.batches += 1
        eps = self.eps * min(1.0, self.batches / self.ramp)
        adversarial = fgsm_random_start(model, x, y, eps=eps, step=self.relative_step * eps)
        return nn.functional.cross_entropy(model(adversarial), y)


def margin_pgd(model: nn.Module, x: torch.Tensor, y: torch.Tensor, *, eps: float, steps: int,
               relative_step: float = 2.5) -> torch.Tensor:
    """PGD on the logit margin in the l_inf ball, from one random start, ``relative_step * eps / steps``
    per step; an image leaves the walk once it is misclassified (its adversarial is kept).

    The training's own attack, the same steps as the evaluation's margin PGD
    (:mod:`genrob.attacks.pgd_margin`) with one restart: models do not use the
    evaluation's attacks, so a fault in one cannot hide in the other.
    """
    size = relative_step * eps / steps
    best = x.clone()
    with torch.no_grad():
        active = torch.nonzero(-logit_margin(model(x), y) <= 0).flatten()  # the rest are wrong already
    if len(active) == 0:
        return best
    xa, ya = x[active], y[active]
    adversarial = (xa + torch.empty_like(xa).uniform_(-eps, eps)).clamp(0, 1)
    for _ in range(steps):
        adversarial.requires_grad_(True)
        loss = -logit_margin(model(adversarial), ya)
        gradient, = torch.autograd.grad(loss.sum(), adversarial)
        fooled = loss.detach() > 0
        with torch.no_grad():
            best[active[fooled]] = adversarial.detach()[fooled]
            keep = ~fooled
            active, xa, ya = active[keep], xa[keep], ya[keep]
            if len(active) == 0:
                return best
            moved = (adversarial.detach()[keep] + size * gradient[keep].sign()).clamp(0, 1)
            adversarial = (xa + (moved - xa).clamp(-eps, eps)).clamp(0, 1)
    with torch.no_grad():  # the last step's point is checked too
        fooled = -logit_margin(model(adversarial), ya) > 0
        best[active[fooled]] = adversarial[fooled]
    return best


def pgd_accuracy(model: nn.Module, split: Split, *, eps: float, steps: int, batch_size: int = 500) -> float:
    """Accuracy under :func:`margin_pgd` at l_inf ``eps`` (seeded), the images attacked in batches."""
    model.eval()
    device = model_device(model)
    correct = predict(model, split.x) == split.y
    torch.manual_seed(0)
    adversarial = split.x.clone()
    targets = torch.nonzero(correct).flatten()
    for start in range(0, len(targets), batch_size):
        index = targets[start : start + batch_size]
        adversarial[index] = margin_pgd(model, split.x[index].to(device), split.y[index].to(device),
                                        eps=eps, steps=steps).detach().cpu()
    return float((correct & (predict(model, adversarial) == split.y)).double().mean())


def train_adversarial_cnn(model: CNN, train: Split, val: Split, config: Mapping) -> dict:
    batches_per_epoch = -(-len(train) // config["batch_size"])
    loss = AdversarialLoss(eps=config["eps"], relative_step=config["relative_step"],
                           ramp=config["ramp_epochs"] * batches_per_epoch)
    held_out = val.take(torch.arange(min(VALIDATION_IMAGES, len(val))))
    report = fit(model, train, val, loss=loss,
                 score=lambda m, _: pgd_accuracy(m, held_out, eps=config["eps"], steps=config["score_steps"]),
                 score_name="pgd_accuracy", epochs=config["epochs"], batch_size=config["batch_size"],
                 lr=config["lr"], seed=config["seed"], desc=config["model"])
    return report


def adversarial_training(profile: Profile) -> dict:
    return {"epochs": profile.epochs(20), "batch_size": 128, "lr": 1e-3, "eps": 0.3, "relative_step": 1.25,
            "ramp_epochs": max(1, profile.epochs(5)), "score_steps": 20, "method": "fgsm_random_start"}


register(ModelSpec(
    name="cnn_adversarial", paper_name="CNN (adversarially trained)", family="reference", kind="discriminative",
    counterparts=(), build=CNN, train=train_adversarial_cnn, training=adversarial_training,
    architecture=cnn_architecture,
    description="the CNN trained on FGSM adversarials from random starts at l_inf eps 0.3 "
                "(Wong et al. 2020); the epoch kept is the most accurate under PGD",
))
