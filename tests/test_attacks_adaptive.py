"""The adaptive attacks: inside their balls, and stronger exactly where the paper's attacks fail."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from genrob.attacks import ADAPTIVE_ATTACKS, ATTACKS, PURIFIER_ATTACKS, make_attack, perturbation_norm
from genrob.attacks.pgd_margin import margin
from genrob.contract import logit_margin
from genrob.evaluate import load_surrogate

CPU = torch.device("cpu")


GRID = {"linf": (0.1, 0.3), "l2": (1.0, 3.0)}


@pytest.mark.parametrize("name", ADAPTIVE_ATTACKS + PURIFIER_ATTACKS + ("autoattack_rand_linf",))
def test_adaptive_attacks_stay_in_the_box_and_the_ball(name, models, few_images):
    attack = load_surrogate(make_attack(name, "smoke"), CPU)
    x, y = few_images.x[:8], few_images.y[:8]
    for model in models.values():
        for eps in GRID[attack.norm]:
            torch.manual_seed(0)
            adversarial = attack.generate(model, x, y, eps=eps, device=CPU)
            assert adversarial.shape == x.shape
            assert float(adversarial.min()) >= 0.0 and float(adversarial.max()) <= 1.0
            assert float(perturbation_norm(adversarial - x, attack.norm).max()) <= eps * (1 + 1e-5) + 1e-5


def test_margin_is_positive_exactly_when_misclassified():
    logits = torch.tensor([[-300.0, -10.0, -50.0], [-5.0, -7.0, -1.0], [2.0, 2.0, 0.0]])
    labels = torch.tensor([1, 0, 0])
    assert torch.equal(margin(logits, labels), torch.tensor([-40.0, 4.0, 0.0]))
    assert torch.equal(margin(logits, labels), -logit_margin(logits, labels))


class _Saturated(nn.Module):
    """A model's logits times a large factor: log-likelihood-sized gaps, where softmax saturates."""

    def __init__(self, model: nn.Module, factor: float) -> None:
        super().__init__()
        self.model, self.factor = model, factor

    def forward(self, x):
        return self.factor * self.model(x)


def test_margin_loss_attacks_where_cross_entropy_has_no_gradient(models, few_images):
    model = _Saturated(models["logistic_regression"], 1e4)
    x, y = few_images.x, few_images.y
    paper = make_attack("pgd_linf", "smoke").run(model, x, y, [0.3], device=CPU, seed=0).robust.mean()
    adaptive = make_attack("pgd_margin_linf", "smoke").run(model, x, y, [0.3], device=CPU, seed=0).robust.mean()
    unscaled = make_attack("pgd_linf", "smoke").run(models["logistic_regression"], x, y, [0.3],
                                                    device=CPU, seed=0).robust.mean()
    assert adaptive <= unscaled + 2 / len(y)  # the margin loss does not care about the scale ...
    assert paper > adaptive + 0.3  # ... cross-entropy does: the paper's PGD stalls


class _MaskedGradient(nn.Module):
    """The same predictions with a zero input gradient (the caricature of gradient masking)."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x):
        return self.model(x.detach()) + 0 * x.sum()


@pytest.mark.parametrize("blind", ["square_linf", "transfer_pgd_linf"])
def test_attacks_that_never_use_the_models_gradient_see_through_a_masked_one(blind, models, few_images):
    """Square only queries the scores; transfer crafts on the surrogate CNN: both fool the masked model
    that the white-box attack cannot move."""
    model = _MaskedGradient(models["logistic_regression"])
    x, y = few_images.x, few_images.y
    white_box = make_attack("pgd_margin_linf", "smoke").run(model, x, y, [0.3], device=CPU, seed=0).robust.mean()
    other = load_surrogate(make_attack(blind, "smoke"), CPU).run(model, x, y, [0.3], device=CPU, seed=0).robust.mean()
    assert white_box > other + 0.3


def test_a_transfer_attack_crafts_on_the_surrogate_whatever_the_target(models, few_images):
    """Same images, same seed: the adversarials do not depend on the target model."""
    attack = make_attack("transfer_pgd_l2", "smoke")
    assert attack.settings["surrogate"] == "cnn" and attack.settings["surrogate_profile"] == "smoke"
    with pytest.raises(RuntimeError, match="no surrogate model"):  # attacks load no model themselves
        attack.generate(models["gaussian_nb"], few_images.x[:2], few_images.y[:2], eps=1.0, device=CPU)
    load_surrogate(attack, CPU)
    x, y = few_images.x[:8], few_images.y[:8]
    crafted = []
    for model in models.values():
        torch.manual_seed(0)
        crafted.append(attack.generate(model, x, y, eps=2.0, device=CPU))
    assert torch.equal(crafted[0], crafted[1])
    assert not torch.equal(crafted[0], x)


class _Binarised(nn.Module):
    """A linear model behind the 0.5 threshold of the binary models."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x):
        from genrob.contract import binarize

        return self.model(binarize(x))


def test_the_margin_pgd_spends_its_l2_budget_on_pixels_cheap_to_flip(models, few_images):
    model, x, y = _Binarised(models["logistic_regression"]), few_images.x, few_images.y
    robust = {t: make_attack("pgd_margin_l2", "smoke", threshold_temperature=t).run(model, x, y, [1.5], device=CPU,
                                                                                    seed=0).robust.mean()
              for t in (None, 0.1)}
    assert robust[0.1] < robust[None] - 0.1


def test_restarts_are_kept_only_when_they_help(models, few_images):
    """More restarts can only fool more images: the first adversarial found is kept."""
    model, x, y = models["gaussian_nb"], few_images.x, few_images.y
    fooled = [make_attack("pgd_margin_l2", "smoke", restarts=r, steps=10).run(model, x, y, [1.0], device=CPU, seed=0)
              .fooled.sum() for r in (1, 3)]
    assert fooled[1] >= fooled[0]


class _Sampling(nn.Module):
    """A linear model whose logits get noise when it samples (the stochastic() convention)."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model, self.resample, self.calls_sampling = model, False, 0

    def forward(self, x):
        self.calls_sampling += int(self.resample)
        logits = self.model(x)
        return logits + torch.randn_like(logits) if self.resample else logits


def test_the_randomised_autoattack_attacks_the_sampling_model(models, few_images):
    model = _Sampling(models["logistic_regression"])
    make_attack("autoattack_rand_linf", "smoke").run(model, few_images.x[:8], few_images.y[:8], [0.1],
                                                      device=CPU, seed=0)
    assert model.calls_sampling > 0 and not model.resample
    assert ATTACKS["autoattack_rand_linf"].norm == "linf"


def test_autoattack_runs_the_original_budgets_not_torchattacks_defaults():
    """torchattacks' AutoAttack leaves APGD, APGD-T and FAB at 10 iterations (its issue #196); the original runs 100."""
    assert make_attack("autoattack_linf", "extended").settings == {"steps": 100, "queries": 5000, "targets": 9}
    parts = make_attack("autoattack_linf", "extended")._parts(nn.Linear(784, 10), 0.3, CPU)
    assert [type(p).__name__ for p in parts] == ["APGD", "APGDT", "FAB", "Square"]
    assert [getattr(p, "steps", None) for p in parts[:3]] == [100, 100, 100] and parts[3].n_queries == 5000
    assert parts[1].n_target_classes == parts[2].n_target_classes == 9


def test_autoattack_on_a_model_of_buffers_alone_is_silent(models, few_images, capsys):
    """A fitted naive Bayes has no parameters; torchattacks would print a complaint into the notebook."""
    make_attack("autoattack_linf", "smoke").generate(models["gaussian_nb"], few_images.x[:4], few_images.y[:4],
                                                     eps=0.1, device=CPU)
    assert capsys.readouterr().out == ""


class _Purified(nn.Module):
    """A linear model behind a denoiser whose backward pass gives nothing: a caricature of an unrolled
    denoiser's saturated steps. Its forward value is the input itself."""

    purifies_input = True

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x):
        from genrob.contract import purify

        return self.model(purify(x, lambda image: image.detach() + 0 * image))


def test_bpda_sees_through_a_denoiser_whose_gradient_vanishes(models, few_images):
    """Margin PGD cannot move through the denoiser; with the identity's gradient in its place (BPDA) it
    attacks the model behind it, and every judgement stays the model's own forward pass."""
    from genrob.contract import identity_gradient_through_purifiers, purifies_input

    model, x, y = _Purified(models["logistic_regression"]), few_images.x, few_images.y
    assert purifies_input(model) and not purifies_input(models["logistic_regression"])
    with identity_gradient_through_purifiers():
        assert torch.equal(model(x), models["logistic_regression"](x))
    through = make_attack("pgd_margin_linf", "smoke").run(model, x, y, [0.3], device=CPU, seed=0).robust.mean()
    bpda = make_attack("bpda_pgd_margin_linf", "smoke").run(model, x, y, [0.3], device=CPU, seed=0).robust.mean()
    plain = make_attack("pgd_margin_linf", "smoke").run(models["logistic_regression"], x, y, [0.3], device=CPU,
                                                        seed=0).robust.mean()
    assert through > bpda + 0.3 and bpda == pytest.approx(plain, abs=2 / len(y))


def test_the_ladders_rungs_double_margin_pgds_steps_and_restarts():
    from genrob.attacks import MARGIN_PGD_LADDERS

    for ladder in MARGIN_PGD_LADDERS.values():
        settings = [make_attack(rung, "extended").settings for rung in ladder]
        assert [s["steps"] for s in settings] == [100, 200, 400, 800]
        assert [s["restarts"] for s in settings] == [2, 4, 8, 16]
