"""genrob.models.naive_bayes: the Gaussian log joint and its variance floor."""

from __future__ import annotations

import pytest
import torch
from scipy.stats import norm as gaussian

from genrob.models import training_report
from genrob.models.naive_bayes import GaussianNaiveBayes


def test_naive_bayes_logits_are_the_gaussian_log_joint(models, few_images):
    nb = models["gaussian_nb"]
    x = few_images.x[:3].flatten(1).double().numpy()
    std = (nb.variance + nb.variance_floor).sqrt().double().numpy()
    expected = [[gaussian.logpdf(xi, nb.mean[c].double().numpy(), std[c]).sum() + float(nb.log_prior[c])
                 for c in range(10)] for xi in x]
    assert torch.allclose(nb(few_images.x[:3]).double(), torch.tensor(expected), rtol=1e-4)


def test_naive_bayes_floor_is_chosen_on_validation(models):
    report = training_report("gaussian_nb", "smoke")["report"]
    best = report["variance_floors"][report["val_accuracy"].index(max(report["val_accuracy"]))]
    assert report["variance_floor"] == best == pytest.approx(float(models["gaussian_nb"].variance_floor))


def test_zero_variance_pixels_need_the_floor():
    nb = GaussianNaiveBayes()
    nb.variance.zero_()  # every pixel constant within its class, as the border is
    x = torch.full((1, 1, 28, 28), 0.5)
    assert not torch.isfinite(nb(x)).any()
    nb.variance_floor.fill_(0.01)
    assert torch.isfinite(nb(x)).all()
