"""The attack on thresholded inputs, against a model whose best flips can be computed exactly:
a linear model on the binarised pixels, with two classes that matter."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from genrob.attacks import make_attack
from genrob.contract import binarize


class LinearOnBinarisedPixels(nn.Module):
    """logits = W b(x) + c with b(x) = x > 0.5; classes 2 to 9 can never win."""

    input_threshold = 0.5

    def __init__(self, weights: torch.Tensor, bias: torch.Tensor) -> None:
        super().__init__()
        self.register_buffer("weights", weights)
        self.register_buffer("bias", bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return binarize(x).flatten(1) @ self.weights.T + self.bias


def _problem(seed: int, n: int = 60, flippable: int = 30, distance: float | None = None):
    generator = torch.Generator().manual_seed(seed)
    weights = torch.zeros(10, 784, dtype=torch.float64)
    weights[:2] = torch.randn(2, 784, generator=generator, dtype=torch.float64)
    bias = torch.tensor([0.0, 0.0] + [-1e6] * 8, dtype=torch.float64)
    model = LinearOnBinarisedPixels(weights, bias)
    # Far from the threshold except ``flippable`` pixels per image, which lie within 0.05 to 0.25 of it.
    x = torch.where(torch.rand(n, 784, generator=generator, dtype=torch.float64) < 0.5, 0.0, 1.0)
    for row in x:
        chosen = torch.randperm(784, generator=generator)[:flippable]
        offset = (torch.full((flippable,), distance, dtype=torch.float64) if distance is not None
                  else 0.05 + 0.2 * torch.rand(flippable, generator=generator, dtype=torch.float64))
        row[chosen] = 0.5 + torch.where(torch.rand(flippable, generator=generator) < 0.5, -offset, offset)
    x = x.view(n, 1, 28, 28)
    y = model(x).argmax(1)  # every image is classified as itself
    return model, x, y


def _flip_gains(model, x, y):
    """Per image, how much each pixel's flip changes the margin (true minus other class), and the margin."""
    b = (x.flatten(1) > 0.5).double()
    other = 1 - y
    difference = model.weights[y] - model.weights[other]  # (n, 784)
    margin = (difference * b).sum(1)
    return difference * (1 - 2 * b), margin


@pytest.mark.parametrize("eps", [0.1, 0.2, 0.3])
def test_under_linf_it_fools_exactly_the_images_some_set_of_flips_fools(eps):
    model, x, y = _problem(seed=1)
    gains, margin = _flip_gains(model, x, y)
    within = ((x.flatten(1) - 0.5).abs() <= eps) & ~((x.flatten(1) - 0.5).abs() > 0.49)  # the near pixels only
    best = margin + torch.where(within, gains.clamp(max=0), torch.zeros_like(gains)).sum(1)
    foolable = (best < 0).numpy()
    assert 0 < foolable.sum() < len(y)  # the instance decides something
    attack = make_attack("threshold_flips_linf", "smoke", flips=40)
    outcome = attack.run(model, x, y, [eps], device=torch.device("cpu"), seed=0)
    assert np.array_equal(outcome.fooled[0], foolable)
    assert (outcome.perturbation[0][outcome.fooled[0]] <= eps + 1e-9).all()


def test_under_l2_it_spends_within_the_budget_and_finds_the_best_flips_when_they_cost_alike():
    model, x, y = _problem(seed=2, distance=0.2)  # every flip costs 0.2: at eps 0.5 six of them fit
    gains, margin = _flip_gains(model, x, y)
    near = (x.flatten(1) - 0.5).abs() < 0.49
    cheapest = torch.where(near, gains, torch.full_like(gains, float("inf"))).sort(1).values[:, :6]
    foolable = ((margin + cheapest.clamp(max=0).nan_to_num(posinf=0.0).sum(1)) < 0).numpy()
    assert 0 < foolable.sum() < len(y)
    outcome = make_attack("threshold_flips_l2", "smoke", flips=40).run(model, x, y, [0.5], device=torch.device("cpu"),
                                                                      seed=0)
    assert np.array_equal(outcome.fooled[0], foolable)
    assert (outcome.perturbation[0][outcome.fooled[0]] <= 0.5 + 1e-9).all()


def test_it_refuses_a_model_that_does_not_threshold():
    model = nn.Sequential(nn.Flatten(), nn.Linear(784, 10)).double()
    with pytest.raises(ValueError, match="input_threshold"):
        make_attack("threshold_flips_linf", "smoke").generate(model, torch.rand(2, 1, 28, 28, dtype=torch.float64),
                                                              torch.tensor([0, 1]), eps=0.3,
                                                              device=torch.device("cpu"))
