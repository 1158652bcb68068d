"""The naive Bayes family: Gaussian naive Bayes and logistic regression.

Both are linear-or-quadratic in the pixels and see each pixel on its own; the
generative one models p(x | y) pixel by pixel, the discriminative one models
p(y | x) directly.
"""

from __future__ import annotations

import math
from typing import Mapping

import torch
from torch import nn

from genrob.contract import N_CLASSES, PIXELS, accuracy
from genrob.data import Split
from genrob.models.registry import ModelSpec, register
from genrob.models.training import fit_classifier

#: Candidate variance floors (added to every per-pixel, per-class variance),
#: chosen on the validation split. Pixels that are constant within a class
#: (the border, always 0) have zero maximum-likelihood variance; the floor
#: decides how hard a change there is punished, and so the size of the gradients.
VARIANCE_FLOORS: tuple[float, ...] = (1e-6, 1e-4, 1e-3, 3e-3, 1e-2, 3e-2, 0.1, 0.3)


class GaussianNaiveBayes(nn.Module):
    """p(x, y) = p(y) prod_i N(x_i; mu_iy, sigma_iy^2 + floor); logits are log p(x, y)."""

    def __init__(self, n_features: int = PIXELS, n_classes: int = N_CLASSES) -> None:
        super().__init__()
        self.register_buffer("mean", torch.zeros(n_classes, n_features))
        self.register_buffer("variance", torch.ones(n_classes, n_features))  # MLE, before the floor
        self.register_buffer("variance_floor", torch.tensor(0.0))
        self.register_buffer("log_prior", torch.full((n_classes,), -math.log(n_classes)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.flatten(1)
        variance = self.variance + self.variance_floor
        squared = (x[:, None, :] - self.mean) ** 2 / variance  # N x classes x pixels
        log_likelihood = -0.5 * (squared.sum(-1) + torch.log(2 * math.pi * variance).sum(-1))
        return log_likelihood + self.log_prior

    @torch.no_grad()
    def fit_moments(self, x: torch.Tensor, y: torch.Tensor) -> None:
        """Maximum-likelihood means, variances and class priors."""
        x = x.flatten(1).double()
        for c in range(self.mean.shape[0]):
            members = x[y == c]
            self.mean[c] = members.mean(0).to(self.mean.dtype)
            self.variance[c] = members.var(0, unbiased=False).to(self.variance.dtype)
            self.log_prior[c] = math.log(len(members) / len(x))


def train_naive_bayes(model: GaussianNaiveBayes, train: Split, val: Split, config: Mapping) -> dict:
    """Fit the moments, then pick the variance floor with the best validation accuracy."""
    model.fit_moments(train.x, train.y)
    scores = []
    for floor in config["variance_floors"]:
        model.variance_floor.fill_(floor)
        scores.append(round(accuracy(model, val.x, val.y), 6))
    best = config["variance_floors"][scores.index(max(scores))]
    model.variance_floor.fill_(best)
    return {"variance_floors": list(config["variance_floors"]), "val_accuracy": scores, "variance_floor": best}


class LogisticRegression(nn.Module):
    """p(y | x) = softmax(W x + b); logits are W x + b."""

    def __init__(self, n_features: int = PIXELS, n_classes: int = N_CLASSES) -> None:
        super().__init__()
        self.linear = nn.Linear(n_features, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(x.flatten(1))


def train_logistic_regression(model: LogisticRegression, train: Split, val: Split, config: Mapping) -> dict:
    return fit_classifier(model, train, val, epochs=config["epochs"], batch_size=config["batch_size"],
                          lr=config["lr"], seed=config["seed"], desc="logistic regression")


#: Both models as graphs (for genrob.plots.graphical_models): the generative one
#: points from the class to every pixel, the discriminative one from the pixels to the class.
GRAPHS = {
    "Gaussian naive Bayes": {
        "nodes": {"y": (0, 1.3, "$y$", False), "x": (0, 0, "$x_i$", True)},
        "edges": [("y", "x")], "plates": [(["x"], "$i = 1..784$")],
    },
    "logistic regression": {
        "nodes": {"y": (0, 1.3, "$y$", False), "x": (0, 0, "$x_i$", True)},
        "edges": [("x", "y")], "plates": [(["x"], "$i = 1..784$")],
    },
}


register(ModelSpec(
    name="gaussian_nb", paper_name="Gaussian NB", family="naive_bayes", kind="generative",
    counterparts=("logistic_regression",), build=GaussianNaiveBayes, train=train_naive_bayes,
    training=lambda profile: {"variance_floors": list(VARIANCE_FLOORS)},
    description="one Gaussian per pixel and class, pixels independent given the class",
))

register(ModelSpec(
    name="logistic_regression", paper_name="Logistic Regression", family="naive_bayes",
    kind="discriminative", counterparts=("gaussian_nb", "gmm"), build=LogisticRegression,
    train=train_logistic_regression,
    training=lambda profile: {"epochs": profile.epochs(30), "batch_size": 128, "lr": 1e-3},
    description="a linear map from pixels to logits, trained by cross-entropy",
))
