"""genrob.models.mixture: the Gaussian mixture classifier is scikit-learn's mixtures, kept by validation."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from genrob.data import Split
from genrob.models import load_model, training_report
from genrob.models.mixture import GaussianMixtureClassifier, fit_mixtures


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
