"""The mixture family: one Gaussian mixture per class.

Each class's mixture is fitted by EM with scikit-learn, then carried into a
torch module that computes log p(x | y) exactly (log-sum-exp over the
components), so gradient attacks differentiate the true likelihood.
"""

from __future__ import annotations

import math
from typing import Mapping

import numpy as np
import torch
from torch import nn

from genrob.contract import N_CLASSES, PIXELS, accuracy, once_per_state
from genrob.data import Split
from genrob.models.gradient_scale import scaled_input_gradient
from genrob.environment import progress
from genrob.models.registry import ModelSpec, register

#: The grid searched on the validation split: components per class x covariance
#: type. The paper's search settled on 60 spherical components.
COMPONENTS: tuple[int, ...] = (10, 30, 60)
COVARIANCE_TYPES: tuple[str, ...] = ("spherical", "diag")
#: Added to every variance by EM (scikit-learn's reg_covar): pixels that are
#: black in every image of a component would otherwise get zero variance.
VARIANCE_FLOOR = 1e-2


class GaussianMixtureClassifier(nn.Module):
    """p(x, y) = p(y) sum_k pi_yk N(x; mu_yk, diag(sigma^2_yk)); logits are log p(x, y).

    Spherical mixtures store their one variance per component repeated over the pixels.
    The module has room for ``components`` per class; a mixture with fewer fills
    the first slots and gives the rest zero weight.
    """

    def __init__(self, components: int = 60, n_features: int = PIXELS, n_classes: int = N_CLASSES) -> None:
        super().__init__()
        self.register_buffer("means", torch.zeros(n_classes, components, n_features))
        self.register_buffer("variances", torch.ones(n_classes, components, n_features))
        self.register_buffer("log_weights", torch.full((n_classes, components), -math.log(components)))
        self.register_buffer("log_prior", torch.full((n_classes,), -math.log(n_classes)))

    def _terms(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """1 / var, mu / var, sum_d mu^2 / var and sum_d log(2 pi var) per component, once per state of the buffers."""
        def compute():
            classes, components, features = self.means.shape
            # Means below the smallest normal float (1e-40 where scikit-learn's float64 0.0...01 met float32)
            # taken as 0: they made x @ (mu / var).T and the gradient's matrix product multiply subnormals
            # (issue 51 measured the forward pass 2.5 times slower). A mean is in [0, 1] and so is a pixel: each such
            # term is non-negative and below 2^-126 / var, and joins a sum of non-negative terms that
            # x^2 / var dominates wherever x is not 0, far below its rounding (the `extended` GMM's logits are
            # bit for bit the same on the 10 000 test images, noisy or not).
            means = torch.where(self.means.abs() < torch.finfo(self.means.dtype).tiny, 0.0, self.means)
            precision = (1 / self.variances).view(classes * components, features)
            scaled_means = (means / self.variances).view(classes * components, features)
            return (precision, scaled_means, (means * scaled_means.view_as(means)).sum(-1).view(-1),
                    torch.log(2 * math.pi * self.variances).sum(-1).view(-1))

        return once_per_state(self, "_component_terms", (self.means, self.variances), compute)

    def component_log_densities(self, x: torch.Tensor) -> torch.Tensor:
        """log N(x; mu_yk, sigma^2_yk) for every class y and component k: N x classes x components."""
        x = x.flatten(1)
        precision, scaled_means, mean_term, log_norm = self._terms()
        # sum_d (x_d - mu_d)^2 / var_d, expanded so the work is two matrix products.
        squared = (x * x) @ precision.T - 2 * x @ scaled_means.T + mean_term
        return (-0.5 * (squared + log_norm)).view(len(x), *self.means.shape[:2])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # Far components' weights in the gradient would be subnormal floats (gradient_scale says why).
        return scaled_input_gradient(self, self._log_joint, x)

    def _log_joint(self, x: torch.Tensor) -> torch.Tensor:
        return torch.logsumexp(self.component_log_densities(x) + self.log_weights, dim=2) + self.log_prior

    @torch.no_grad()
    def load_mixtures(self, mixtures: list, log_prior: np.ndarray) -> None:
        """Copy fitted scikit-learn mixtures (one per class) into the buffers."""
        self.means.zero_()
        self.variances.fill_(1.0)
        self.log_weights.fill_(-math.inf)
        for c, gmm in enumerate(mixtures):
            k = gmm.n_components
            variances = gmm.covariances_
            if gmm.covariance_type == "spherical":
                variances = np.repeat(variances[:, None], self.means.shape[2], axis=1)
            self.means[c, :k] = torch.as_tensor(gmm.means_, dtype=self.means.dtype)
            self.variances[c, :k] = torch.as_tensor(variances, dtype=self.means.dtype)
            self.log_weights[c, :k] = torch.as_tensor(np.log(gmm.weights_), dtype=self.means.dtype)
        self.log_prior.copy_(torch.as_tensor(log_prior, dtype=self.means.dtype))


def fit_mixtures(train: Split, components: int, covariance_type: str, seed: int) -> list:
    """One scikit-learn GaussianMixture per class, fitted by EM."""
    from sklearn.mixture import GaussianMixture

    x = train.x.flatten(1).double().numpy()
    y = train.y.numpy()
    return [GaussianMixture(components, covariance_type=covariance_type, reg_covar=VARIANCE_FLOOR,
                            max_iter=200, random_state=seed).fit(x[y == c]) for c in range(N_CLASSES)]


def train_gmm(model: GaussianMixtureClassifier, train: Split, val: Split, config: Mapping) -> dict:
    """Fit every (components, covariance type) of the grid; keep the best on validation."""
    log_prior = np.log(np.bincount(train.y.numpy(), minlength=N_CLASSES) / len(train))
    grid, best = [], None
    for components in progress(config["components"], desc="GMM grid"):
        for covariance_type in config["covariance_types"]:
            candidate = GaussianMixtureClassifier(max(config["components"]))
            candidate.load_mixtures(fit_mixtures(train, components, covariance_type, config["seed"]), log_prior)
            score = round(accuracy(candidate, val.x, val.y), 6)
            grid.append({"components": components, "covariance_type": covariance_type, "val_accuracy": score})
            if best is None or score > best[0]:
                best = (score, candidate)
    model.load_state_dict(best[1].state_dict())
    return {"grid": grid, "chosen": max(grid, key=lambda g: g["val_accuracy"])}


def _build_gmm() -> GaussianMixtureClassifier:
    return GaussianMixtureClassifier(components=max(COMPONENTS))


register(ModelSpec(
    name="gmm", paper_name="GMM", family="mixture", kind="generative",
    counterparts=("logistic_regression",), build=_build_gmm, train=train_gmm,
    training=lambda profile: {"components": list(COMPONENTS), "covariance_types": list(COVARIANCE_TYPES),
                              "variance_floor": VARIANCE_FLOOR},
    description="a Gaussian mixture per class, fitted by EM, grid-searched on validation",
))


#: The model as a graph (for genrob.plots.graphical_models): the class picks a
#: component, the component (and class) generates the pixels.
GRAPHS = {
    "Gaussian mixture per class": {
        "nodes": {"y": (0, 2.4, "$y$", False), "z": (0, 1.2, "$z$", False), "x": (0, 0, "$x$", True)},
        "edges": [("y", "z"), ("z", "x"), ("y", "x")],
    },
    "logistic regression": {
        "nodes": {"y": (0, 2.4, "$y$", False), "x": (0, 0, "$x$", True)},
        "edges": [("x", "y")],
    },
}


def heaviest_components(model: GaussianMixtureClassifier, per_class: int = 6) -> torch.Tensor:
    """Mean images of each class's ``per_class`` heaviest components, class by class."""
    order = model.log_weights.argsort(dim=1, descending=True)[:, :per_class]
    return torch.stack([model.means[c, order[c]] for c in range(len(order))]).view(-1, 28, 28)
