"""genrob.models.adversarial: the PGD-trained reference and its own attacks."""

from __future__ import annotations

import pytest
import torch

from genrob.profiles import get_profile


def test_the_training_attack_stays_in_the_ball_and_raises_the_loss(models, few_images):
    from genrob.models.adversarial import pgd_cross_entropy

    model, x, y = models["logistic_regression"], few_images.x, few_images.y
    torch.manual_seed(0)
    adversarial = pgd_cross_entropy(model, x, y, eps=0.3, steps=10, step=0.04)
    assert float((adversarial - x).abs().max()) <= 0.3 + 1e-6
    assert float(adversarial.min()) >= 0 and float(adversarial.max()) <= 1
    with torch.no_grad():
        clean_loss = torch.nn.functional.cross_entropy(model(x), y)
        attacked_loss = torch.nn.functional.cross_entropy(model(adversarial), y)
    assert float(attacked_loss) > float(clean_loss) + 1.0
    assert model.training is False  # the attack leaves the model's mode as it found it


def test_training_takes_fewer_longer_steps_where_a_profile_trains_less():
    from genrob.models.adversarial import FULL_TRAINING_STEPS, TOTAL_STEP, adversarial_training

    full, default = adversarial_training(get_profile("extended")), adversarial_training(get_profile("default"))
    assert full["steps"] == FULL_TRAINING_STEPS == 40 and full["method"] == "pgd_cross_entropy"
    assert 4 <= default["steps"] < full["steps"]
    assert TOTAL_STEP * 0.3 / FULL_TRAINING_STEPS == pytest.approx(0.01)  # Madry et al.'s step at full effort


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
