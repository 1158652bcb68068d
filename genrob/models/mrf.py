"""The Markov random field family: a class-conditional Ising model over binarised pixels.

p(x | y) = exp(-E(x; theta_y)) / Z(theta_y), x in {0, 1}^(H x W), with

    -E(x; theta_y) = sum_i b_yi x_i + sum_{i~j} w_yij x_i x_j

over the 4-neighbour grid: a unary weight per pixel and class and a pairwise
weight per edge and class. Trained by maximum pseudo-likelihood; log Z per class
estimated by annealed importance sampling from the independent-pixel model.
"""

from __future__ import annotations

import math
from typing import Mapping

import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn

from genrob.contract import N_CLASSES, THRESHOLD, accuracy, binarize
from genrob.data import Split
from genrob.environment import progress
from genrob.models.registry import ModelSpec, register


def neighbour_field(x: torch.Tensor, horizontal: torch.Tensor, vertical: torch.Tensor) -> torch.Tensor:
    """sum_{j~i} w_ij x_j for every pixel i: x is ... x H x W, weights broadcast against it."""
    field = torch.zeros_like(x)
    field[..., :, :-1] += horizontal * x[..., :, 1:]
    field[..., :, 1:] += horizontal * x[..., :, :-1]
    field[..., :-1, :] += vertical * x[..., 1:, :]
    field[..., 1:, :] += vertical * x[..., :-1, :]
    return field


def negative_energy(x: torch.Tensor, unary: torch.Tensor, horizontal: torch.Tensor,
                    vertical: torch.Tensor) -> torch.Tensor:
    """-E(x) for images ``x`` (N x H x W) under every class's parameters: N x classes."""
    flat = x.flatten(1)
    pairs_h = (x[:, :, :-1] * x[:, :, 1:]).flatten(1)
    pairs_v = (x[:, :-1, :] * x[:, 1:, :]).flatten(1)
    return (flat @ unary.flatten(1).T + pairs_h @ horizontal.flatten(1).T + pairs_v @ vertical.flatten(1).T)


class IsingClassifier(nn.Module):
    """Logits log p(x, y) = -E(x; theta_y) - log Z(theta_y) + log p(y), x binarised at 0.5.

    The threshold passes gradients straight through, so white-box attacks apply.
    """

    input_threshold = THRESHOLD  # it sees the image only thresholded (genrob.contract.input_threshold)

    def __init__(self, height: int = 28, width: int = 28, n_classes: int = N_CLASSES) -> None:
        super().__init__()
        self.unary = nn.Parameter(torch.zeros(n_classes, height, width))
        self.horizontal = nn.Parameter(torch.zeros(n_classes, height, width - 1))
        self.vertical = nn.Parameter(torch.zeros(n_classes, height - 1, width))
        self.register_buffer("log_partition", torch.zeros(n_classes))
        self.register_buffer("log_partition_se", torch.zeros(n_classes))
        self.register_buffer("log_prior", torch.full((n_classes,), -math.log(n_classes)))

    def unnormalised(self, x: torch.Tensor) -> torch.Tensor:
        """-E(x; theta_y) + log p(y): the logits without the log Z term."""
        pixels = binarize(x).view(len(x), *self.unary.shape[1:])
        return negative_energy(pixels, self.unary, self.horizontal, self.vertical) + self.log_prior

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.unnormalised(x) - self.log_partition

    def negative_log_pseudo_likelihood(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Mean over images of -sum_i log p(x_i | x_neighbours, y), x already binary."""
        # Select each image's class parameters by a one-hot product, not by indexing:
        # the gradient of indexing is a scatter-add whose order, and so whose
        # rounding, varies between runs on several threads.
        onehot = F.one_hot(y, len(self.unary)).to(x.dtype)

        def of_class(parameters: torch.Tensor) -> torch.Tensor:
            return (onehot @ parameters.flatten(1)).view(len(y), *parameters.shape[1:])

        field = of_class(self.unary) + neighbour_field(x, of_class(self.horizontal), of_class(self.vertical))
        return -(x * field - F.softplus(field)).sum((1, 2)).mean()


def gibbs_sweep(x: torch.Tensor, unary: torch.Tensor, horizontal: torch.Tensor, vertical: torch.Tensor,
                generator: torch.Generator) -> torch.Tensor:
    """One Gibbs sweep of an Ising model over binary images ``x`` (... x H x W).

    The 4-neighbour grid is bipartite: pixels of one checkerboard colour are
    independent given the other colour, so each colour is resampled at once.
    """
    rows, cols = torch.meshgrid(torch.arange(x.shape[-2]), torch.arange(x.shape[-1]), indexing="ij")
    for k in (0, 1):
        colour = ((rows + cols) % 2 == k).to(x.device)
        field = unary + neighbour_field(x, horizontal, vertical)
        sample = (torch.rand(x.shape, generator=generator, device=x.device) < torch.sigmoid(field)).to(x.dtype)
        x = torch.where(colour, sample, x)
    return x


@torch.no_grad()
def samples(model: "IsingClassifier", *, per_class: int = 6, sweeps: int = 500, seed: int = 0) -> torch.Tensor:
    """Images drawn from each class's model by Gibbs sampling from blank images: classes x per_class x H x W."""
    generator = torch.Generator(device=model.unary.device).manual_seed(seed)
    x = torch.zeros(len(model.unary), per_class, *model.unary.shape[1:], device=model.unary.device)
    u, h, v = (t.detach()[:, None] for t in (model.unary, model.horizontal, model.vertical))
    for _ in range(sweeps):
        x = gibbs_sweep(x, u, h, v, generator)
    return x


@torch.no_grad()
def ais_log_partition(unary: torch.Tensor, horizontal: torch.Tensor, vertical: torch.Tensor,
                      base_logits: torch.Tensor, *, chains: int = 200, steps: int = 2000,
                      seed: int = 0, desc: str = "AIS") -> tuple[torch.Tensor, torch.Tensor]:
    """log Z of one Ising model per class by annealed importance sampling.

    Starts from independent pixels with logits ``base_logits`` (exact log Z: a sum
    of softplus terms) and anneals linearly in ``steps`` to the full model, with
    one checkerboard Gibbs sweep at each temperature (the 4-neighbour grid is
    bipartite, so each colour is updated at once). Returns the estimate and its
    standard error (delta method over the chains' importance weights), per class.
    """
    generator = torch.Generator(device=unary.device).manual_seed(seed)
    classes, height, width = unary.shape
    u, h, v, b = (t[:, None] for t in (unary, horizontal, vertical, base_logits))

    def log_f(x: torch.Tensor, beta: float) -> torch.Tensor:
        base = (x * b).sum((2, 3))
        full = (x * u).sum((2, 3)) + (h * x[..., :, :-1] * x[..., :, 1:]).sum((2, 3)) \
            + (v * x[..., :-1, :] * x[..., 1:, :]).sum((2, 3))
        return (1 - beta) * base + beta * full

    x = (torch.rand(classes, chains, height, width, generator=generator, device=unary.device)
         < torch.sigmoid(b)).to(unary.dtype)
    log_w = torch.zeros(classes, chains, dtype=torch.float64, device=unary.device)
    betas = torch.linspace(0, 1, steps + 1).tolist()
    for previous, beta in progress(list(zip(betas[:-1], betas[1:])), desc=desc, leave=False):
        log_w += (log_f(x, beta) - log_f(x, previous)).double()
        x = gibbs_sweep(x, (1 - beta) * b + beta * u, beta * h, beta * v, generator)
    log_z0 = F.softplus(base_logits).sum((1, 2)).double()
    log_mean = torch.logsumexp(log_w, 1) - math.log(chains)
    weights = torch.exp(log_w - log_w.max(1, keepdim=True).values)
    se = weights.std(1) / (weights.mean(1) * math.sqrt(chains))
    return (log_z0 + log_mean).to(unary.dtype), se.to(unary.dtype)


def base_logits_from(x: torch.Tensor, y: torch.Tensor, n_classes: int = N_CLASSES) -> torch.Tensor:
    """Per-class logits of each pixel's on-frequency (smoothed): AIS's independent-pixel start."""
    counts = torch.stack([x[y == c].mean(0) for c in range(n_classes)])
    n = torch.bincount(y, minlength=n_classes).view(-1, 1, 1)
    p = (counts * n + 1) / (n + 2)
    return torch.log(p) - torch.log1p(-p)


def train_mrf(model: IsingClassifier, train: Split, val: Split, config: Mapping) -> dict:
    """Maximum pseudo-likelihood on the binarised training set, then log Z by AIS."""
    x = (train.x.squeeze(1) > THRESHOLD).to(train.x.dtype)
    y = train.y
    generator = torch.Generator().manual_seed(config["seed"])
    optimiser = torch.optim.Adam(model.parameters(), lr=config["lr"])
    history = []
    bar = progress(range(config["epochs"]), desc="MRF pseudo-likelihood")
    for _ in bar:
        order = torch.randperm(len(y), generator=generator)
        total = 0.0
        for start in range(0, len(y), config["batch_size"]):
            index = order[start : start + config["batch_size"]]
            optimiser.zero_grad(set_to_none=True)
            loss = model.negative_log_pseudo_likelihood(x[index], y[index])
            penalty = config["l2"] * sum((p ** 2).sum() for p in (model.horizontal, model.vertical))
            (loss + penalty).backward()
            optimiser.step()
            total += float(loss.detach()) * len(index)
        history.append(round(total / len(y), 4))
    with torch.no_grad():
        model.log_prior.copy_(torch.log(torch.bincount(y, minlength=N_CLASSES).to(x.dtype) / len(y)))
    unnormalised_accuracy = accuracy(model, val.x, val.y)
    log_z, se = ais_log_partition(model.unary.detach(), model.horizontal.detach(), model.vertical.detach(),
                                  base_logits_from(x, y), chains=config["ais_chains"],
                                  steps=config["ais_steps"], seed=config["seed"])
    with torch.no_grad():
        model.log_partition.copy_(log_z)
        model.log_partition_se.copy_(se)
    return {"pseudo_likelihood_per_epoch": history, "log_partition": log_z.tolist(),
            "log_partition_se": se.tolist(), "val_accuracy_without_log_partition": round(unnormalised_accuracy, 6),
            "val_accuracy": round(accuracy(model, val.x, val.y), 6)}


@torch.no_grad()
def log_partition_effect(model: IsingClassifier, x: torch.Tensor,
                         y: torch.Tensor) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Accuracy with and without the log Z term, and each class's log Z estimate with its error."""
    without = float((model.unnormalised(x).argmax(1) == y).double().mean())
    with_z = float((model(x).argmax(1) == y).double().mean())
    table = pd.DataFrame({"class": range(len(model.log_partition)), "log_Z": model.log_partition.tolist(),
                          "standard_error": model.log_partition_se.tolist()}).set_index("class")
    return pd.DataFrame({"accuracy": {"with log Z": with_z, "without log Z": without}}), table


#: The model as a graph: the class sets the parameters of an undirected grid
#: over the pixels (3 x 3 of the 28 x 28 drawn).
_GRID = {f"x{r}{c}": (c * 1.1, -r * 1.1, "", True) for r in range(3) for c in range(3)}
GRAPHS = {
    "class-conditional Ising model": {
        "nodes": {"y": (-1.6, 0.6, "$y$", False), **_GRID},
        "edges": [("y", name) for name in _GRID],
        "undirected": [(f"x{r}{c}", f"x{r}{c + 1}") for r in range(3) for c in range(2)]
        + [(f"x{r}{c}", f"x{r + 1}{c}") for r in range(2) for c in range(3)],
    },
    "CNN behind a mean-field denoiser": {
        "nodes": {"y": (1.1, 1.4, "$y$", False),
                  **{f"s{c}": (c * 1.1, 0, f"$s_{c + 1}$", False) for c in range(3)},
                  **{f"x{c}": (c * 1.1, -1.2, f"$x_{c + 1}$", True) for c in range(3)}},
        "edges": [(f"s{c}", "y") for c in range(3)],
        "undirected": [("s0", "s1"), ("s1", "s2")] + [(f"s{c}", f"x{c}") for c in range(3)],
    },
}


register(ModelSpec(
    name="mrf", paper_name="MRF", family="markov_random_field", kind="generative",
    counterparts=("cnn_mrf",), build=IsingClassifier, train=train_mrf,
    # version 2: repeatable gradients (one-hot class selection)
    training=lambda profile: {"version": 2, "epochs": profile.epochs(30), "batch_size": 500, "lr": 0.05, "l2": 1e-4,
                              "ais_chains": 200, "ais_steps": max(100, round(2000 * profile.epoch_scale))},
    description="a class-conditional Ising model on binarised pixels, 4-neighbour pairwise terms",
))
