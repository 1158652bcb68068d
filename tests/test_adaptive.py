"""The adaptive attacks: inside their balls, and stronger exactly where the paper's attacks fail."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from genrob.attacks import ADAPTIVE_ATTACKS, ATTACKS, make_attack, perturbation_norm
from genrob.attacks.pgd_margin import margin

CPU = torch.device("cpu")
GRID = {"linf": (0.1, 0.3), "l2": (1.0, 3.0)}


@pytest.mark.parametrize("name", ADAPTIVE_ATTACKS + ("autoattack_rand_linf",))
def test_adaptive_attacks_stay_in_the_box_and_the_ball(name, models, few_images):
    attack = make_attack(name, "smoke")
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
    other = make_attack(blind, "smoke").run(model, x, y, [0.3], device=CPU, seed=0).robust.mean()
    assert white_box > other + 0.3


def test_a_transfer_attack_crafts_on_the_surrogate_whatever_the_target(models, few_images):
    """Same images, same seed: the adversarials do not depend on the target model."""
    attack = make_attack("transfer_pgd_l2", "smoke")
    assert attack.settings["surrogate"] == "cnn" and attack.settings["surrogate_profile"] == "smoke"
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
        from genrob.models.layers import binarize

        return self.model(binarize(x))


def test_the_smooth_threshold_gradient_peaks_at_the_threshold_and_leaves_the_forward_value():
    from genrob.models.layers import binarize, smooth_threshold_gradient

    x = torch.tensor([0.0, 0.45, 0.5, 0.9], requires_grad=True)
    (straight,) = torch.autograd.grad(binarize(x).sum(), x)
    with smooth_threshold_gradient(0.1):
        value = binarize(x)
        (smooth,) = torch.autograd.grad(value.sum(), x)
    assert torch.equal(straight, torch.ones(4)) and torch.equal(value, torch.tensor([0.0, 0.0, 0.0, 1.0]))
    assert smooth.argmax() == 2 and smooth[1] > 10 * smooth[0]
    (after,) = torch.autograd.grad(binarize(x).sum(), x)
    assert torch.equal(after, straight)  # the context restores the identity


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


def test_the_papers_worst_case_is_its_lowest_number_at_the_budget():
    from genrob.adaptive import paper_worst_case

    paper = paper_worst_case(0.3)
    assert paper.loc["CNN VAE", "paper"] == pytest.approx(0.678)  # PGD, below its FGSM 0.821 and the rest
    assert paper.loc["CNN VAE", "paper_attack"] == "pgd_linf"
    assert paper.loc["Logistic Regression", "paper"] == 0.0


def test_the_mnist_challenge_reference_is_cited_data_strongest_attack_first():
    from genrob.paper import mnist_challenge

    challenge = mnist_challenge()
    assert challenge["robust_accuracy"].is_monotonic_increasing
    assert challenge["robust_accuracy"].iloc[0] == pytest.approx(0.88)  # the leaderboard's best attack
    assert 0.88 <= challenge["robust_accuracy"].max() <= 0.97 and set(challenge["eps"]) == {0.3}


def test_the_reference_comparison_sets_our_adversarial_cnn_beside_the_challenge():
    import pandas as pd

    from genrob.adaptive import FamilyEvidence, reference_comparison
    from genrob.params import sweep_config

    config = sweep_config(profile="smoke", family="reference")
    worst = pd.DataFrame([{"model": "cnn_adversarial", "norm": "linf", "eps": 0.3, "n": 50,
                           "worst_case_accuracy": 0.8, "ci_low": 0.67, "ci_high": 0.89}])
    results = pd.DataFrame([{"model": "cnn_adversarial", "attack": "pgd_linf", "eps": 0.3, "robust_accuracy": 0.9}])
    table = reference_comparison([FamilyEvidence(config=config, results=results, worst_case=worst, checks=None)])
    assert table["robust_accuracy"].tolist() == [0.8, 0.9, 0.88, 0.9252]
    assert table["n"].tolist() == [50, 50, 10000, 10000]


@pytest.mark.parametrize("paper, worst, high, verdict", [
    (0.60, 0.55, 0.65, "stands"), (0.60, 0.70, 0.80, "stands"), (0.90, 0.50, 0.60, "weakened"),
    (0.90, 0.10, 0.20, "overturned"), (float("nan"), 0.1, 0.2, "not in the paper"),
])
def test_verdicts_compare_the_paper_with_our_worst_case(paper, worst, high, verdict):
    from genrob.adaptive import _verdict

    assert _verdict(paper, worst, high) == verdict


def test_unknown_families_are_refused_before_any_work():
    from genrob.adaptive import families_to_evaluate
    from genrob.params import ParameterError

    assert families_to_evaluate(None)[-1] == "reference" and "conv_vae" in families_to_evaluate(None)
    with pytest.raises(ParameterError, match="known families"):
        families_to_evaluate(["conv_vea"])


def test_autoattack_runs_the_original_budgets_not_torchattacks_defaults():
    """torchattacks' AutoAttack leaves APGD, APGD-T and FAB at 10 iterations (its issue #196); the original runs 100."""
    assert make_attack("autoattack_linf", "extended").settings == {"steps": 100, "queries": 5000, "targets": 9}
    parts = make_attack("autoattack_linf", "extended")._parts(nn.Linear(784, 10), 0.3, CPU)
    assert [type(p).__name__ for p in parts] == ["APGD", "APGDT", "FAB", "Square"]
    assert [getattr(p, "steps", None) for p in parts[:3]] == [100, 100, 100] and parts[3].n_queries == 5000
    assert parts[1].n_target_classes == parts[2].n_target_classes == 9


def test_every_model_is_evaluated_once_in_its_own_family():
    from genrob.adaptive import families_to_evaluate, family_config
    from genrob.models import model_names

    evaluated = [m for f in families_to_evaluate() for m in family_config(f, profile="smoke").models]
    assert sorted(evaluated) == sorted(model_names())


def test_autoattack_on_a_model_of_buffers_alone_is_silent(models, few_images, capsys):
    """A fitted naive Bayes has no parameters; torchattacks would print a complaint into the notebook."""
    make_attack("autoattack_linf", "smoke").generate(models["gaussian_nb"], few_images.x[:4], few_images.y[:4],
                                                     eps=0.1, device=CPU)
    assert capsys.readouterr().out == ""


def test_a_family_spared_costly_attacks_keeps_the_others_and_gets_eot_in_place_of_randomised_autoattack():
    from genrob.adaptive import check_configs, family_config, not_run_note, spared_runs

    spared = family_config("conv_vae", profile="default")
    assert not {"autoattack_linf", "autoattack_l2", "square_linf"} & set(spared.attacks)
    assert {"pgd_margin_linf", "pgd_margin_l2", "transfer_pgd_linf", "cw_l2"} <= set(spared.attacks)
    noise_runs = [c for c in check_configs(spared, family="conv_vae") if len(c.models) < len(spared.models)]
    assert [c.attacks for c in noise_runs] == [("eot_pgd_linf",)] and "cnn" not in noise_runs[0].models
    assert "autoattack_linf" in family_config("conv_vae", profile="full").attacks  # the full profile runs all
    assert "autoattack_linf" in family_config("vae", profile="default").attacks
    assert "`square_linf`" in not_run_note("conv_vae", profile="default")
    # ... on its generative models: the CNNs, cheap, get them all the same
    cheap, = spared_runs(spared, family="conv_vae")
    assert set(cheap.models) == {"cnn", "cnn_binary"}
    assert {"autoattack_linf", "autoattack_l2", "square_linf"} <= set(cheap.attacks)
    assert spared_runs(family_config("vae", profile="default"), family="vae") == []
    assert not_run_note("vae", profile="default") == not_run_note("conv_vae", profile="full") == ""


def test_the_adaptive_evaluation_takes_the_profiles_n_for_the_family():
    from genrob.adaptive import family_config
    from genrob.params import sweep_config

    assert family_config("vae", profile="extended").n == 100 < family_config("vae", profile="extended", n=300).n
    assert family_config("naive_bayes", profile="extended").n == 1000  # the chapter's, where not set
    assert family_config("conv_vae", profile="extended").n == 30
    # the default profile reuses each chapter's images, so the paper's attacks are not run twice
    assert family_config("vae", profile="default").n == sweep_config(profile="default", family="vae").n == 50


def test_the_papers_claims_are_judged_on_the_worst_case_and_shown_under_its_own_attacks():
    import pandas as pd

    from genrob.adaptive import FamilyEvidence, _finding, claims, claims_summary
    from genrob.params import sweep_config

    def worst(model, norm, eps, acc, low, high):
        return {"model": model, "norm": norm, "eps": eps, "n": 100, "worst_case_accuracy": acc,
                "ci_low": low, "ci_high": high}

    def paper_row(model, norm, eps, acc, low, high, attack="pgd_linf"):
        return {"model": model, "attack": attack, "norm": norm, "eps": eps, "robust_accuracy": acc,
                "robust_ci_low": low, "robust_ci_high": high}

    worst_rows = [worst("gaussian_nb", "linf", 0.3, 0.02, 0.0, 0.06),
                  worst("logistic_regression", "linf", 0.3, 0.0, 0.0, 0.04),
                  worst("cnn_vae_binary", "linf", 0.3, 0.1, 0.05, 0.2),
                  worst("cnn_vae_crf", "linf", 0.3, 0.6, 0.5, 0.7)]
    results = pd.DataFrame([paper_row("gaussian_nb", "linf", 0.3, 0.45, 0.4, 0.5),
                            paper_row("gaussian_nb", "linf", 0.3, 0.9, 0.85, 0.95, attack="fgsm_linf"),
                            paper_row("logistic_regression", "linf", 0.3, 0.0, 0.0, 0.04),
                            paper_row("cnn_vae_binary", "linf", 0.3, 0.6, 0.5, 0.7),
                            paper_row("cnn_vae_crf", "linf", 0.3, 0.7, 0.6, 0.8),
                            paper_row("cnn_vae_crf", "linf", 0.3, 0.6, 0.5, 0.7, attack="pgd_margin_linf")])
    config = sweep_config(profile="smoke", models=["gaussian_nb", "logistic_regression"])
    table = claims([FamilyEvidence(config=config, results=results, worst_case=pd.DataFrame(worst_rows), checks=None)])
    table = table.set_index("model")
    # Under the paper's strongest attack (PGD, not FGSM) naive Bayes looked more robust; the worst case says no.
    assert table.loc["gaussian_nb", ["model_paper_attacks", "paper_attacks", "worst_case", "finding"]].tolist() == [
        0.45, "more robust", "no clear difference", "weakened"]
    assert _finding("more robust", "no clear difference", 0.0, 0.0) == "overturned"  # both at zero: not ahead
    assert _finding("more robust", "less robust", 0.1, 0.5) == "overturned"
    # "A CRF adds no robustness": the CRF's worst case lies clearly above, so the claim is overturned.
    assert table.loc["cnn_vae_crf", ["model_paper_attacks", "worst_case", "finding"]].tolist() == [
        0.7, "more robust", "overturned"]
    assert set(table["norm"]) == {"linf"}  # no l_2 evidence, no l_2 rows
    assert claims_summary(table.reset_index()).startswith("- **weakened** (1 of 2)")


def test_each_paper_claim_is_worded_once_and_names_registered_models():
    from genrob.models import model_names
    from genrob.paper import paper_claims

    table = paper_claims()
    assert table["claim"].is_unique
    assert set(table["model"]) | set(table["than"]) <= set(model_names())
    assert set(table["expected"]) <= {"more robust", "no difference"}
