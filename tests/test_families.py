"""The mixture, MRF and CNN families compute what their chapters say they compute."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from genrob.data import Split
from genrob.models import load_model, training_report
from genrob.models.cnn import MeanFieldDenoiser, salt_and_pepper
from genrob.models.layers import binarize
from genrob.models.mixture import GaussianMixtureClassifier, fit_mixtures
from genrob.models.mrf import IsingClassifier, ais_log_partition, negative_energy


def test_binarize_thresholds_forward_and_passes_gradients_straight_through():
    x = torch.tensor([0.2, 0.5, 0.7], requires_grad=True)
    out = binarize(x)
    assert out.tolist() == [0.0, 0.0, 1.0]
    (grad,) = torch.autograd.grad((out * torch.tensor([1.0, 2.0, 3.0])).sum(), x)
    assert grad.tolist() == [1.0, 2.0, 3.0]


@pytest.mark.parametrize("covariance_type", ["spherical", "diag"])
def test_mixture_logits_are_scikit_learns_log_likelihoods(covariance_type, mnist):
    train = Split(mnist.train.x[:1500], mnist.train.y[:1500])
    mixtures = fit_mixtures(train, 3, covariance_type, seed=0)
    log_prior = np.log(np.full(10, 0.1))
    model = GaussianMixtureClassifier(5)  # more slots than components: the spare ones weigh nothing
    model.load_mixtures(mixtures, log_prior)
    x = mnist.test.x[:6]
    expected = np.stack([g.score_samples(x.flatten(1).double().numpy()) for g in mixtures], 1) + log_prior
    assert np.allclose(model(x).double().numpy(), expected, rtol=1e-5, atol=1e-2)


def test_the_mixture_computes_its_per_component_terms_once_per_state_of_its_buffers(mnist):
    model = GaussianMixtureClassifier(3)
    model.load_mixtures(fit_mixtures(Split(mnist.train.x[:600], mnist.train.y[:600]), 3, "diag", seed=0),
                        np.log(np.full(10, 0.1)))
    x = mnist.test.x[:4]
    fitted, terms = model(x), model._terms()
    assert model._terms() is terms  # an attack's every call reuses them
    untrained = GaussianMixtureClassifier(3)
    model.load_state_dict(untrained.state_dict())  # new buffer values: recomputed
    assert model._terms() is not terms and torch.equal(model(x), untrained(x))
    assert not torch.equal(model(x), fitted)


def test_the_mixture_kept_is_the_best_of_its_grid(mnist):
    load_model("gmm", "smoke", data=mnist)
    report = training_report("gmm", "smoke")["report"]
    assert report["chosen"]["val_accuracy"] == max(g["val_accuracy"] for g in report["grid"])
    assert {g["covariance_type"] for g in report["grid"]} == {"spherical", "diag"}


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


def test_the_denoiser_removes_noise_and_passes_gradients(mnist):
    clean = (mnist.test.x[:50] > 0.5).float()
    noisy = salt_and_pepper(clean, 0.05, seed=0)
    denoised = MeanFieldDenoiser()(noisy)
    errors_before = (noisy != clean).sum()
    errors_after = ((denoised > 0.5).float() != clean).sum()
    assert errors_after < errors_before / 2
    x = noisy.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(MeanFieldDenoiser()(x).sum(), x)
    assert grad.abs().sum() > 0
