"""Each attack stays in its eps ball and in [0, 1], and its numbers behave."""

from __future__ import annotations

import copy
import warnings

import numpy as np
import pytest
import torch
from torch import nn

from genrob.attacks import ATTACKS, PAPER_ATTACKS, cost_ratio, make_attack, perturbation_norm
from genrob.attacks.base import AttackConstraintError, torchattacks_instance
from genrob.attacks.cw import _margin_cw_class
from genrob.contract import counting_evaluations
from genrob.profiles import PAPER_L2_EPS, PAPER_LINF_EPS, get_profile

CPU = torch.device("cpu")


def _grid(attack):
    return PAPER_LINF_EPS if attack.norm == "linf" else PAPER_L2_EPS


def test_the_registry_holds_the_papers_ten_attacks():
    assert len(PAPER_ATTACKS) == 10 and set(PAPER_ATTACKS) < set(ATTACKS)
    norms = {name: ATTACKS[name].norm for name in PAPER_ATTACKS}
    assert sum(n == "linf" for n in norms.values()) == 6 and sum(n == "l2" for n in norms.values()) == 4
    assert make_attack("pgd_linf").settings["steps"] == 40 and make_attack("pgd_l2").settings["steps"] == 50
    minimisation = {name for name, cls in ATTACKS.items() if cls.minimisation}
    assert minimisation == {"cw_l2", "linear_search_contrast_reduction_linf",
                            "binary_search_contrast_reduction_linf", "gaussian_blur_linf"}


@pytest.mark.parametrize("name", PAPER_ATTACKS)
@pytest.mark.parametrize("model_name", ["gaussian_nb", "logistic_regression"])
def test_attack_outputs_stay_in_the_box_and_the_ball(name, model_name, models, few_images):
    model, attack = models[model_name], make_attack(name, "smoke")
    x, y = few_images.x[:12], few_images.y[:12]
    for eps in ([None] if attack.minimisation else [_grid(attack)[0], _grid(attack)[-1]]):
        torch.manual_seed(0)
        adversarial = attack.generate(model, x, y, eps=eps, device=CPU)
        assert adversarial.shape == x.shape
        assert float(adversarial.min()) >= 0.0 and float(adversarial.max()) <= 1.0
        if eps is not None:
            assert float(perturbation_norm(adversarial - x, attack.norm).max()) <= eps * (1 + 1e-5) + 1e-5


@pytest.mark.parametrize("name", PAPER_ATTACKS)
def test_robust_accuracy_is_below_clean_and_falls_with_eps(name, models, few_images):
    attack = make_attack(name, "smoke")
    for model in models.values():
        outcome = attack.run(model, few_images.x, few_images.y, _grid(attack), device=CPU, seed=0)
        robust = outcome.robust.mean(1)
        assert (robust <= outcome.clean_correct.mean() + 1e-12).all()
        assert (np.diff(robust) <= 1e-12).all() or not attack.minimisation and _tolerated(robust)
        assert not (outcome.fooled & ~outcome.clean_correct).any()


def _tolerated(robust: np.ndarray) -> bool:
    # Fixed-eps attacks are run per eps with fresh randomness; their curve may
    # wiggle by an image or two, never by more.
    return (np.diff(robust) <= 2 / 40 + 1e-12).all()


def test_white_box_attacks_defeat_logistic_regression(models, few_images):
    model = models["logistic_regression"]
    for name, eps in [("pgd_linf", 0.3), ("pgd_l2", 5.0), ("cw_l2", 5.0)]:
        attack = make_attack(name, "default")
        outcome = attack.run(model, few_images.x, few_images.y, [eps], device=CPU, seed=0)
        assert outcome.robust.mean() <= 0.05, name


def test_iterative_pgd_is_at_least_as_strong_as_fgsm(models, few_images):
    """In float32, as every evidence profile computes (in the smoke profile's float64, cross-entropy
    gradients that float32 rounds to zero survive, and FGSM's single full step can come out ahead)."""
    for model in models.values():
        model = copy.deepcopy(model).float()
        results = {name: make_attack(name, "smoke").run(model, few_images.x.float(), few_images.y, PAPER_LINF_EPS,
                                                        device=CPU, seed=0).robust.mean(1)
                   for name in ("fgsm_linf", "pgd_linf")}
        assert (results["pgd_linf"] <= results["fgsm_linf"] + 2 / 40).all()


def test_cw_margin_is_right_for_negative_logits():
    """torchattacks' own margin is 0 when every logit is negative (its issue #184)."""
    logits = torch.tensor([[-300.0, -10.0, -50.0], [-5.0, -7.0, -1.0]])
    labels = torch.tensor([1, 0])
    cw = torchattacks_instance(_margin_cw_class(), _BuffersOnly(), CPU, c=1.0, kappa=0.0)
    cw.scale = torch.ones(2)
    assert torch.equal(cw.f(logits, labels), torch.tensor([40.0, 0.0]))
    original = _margin_cw_class().__mro__[1].f(cw, logits, labels)
    assert original[0] == 0  # the bug our subclass repairs


def test_cw_can_move_pixels_that_start_at_zero():
    """atanh(-1) is infinite: without the shrink no black pixel could ever change."""
    cw = torchattacks_instance(_margin_cw_class(), _BuffersOnly(), CPU)
    w = cw.inverse_tanh_space(torch.tensor([0.0, 1.0, 0.5]))
    assert torch.isfinite(w).all()


class _BuffersOnly(nn.Module):
    def __init__(self):
        super().__init__()
        self.register_buffer("weight", torch.randn(784, 10, generator=torch.Generator().manual_seed(0)))

    def forward(self, x):
        return x.flatten(1) @ self.weight


def test_a_model_of_buffers_alone_is_attacked_on_its_device_silently(few_images, capsys):
    attack = make_attack("pgd_linf", "smoke")
    adversarial = attack.generate(_BuffersOnly(), few_images.x[:4], few_images.y[:4], eps=0.1, device=CPU)
    assert adversarial.device == CPU and not torch.equal(adversarial, few_images.x[:4])
    assert "Failed to set device" not in capsys.readouterr().out


def test_an_attack_leaving_its_ball_is_caught(models, few_images):
    attack = make_attack("fgsm_linf", "smoke")
    attack.generate = lambda model, x, y, *, eps, device: (x + 2 * eps).clamp(0, 1)
    with pytest.raises(AttackConstraintError, match="ball"):
        attack.run(models["gaussian_nb"], few_images.x, few_images.y, [0.1], device=CPU, seed=0)


def test_unknown_attack_settings_are_refused():
    with pytest.raises(ValueError, match="unknown settings"):
        make_attack("pgd_linf", "smoke", stpes=10)


@pytest.mark.parametrize("norm", ["linf", "l2"])
def test_projection_lands_in_the_ball_and_the_box(norm, few_images):
    from genrob.attacks.base import project

    x = few_images.x[:8]
    far = torch.rand_like(x)
    for eps in (0.1, 2.0):
        inside = project(x, far, eps, norm)
        assert float(perturbation_norm(inside - x, norm).max()) <= eps * (1 + 1e-5)
        assert float(inside.min()) >= 0 and float(inside.max()) <= 1
    near = x + 1e-3 * (far - x)
    assert torch.allclose(project(x, near, 5.0, norm), near)  # already inside: unchanged


def test_minimisation_counts_projected_adversarials(models, few_images):
    """An adversarial too large for eps still counts if its projection into the ball fools the model."""
    attack = make_attack("gaussian_blur_linf", "smoke")
    model = models["logistic_regression"]
    clean_correct, adversarial = attack.search(model, few_images.x, few_images.y, device=CPU, seed=0)
    outcome = attack.outcome(model, few_images.x, few_images.y, clean_correct, adversarial, [0.1, 0.3, 1.0])
    norms = perturbation_norm(adversarial - few_images.x, "linf").numpy()
    wrong = (model(adversarial).argmax(1) != few_images.y).numpy()
    for k, eps in enumerate([0.1, 0.3, 1.0]):
        # at least every adversarial found within eps ...
        assert (outcome.fooled[k] >= (clean_correct & wrong & (norms <= eps + 1e-5))).all()
    # ... and at eps 1 the projection is the adversarial itself.
    assert (outcome.fooled[2] == (clean_correct & wrong)).all()


@pytest.mark.parametrize("name, foolbox_class", [("linear_search_contrast_reduction_linf",
                                                  "LinearSearchContrastReductionAttack"),
                                                 ("gaussian_blur_linf", "GaussianBlurAttack")])
@pytest.mark.parametrize("model_name", ["gaussian_nb", "logistic_regression"])
def test_searches_that_drop_decided_images_find_foolboxs_adversarials(name, foolbox_class, model_name, models,
                                                                      few_images):
    from genrob.attacks._libraries import foolbox
    from genrob.attacks.base import foolbox_model

    model, attack, (x, y) = models[model_name], make_attack(name, "default"), (few_images.x, few_images.y)
    ours = attack.generate(model, x, y, eps=None, device=CPU)
    fb = foolbox()
    reference = getattr(fb.attacks, foolbox_class)(distance=fb.distances.linf, steps=attack.settings["steps"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # foolbox calls scipy.ndimage.filters
        theirs = reference.run(foolbox_model(model, CPU), x, fb.criteria.Misclassification(y))
    assert torch.equal(ours, theirs)
    # the images left the batch at many different steps, so dropping them was exercised
    assert len(np.unique(perturbation_norm(ours - x, "linf").numpy().round(6))) > 5
    clean_correct = (model(x).argmax(1) == y).numpy()
    grid = [0.05, *PAPER_LINF_EPS]
    fooled = [attack.outcome(model, x, y, clean_correct, adv, grid).fooled for adv in (ours, theirs)]
    assert np.array_equal(*fooled)


def test_every_cost_setting_is_a_positive_count_of_its_attack():
    for name, cls in ATTACKS.items():
        for profile in ("smoke", "default", "extended"):
            settings = cls.default_settings(get_profile(profile))
            assert all(settings[key] > 0 for key in cls.cost_settings), (name, profile)
        assert cost_ratio(name, "extended", "extended") == 1


def test_cost_ratio_multiplies_the_budgets_an_attack_spends_its_time_on():
    # the default profile runs the adaptive attacks at a fifth of their budgets
    assert cost_ratio("autoattack_rand_linf", "extended", "default") == 25  # five times the steps and the draws
    assert cost_ratio("square_linf", "extended", "default") == 5
    assert cost_ratio("fgsm_linf", "extended", "smoke") == 1
    assert cost_ratio("apgd_t_linf", "extended", "default") == 5 * 9 / 2  # steps, and 9 target classes against 2


def test_an_attack_on_images_it_cannot_break_costs_its_cost_ratio(models, few_images):
    model, x, y = models["logistic_regression"], few_images.x[:4], few_images.y[:4]
    gradients = {}
    for profile in ("smoke", "default"):
        with counting_evaluations(model) as evaluations:  # at eps 1e-6 nothing breaks: every step is spent
            make_attack("pgd_margin_linf", profile).run(model, x, y, [1e-6], device=CPU, seed=0)
        gradients[profile] = evaluations.gradient
    assert gradients["smoke"] > 0
    assert gradients["default"] == gradients["smoke"] * cost_ratio("pgd_margin_linf", "default", "smoke")
