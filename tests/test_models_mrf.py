"""genrob.models.mrf: the Ising model, its pseudo-likelihood and its log Z by AIS."""

from __future__ import annotations

import itertools

import pytest
import torch

from genrob.models import load_model, training_report
from genrob.models.mrf import IsingClassifier, ais_log_partition, negative_energy


def _tiny_ising(seed: int = 0, classes: int = 2, size: int = 3):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(classes, size, size, generator=g), torch.randn(classes, size, size - 1, generator=g),
            torch.randn(classes, size - 1, size, generator=g))


def _all_fields(size: int = 3) -> torch.Tensor:
    return torch.tensor(list(itertools.product([0.0, 1.0], repeat=size * size))).view(-1, size, size)


def test_ais_matches_the_exact_partition_function_of_a_small_grid():
    unary, horizontal, vertical = _tiny_ising()
    exact = torch.logsumexp(negative_energy(_all_fields(), unary, horizontal, vertical), 0)
    estimate, se = ais_log_partition(unary, horizontal, vertical, torch.zeros_like(unary), chains=400, steps=400)
    assert (se > 0).all() and (se < 0.05).all()
    assert ((estimate - exact).abs() < 5 * se + 0.01).all()


def test_pseudo_likelihood_is_the_sum_of_exact_pixel_conditionals():
    unary, horizontal, vertical = _tiny_ising(seed=1)
    model = IsingClassifier(3, 3, n_classes=2)
    with torch.no_grad():
        model.unary.copy_(unary), model.horizontal.copy_(horizontal), model.vertical.copy_(vertical)
    x = (torch.rand(4, 3, 3, generator=torch.Generator().manual_seed(2)) < 0.5).to(model.unary.dtype)
    y = torch.tensor([0, 1, 1, 0])
    total = 0.0
    for image, label in zip(x, y):
        for i in range(9):
            flipped = image.clone().view(-1)
            flipped[i] = 1 - flipped[i]
            both = negative_energy(torch.stack([image, flipped.view(3, 3)]), unary, horizontal, vertical)[:, label]
            total += float(both[0] - torch.logsumexp(both, 0))
    assert model.negative_log_pseudo_likelihood(x, y).item() == pytest.approx(-total / 4, rel=1e-5)


def test_with_its_exact_log_z_the_mrf_is_a_normalised_distribution():
    unary, horizontal, vertical = _tiny_ising(seed=3)
    model = IsingClassifier(3, 3, n_classes=2)
    fields = _all_fields()
    with torch.no_grad():
        model.unary.copy_(unary), model.horizontal.copy_(horizontal), model.vertical.copy_(vertical)
        model.log_partition.copy_(torch.logsumexp(negative_energy(fields, unary, horizontal, vertical), 0))
        log_conditional = model(fields.unsqueeze(1)) - model.log_prior
    assert torch.allclose(torch.logsumexp(log_conditional, 0), torch.zeros(2), atol=1e-4)


def test_the_trained_mrf_reports_its_log_z_with_errors(mnist):
    model = load_model("mrf", "smoke", data=mnist)
    report = training_report("mrf", "smoke")["report"]
    assert torch.allclose(model.log_partition, torch.tensor(report["log_partition"]))
    assert all(0 < se < 1 for se in report["log_partition_se"])
