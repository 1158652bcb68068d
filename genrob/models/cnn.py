"""Convolutional classifiers: the plain CNN, and the CNN behind an MRF denoiser.

The plain CNN is the discriminative model the convolutional VAE family is
compared with, and the CNN+MRF's version without denoiser.
"""

from __future__ import annotations

from typing import Mapping

import torch
import torch.nn.functional as F
from torch import nn

from genrob.contract import purify
from genrob.data import Split
from genrob.models.layers import ConvEncoder
from genrob.models.registry import ModelSpec, register
from genrob.models.training import fit_classifier
from genrob.profiles import Profile

NEIGHBOURS = torch.tensor([[0.0, 1.0, 0.0], [1.0, 0.0, 1.0], [0.0, 1.0, 0.0]]).view(1, 1, 3, 3)

#: Channels of the smoke profile's CNNs (Li's have 64): it computes in float64, where PyTorch's
#: convolutions run five to six times slower than oneDNN's float32 ones.
SMOKE_CHANNELS = 16


def cnn_architecture(profile: Profile) -> dict:
    """Li's sizes, but for the smoke profile's narrower CNNs."""
    return {"channels": SMOKE_CHANNELS} if profile.small_models else {}


class CNN(nn.Module):
    """Convolutional encoder and a linear head; logits for p(y | x)."""

    def __init__(self, channels: int = 64) -> None:
        super().__init__()
        self.encoder = ConvEncoder(channels=channels)
        self.head = nn.Linear(500, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.encoder(x))


class MeanFieldDenoiser(nn.Module):
    """An Ising prior over on/off pixels plus a data term, solved by unrolled mean field.

    With spins s_i in {-1, +1}, the posterior is p(s | x) ~ exp(J sum_{i~j} s_i s_j + sum_i h_i s_i),
    h_i = lambda (2 x_i - 1): neighbours agree with strength J, each pixel leans to its
    observed value with strength lambda. Mean field iterates
    m_i <- tanh(h_i + J sum_{j~i} m_j) over the 4-neighbourhood, damped; the output is the
    expected pixel (m + 1) / 2. Every step is differentiable, so gradients reach the input.
    """

    def __init__(self, coupling: float = 0.6, data_weight: float = 1.5, iterations: int = 10,
                 damping: float = 0.5) -> None:
        super().__init__()
        self.register_buffer("coupling", torch.tensor(coupling))
        self.register_buffer("data_weight", torch.tensor(data_weight))
        self.register_buffer("neighbours", NEIGHBOURS.to(torch.get_default_dtype(), copy=True))
        self.iterations = iterations
        self.damping = damping

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        field = self.data_weight * (2 * x - 1)
        m = 2 * x - 1
        for _ in range(self.iterations):
            update = torch.tanh(field + self.coupling * F.conv2d(m, self.neighbours, padding=1))
            m = self.damping * m + (1 - self.damping) * update
        return (m + 1) / 2


class CNNWithMRF(nn.Module):
    """The CNN applied to the MRF denoiser's output; the pipeline is attacked whole, and, since the
    denoiser's damped tanh steps may saturate, also with the identity's gradient in its place (BPDA)."""

    purifies_input = True  # the denoiser goes through genrob.contract.purify

    def __init__(self, channels: int = 64) -> None:
        super().__init__()
        self.denoiser = MeanFieldDenoiser()
        self.cnn = CNN(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.cnn(purify(x, self.denoiser))


def salt_and_pepper(x: torch.Tensor, rate: float, *, seed: int = 0) -> torch.Tensor:
    """``x`` with a share ``rate`` of its pixels set to black or white at random."""
    generator = torch.Generator().manual_seed(seed)
    hit = torch.rand(x.shape, generator=generator) < rate
    value = (torch.rand(x.shape, generator=generator) < 0.5).to(x.dtype)
    return torch.where(hit, value, x)


def train_cnn(model: nn.Module, train: Split, val: Split, config: Mapping) -> dict:
    return fit_classifier(model, train, val, epochs=config["epochs"], batch_size=config["batch_size"],
                          lr=config["lr"], seed=config["seed"], desc=config["model"])


def cnn_training(profile) -> dict:
    return {"epochs": profile.epochs(8), "batch_size": 128, "lr": 1e-3}


register(ModelSpec(
    name="cnn", paper_name="Convolutional NN", family="conv_vae", kind="discriminative",
    counterparts=(), build=CNN, train=train_cnn, training=cnn_training, architecture=cnn_architecture,
    description="Li et al.'s convolutional encoder with a linear classification head",
))

register(ModelSpec(
    name="cnn_mrf", paper_name="CNN+MRF", family="markov_random_field", kind="discriminative",
    counterparts=("mrf",), baselines=("cnn",), build=CNNWithMRF, train=train_cnn,
    training=lambda profile: {**cnn_training(profile), "denoiser": "coupling 0.6, data 1.5, 10 damped steps"},
    architecture=cnn_architecture,
    description="the CNN behind an Ising mean-field denoiser of its input",
))
