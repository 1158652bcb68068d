"""genrob.models.adversarial: the adversarially trained reference and its own attack."""

from __future__ import annotations

import torch


def test_fgsm_with_random_start_stays_in_the_ball(models, few_images):
    from genrob.models.adversarial import fgsm_random_start

    x, y = few_images.x, few_images.y
    adversarial = fgsm_random_start(models["logistic_regression"], x, y, eps=0.3, step=0.375)
    assert float((adversarial - x).abs().max()) <= 0.3 + 1e-6
    assert float(adversarial.min()) >= 0 and float(adversarial.max()) <= 1
    assert not torch.equal(adversarial, x)


def test_adversarial_training_buys_robustness_the_plain_cnn_lacks(mnist):
    from genrob.data import evaluation_subset
    from genrob.models import load_model, training_report
    from genrob.models.adversarial import pgd_accuracy

    images = evaluation_subset(mnist.test, 200, seed=0)
    plain = pgd_accuracy(load_model("cnn", "smoke", data=mnist), images, eps=0.3, steps=20)
    adversarial = pgd_accuracy(load_model("cnn_adversarial", "smoke", data=mnist), images, eps=0.3, steps=20)
    assert plain <= 0.02 and adversarial >= plain + 0.05
    report = training_report("cnn_adversarial", "smoke")["report"]
    assert report["val_pgd_accuracy"] == max(report["val_pgd_accuracy_per_epoch"])  # kept the most robust epoch
