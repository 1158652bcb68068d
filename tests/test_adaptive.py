"""genrob.adaptive: the worst case image by image, the verdicts on the paper's numbers and claims."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from synthetic import naive_bayes_config

from genrob.evaluate import sweep


def test_the_papers_worst_case_is_its_lowest_number_at_the_budget():
    from genrob.adaptive import paper_worst_case

    paper = paper_worst_case(0.3)
    assert paper.loc["CNN VAE", "paper"] == pytest.approx(0.678)  # PGD, below its FGSM 0.821 and the rest
    assert paper.loc["CNN VAE", "paper_attack"] == "pgd_linf"
    assert paper.loc["Logistic Regression", "paper"] == 0.0


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


def test_every_model_is_evaluated_once_in_its_own_family():
    from genrob.adaptive import families_to_evaluate, family_config
    from genrob.models import model_names

    evaluated = [m for f in families_to_evaluate() for m in family_config(f, profile="smoke").models]
    assert sorted(evaluated) == sorted(model_names())


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


def test_the_worst_case_is_image_by_image(models, fresh_cache, mnist):
    """An image is robust only if every attack missed it; the worst case is at most the best attack."""
    from genrob.adaptive import worst_case
    from genrob.evaluate import per_image_outcome

    attacks = ["fgsm_linf", "additive_uniform_noise_linf", "binary_search_contrast_reduction_linf"]
    config = naive_bayes_config(attacks=attacks)
    table = sweep(config)
    worst = worst_case(config, norm="linf", data=mnist)
    assert len(worst) == len(config.models) * len(config.linf_eps) and (worst["attacks"] == 3).all()
    for row in worst.itertuples():
        single = table[(table["model"] == row.model) & (table["eps"] == row.eps)]["robust_accuracy"]
        assert row.worst_case_accuracy <= single.min() + 1e-12
        assert row.strongest_attack_accuracy == pytest.approx(single.min())
        fooled = [per_image_outcome(config, row.model, a, row.eps)["fooled"] for a in attacks]
        clean = per_image_outcome(config, row.model, attacks[0], row.eps)["clean_correct"]
        assert row.worst_case_accuracy == pytest.approx((clean & ~np.logical_or.reduce(fooled)).mean())
    # Read from the rows a sweep wrote, the attacks at each eps are the same ones.
    pd.testing.assert_frame_equal(worst_case(config, norm="linf", results=table, data=mnist), worst)
    # A search stored before per-eps files existed is read through the model, with the same answer.
    for path in (fresh_cache / "results").rglob("binary_search*eps*.npz"):
        path.unlink()
    pd.testing.assert_frame_equal(worst_case(config, norm="linf", data=mnist), worst)
