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
    assert table["robust accuracy [95%]"].tolist() == ["0.80 [0.67, 0.89]", "0.90 [0.79, 0.96]",
                                                        "0.88 [0.87, 0.89]", "0.93 [0.92, 0.93]"]
    assert table["n"].tolist() == [50, 50, 10000, 10000]
    assert table["model"].tolist()[:2] == ["adversarially trained CNN"] * 2


def test_the_references_findings_name_its_failed_checks_and_its_l2_worst_case_beside_pgd():
    from genrob.adaptive import PGD_L2_AGAINST_CW, FamilyEvidence, reference_findings
    from genrob.params import sweep_config

    config = sweep_config(profile="smoke", family="reference")
    worst = pd.DataFrame([{"model": "cnn_adversarial", "norm": "l2", "eps": 2.0, "n": 50,
                           "worst_case_accuracy": 0.2, "broke_most": "fab_t_l2", "broke_most_images": 31}])
    results = pd.DataFrame([{"model": "cnn_adversarial", "attack": "pgd_l2", "eps": 2.0, "robust_accuracy": 0.9}])
    checks = pd.DataFrame({"model": "cnn_adversarial", "check": [PGD_L2_AGAINST_CW, "robust <= clean"],
                           "passed": [False, True]})
    text = reference_findings([FamilyEvidence(config=config, results=results, worst_case=worst, checks=checks)])
    assert "fails 1 of its 2 sanity checks: *PGD (l2) at least as strong as Carlini-Wagner (l2)*." in text
    assert "keeps 0.90 [0.79, 0.96] under the paper's PGD and 0.20 [0.11, 0.33] under every attack" in text
    assert "(31)" in text and "does not rest on PGD" in text

    passing = checks.assign(passed=True)
    text = reference_findings([FamilyEvidence(config=config, results=results, worst_case=worst, checks=passing)])
    assert "passes all 2 of its sanity checks" in text and "does not rest on PGD" not in text
    assert reference_findings([FamilyEvidence(config=sweep_config(profile="smoke", family="mixture"),
                                              results=results, worst_case=worst, checks=checks)]) == ""


def test_the_rulings_regions_partition_the_scale_around_the_papers_number():
    from genrob.adaptive import ruling_regions

    assert ruling_regions(0.96) == [("overturned", 0.0, 0.48), ("weakened", 0.48, 0.86), ("stands", 0.86, 1.0)]
    assert ruling_regions(0.39) == [("overturned", 0.0, 0.195), ("weakened", 0.195, 0.29),
                                    ("stands", 0.29, 0.49), ("understated", 0.49, 1.0)]
    # a paper's number near zero can only stand or be understated: there is no half of it to lose
    assert [name for name, _, _ in ruling_regions(0.01)] == ["stands", "understated"]


@pytest.mark.parametrize("paper, robust, n, ruling", [
    (0.96, 12, 30, "undecided at this n"),  # 0.40 [0.25, 0.58]: half the paper's, 0.48, lies inside
    (0.96, 21, 30, "weakened"),  # 0.70 [0.52, 0.83]
    (0.68, 1, 30, "overturned"),  # 0.03 [0.01, 0.17]
    (0.01, 60, 200, "understated"),  # 0.30 [0.24, 0.37]: far above what the paper reports
    (0.01, 0, 200, "stands"),  # 0 [0, 0.02]
    (0.39, 86, 200, "undecided at this n"),  # 0.43 [0.36, 0.50]: 0.49 is the end of "stands"
    (float("nan"), 3, 30, "not in the paper"),
])
def test_a_ruling_is_made_only_where_the_interval_lies_wholly_in_its_region(paper, robust, n, ruling):
    from genrob.adaptive import rule_on_number

    made, needed = rule_on_number(paper, robust, n)
    assert made == ruling
    assert (needed is not None) == (ruling == "undecided at this n")
    if needed is not None:  # at the observed rate, that many images would decide it, and one fewer would not
        rate = robust / n
        assert needed > n
        assert rule_on_number(paper, round(rate * needed), needed)[0] != "undecided at this n"
        assert rule_on_number(paper, round(rate * (needed - 1)), needed - 1)[0] == "undecided at this n"


def test_the_paired_test_on_constructed_outcomes_gives_the_known_answer():
    import pandas as pd
    from scipy.stats import binomtest

    from genrob.adaptive import judge_claim, paired

    # 100 shared images: 20 survive on the first model only, 5 on the second only.
    first = pd.Series([True] * 20 + [False] * 5 + [True] * 30 + [False] * 45, index=range(100, 200))
    second = pd.Series([False] * 20 + [True] * 5 + [True] * 30 + [False] * 45, index=range(100, 200))
    pair = paired(first, second)
    assert (pair.n, pair.model_only, pair.than_only, pair.both) == (100, 20, 5, 30)
    assert pair.p_value == pytest.approx(binomtest(20, 25, 0.5).pvalue) and pair.p_value < 0.01
    assert judge_claim("more robust", pair) == ("stands", None)
    assert judge_claim("more robust", paired(second, first)) == ("overturned", None)
    # only the images both saw count: a model evaluated on a larger, nested subset is cut to the shared part
    larger = pd.concat([second, pd.Series(True, index=range(200, 300))])
    assert paired(first, larger) == pair
    assert judge_claim("more robust", paired(first, pd.Series(True, index=range(300, 310)))) == (
        "no shared images", None)
    # 3 against 1 of 30 cannot decide; at those rates more images would
    few = paired(pd.Series([True] * 3 + [False] * 27), pd.Series([False] * 2 + [True] + [False] * 27))
    finding, needed = judge_claim("more robust", few)
    assert finding == "undecided at this n" and needed > 30
    assert judge_claim("more robust", few.scaled(needed))[0] == "stands"


def test_a_claim_of_no_difference_cannot_stand_because_a_small_n_separates_nothing():
    import pandas as pd

    from genrob.adaptive import judge_claim, paired

    # 30 images, both models at zero: no discordant image, but 30 images cannot show that they are equal
    zero = pd.Series([False] * 30)
    finding, needed = judge_claim("no difference", paired(zero, zero))
    assert finding == "undecided at this n" and needed is not None and needed > 30
    assert judge_claim("no difference", paired(pd.Series([False] * 400), pd.Series([False] * 400)))[0] == "stands"
    # and a clear difference overturns it
    apart = paired(pd.Series([True] * 15 + [False] * 15), zero)
    assert judge_claim("no difference", apart)[0] == "overturned"


def test_attacks_judged_by_the_sampling_model_form_their_own_worst_case():
    import pandas as pd

    from genrob.adaptive import judged_by_sampling

    rows = pd.DataFrame({"attack": ["pgd_linf", "eot_pgd_linf", "autoattack_rand_linf", "autoattack_linf",
                                    "pgd_margin_linf_long"]})
    assert judged_by_sampling(rows).tolist() == [False, True, True, False, False]


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


@pytest.mark.parametrize("profile", ["smoke", "default", "extended", "full"])
def test_every_model_faces_every_attack_at_every_profile(profile):
    """A profile scales n and budgets, never which attacks a model meets: no model is spared."""
    from genrob.adaptive import CASCADE, COMPLETE_ADAPTIVE, cascade_configs, check_configs, family_config
    from genrob.attacks import ADAPTIVE_ATTACKS, PAPER_ATTACKS, THRESHOLD_ATTACKS

    config = family_config("conv_vae", profile=profile)
    assert set(PAPER_ATTACKS) | set(ADAPTIVE_ATTACKS) | set(THRESHOLD_ATTACKS) <= set(config.attacks)
    assert set(COMPLETE_ADAPTIVE) | set(CASCADE) == set(ADAPTIVE_ATTACKS) | set(THRESHOLD_ATTACKS)
    # every model meets the whole cascade, the flips across the threshold only where the input is thresholded
    groups = {models: attacks for c in cascade_configs(config) for models, attacks in [(c.models, c.attacks)]}
    assert sorted(m for models in groups for m in models) == sorted(config.models)
    for models, attacks in groups.items():
        flips = {"cnn_binary", "cnn_vae_binary", "cnn_vae_crf"} >= set(models)
        assert set(attacks) == set(CASCADE) - (set() if flips else set(THRESHOLD_ATTACKS))
    # the models that sample meet randomised AutoAttack, the convolutional VAEs too
    noise_runs = [c for c in check_configs(config) if c.attacks == ("autoattack_rand_linf",)]
    assert len(noise_runs) == 1 and {"cnn_vae", "cnn_vae_binary", "cnn_vae_crf"} <= set(noise_runs[0].models)
    assert "cnn" not in noise_runs[0].models
    # margin PGD's budget is doubled at one eps of each norm (the convergence checks), on every model
    doubled = {c.attacks: c for c in check_configs(config) if c.attacks[0].endswith("_long")}
    assert set(doubled) == {("pgd_margin_linf_long",), ("pgd_margin_l2_long",)}
    assert all(c.models == config.models for c in doubled.values())
    assert doubled[("pgd_margin_l2_long",)].eps_for("pgd_margin_l2_long") == (2.0,)


def test_the_cascade_runs_cheapest_first_and_autoattack_in_its_own_order():
    from genrob.adaptive import CASCADE

    for norm in ("linf", "l2"):
        parts = [CASCADE.index(f"{part}_{norm}") for part in ("transfer_pgd", "apgd_ce", "apgd_t", "fab_t", "square")]
        assert parts == sorted(parts)
    assert CASCADE.index("threshold_flips_linf") < CASCADE.index("apgd_ce_linf")


def test_the_adaptive_evaluation_takes_the_profiles_n_for_the_family():
    from genrob.adaptive import family_config
    from genrob.params import sweep_config

    assert family_config("vae", profile="extended", n=300).n == 300
    # every profile reuses each chapter's images, so the paper's attacks are not run twice
    for profile, family, n in [("extended", "naive_bayes", 1000), ("extended", "vae", 1000), ("extended", "conv_vae", 200),
                               ("default", "vae", 50), ("default", "conv_vae", 30)]:
        assert family_config(family, profile=profile).n == sweep_config(profile=profile, family=family).n == n


def test_the_papers_claims_are_judged_on_the_worst_case_image_by_image_and_shown_under_its_own_attacks():
    import pandas as pd

    from genrob.adaptive import FamilyEvidence, claims, claims_summary
    from genrob.params import sweep_config

    def alive(count, n=100):
        return pd.Series([True] * count + [False] * (n - count), index=range(n))

    survivors = {("gaussian_nb", "linf", 0.3): alive(2), ("logistic_regression", "linf", 0.3): alive(0),
                 ("cnn_vae_binary", "linf", 0.3): alive(10), ("cnn_vae_crf", "linf", 0.3): alive(60)}
    worst = pd.DataFrame([{"model": m, "norm": norm, "eps": eps, "n": 100, "worst_case_accuracy": s.mean(),
                           "ci_low": max(0.0, s.mean() - 0.05), "ci_high": s.mean() + 0.05}
                          for (m, norm, eps), s in survivors.items()])

    def paper_row(model, acc, low, high, attack="pgd_linf"):
        return {"model": model, "attack": attack, "norm": "linf", "eps": 0.3, "robust_accuracy": acc,
                "robust_ci_low": low, "robust_ci_high": high}

    results = pd.DataFrame([paper_row("gaussian_nb", 0.45, 0.4, 0.5),
                            paper_row("gaussian_nb", 0.9, 0.85, 0.95, attack="fgsm_linf"),
                            paper_row("logistic_regression", 0.0, 0.0, 0.04),
                            paper_row("cnn_vae_binary", 0.6, 0.5, 0.7), paper_row("cnn_vae_crf", 0.7, 0.6, 0.8),
                            paper_row("cnn_vae_crf", 0.6, 0.5, 0.7, attack="pgd_margin_linf")])
    config = sweep_config(profile="smoke", models=["gaussian_nb", "logistic_regression"])
    table = claims([FamilyEvidence(config=config, results=results, worst_case=worst, checks=None,
                                   survivors=survivors)]).set_index("model")
    # Under the paper's strongest attack (PGD, not FGSM) naive Bayes looked more robust; image by image,
    # 2 survivors against none cannot tell the two apart at 100 images: undecided, not refuted.
    nb = table.loc["gaussian_nb"]
    assert [nb["model_paper_attacks"], nb["paper_attacks"], nb["n_paired"], nb["model_only"], nb["than_only"],
            nb["finding"]] == [0.45, "more robust", 100, 2, 0, "undecided at this n"]
    assert nb["n_to_decide"] > 100
    # "A CRF adds no robustness": 50 images survive on the CRF VAE alone, so the claim is overturned.
    assert table.loc["cnn_vae_crf", ["model_only", "than_only", "finding"]].tolist() == [50, 0, "overturned"]
    assert set(table["norm"]) == {"linf"}  # no l_2 evidence, no l_2 rows
    assert claims_summary(table.reset_index()).startswith("- **overturned** (1 of 2)")


def test_a_claim_no_n_decides_says_so_and_why_in_the_summary_and_the_table():
    import pandas as pd

    from genrob.adaptive import UNDECIDED, claims_summary, claims_table

    def row(model, than, norm, model_only, than_only, finding, needed):
        return {"claim": f"{model} beats {than}", "model": model, "than": than, "norm": norm,
                "eps": 0.3 if norm == "linf" else 2.0, "model_worst": 0.0, "than_worst": 0.0,
                "model_ci": (0.0, 0.004), "than_ci": (0.0, 0.004), "n_paired": 1000, "model_only": model_only,
                "than_only": than_only, "finding": finding, "n_to_decide": needed}

    table = pd.DataFrame([row("cvae", "mlp", "linf", 0, 0, UNDECIDED, None),
                          row("cvae", "mlp", "l2", 3, 3, UNDECIDED, None),
                          row("gaussian_nb", "logistic_regression", "linf", 2, 0, UNDECIDED, 2750)])
    summary = claims_summary(table)
    assert summary == ("- **undecided at this n** (3 of 3): cvae beats mlp (l_inf [no n would decide at these rates: "
                       "both models keep exactly the same images] and l_2 [no n would decide at these rates]); "
                       "gaussian_nb beats logistic_regression (l_inf)")
    assert claims_table(table)["finding"].tolist() == [
        "undecided at this n (no n would decide at these rates: both models keep exactly the same images)",
        "undecided at this n (no n would decide at these rates)",
        "undecided at this n (about 2750 shared images would decide)"]


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
        # an adversarial found within a smaller eps lies in the larger ball: broken there too
        fooled = [per_image_outcome(config, row.model, a, eps)["fooled"] for a in attacks
                  for eps in config.linf_eps if eps <= row.eps]
        clean = per_image_outcome(config, row.model, attacks[0], row.eps)["clean_correct"]
        assert row.worst_case_accuracy == pytest.approx((clean & ~np.logical_or.reduce(fooled)).mean())
        # each broken image is credited once; the attack credited most broke at most what it broke alone
        # (plus what it broke at smaller eps), and at least as many as any other's credit
        assert row.broke_most in attacks and 0 < row.broke_most_images <= round((clean.mean() - row.worst_case_accuracy)
                                                                                 * config.n)
    # Read from the rows a sweep wrote, the attacks at each eps are the same ones.
    pd.testing.assert_frame_equal(worst_case(config, norm="linf", results=table, data=mnist), worst)
    # A search stored before per-eps files existed is read through the model, with the same answer.
    for path in (fresh_cache / "results").rglob("binary_search*eps*.npz"):
        path.unlink()
    pd.testing.assert_frame_equal(worst_case(config, norm="linf", data=mnist), worst)


def test_the_worst_case_table_shows_n_and_each_share_with_its_interval_under_readers_names():
    from genrob.adaptive import FamilyEvidence, worst_case_table
    from genrob.params import sweep_config

    worst = pd.DataFrame([{"model": "gmm", "norm": "linf", "eps": eps, "n": 40, "clean_accuracy": 0.95,
                           "worst_case_accuracy": accuracy} for eps, accuracy in ((0.1, 0.5), (0.3, 0.0))])
    evidence = FamilyEvidence(config=sweep_config(profile="smoke", family="mixture"), results=None,
                              worst_case=worst, checks=None)
    table = worst_case_table([evidence], norm="linf")
    assert list(table.columns) == ["n", "clean", "eps 0.1", "eps 0.3"]
    assert table.loc["Gaussian mixture"].tolist() == [40, "0.95 [0.83, 0.99]", "0.50 [0.35, 0.65]",
                                                      "0.00 [0.00, 0.09]"]


def test_the_thresholding_models_and_only_they_meet_the_attacks_on_their_threshold():
    from genrob.adaptive import cascade_configs, family_config
    from genrob.attacks import THRESHOLD_ATTACKS

    def flipped(family):
        return {m for c in cascade_configs(family_config(family, profile="smoke"))
                if set(THRESHOLD_ATTACKS) <= set(c.attacks) for m in c.models}

    assert flipped("naive_bayes") == flipped("vae") == set()
    assert flipped("markov_random_field") == {"mrf"}
    assert flipped("conv_vae") == {"cnn_vae_binary", "cnn_vae_crf", "cnn_binary"}  # not the Gaussian VAE, not the CNN


def test_the_worst_case_credits_each_image_to_the_attack_that_broke_it_and_marks_what_a_cascade_never_met():
    from genrob.adaptive import BROKEN, BROKEN_EARLIER, SURVIVES, WRONG_BEFORE, attack_breaks, judge_family
    from genrob.params import sweep_config

    config = sweep_config(profile="smoke", models=["gmm"], attacks=["fgsm_linf", "square_linf"], linf_eps=[0.1, 0.3],
                          n=6)
    clean = np.array([False, True, True, True, True, True])
    arrays = {  # FGSM on every image; Square in the cascade, on what FGSM (and eps 0.1) left
        ("fgsm_linf", 0.1): [0, 1, 0, 0, 0, 0], ("square_linf", 0.1): [0, 0, 1, 0, 0, 0],
        ("fgsm_linf", 0.3): [0, 1, 0, 1, 0, 0], ("square_linf", 0.3): [0, 0, 0, 0, 1, 0],
    }
    rows = pd.DataFrame([{"model": "gmm", "attack": a, "norm": "linf", "eps": e, "n": 6,
                          "images": "all" if a == "fgsm_linf" else f"cascade-{e}", "attacked": 3,
                          "clean_accuracy": 5 / 6, "robust_correct": 2, "robust_accuracy": 2 / 6,
                          "robust_ci_low": 0.1, "robust_ci_high": 0.7} for a, e in arrays])
    found = judge_family(config, rows, images=np.arange(100, 106), outcome=lambda m, a, e: {
        "clean_correct": clean, "fooled": np.array(arrays[(a, e)], bool)})
    worst = found.worst_case.set_index("eps")
    # at 0.3: image 2 broken within 0.1 stays broken; 1, 3 by FGSM, 4 by Square: only image 5 survives
    assert worst.loc[0.3, "worst_case_accuracy"] == pytest.approx(1 / 6)
    assert (worst.loc[0.3, "broke_most"], worst.loc[0.3, "broke_most_images"]) == ("fgsm_linf", 2)
    assert found.survivors[("gmm", "linf", 0.3)].tolist() == [False] * 5 + [True]
    states = attack_breaks(found, eps=0.3).pivot(index="attack", columns="image", values="state")
    assert states.loc["fgsm_linf"].tolist() == [WRONG_BEFORE, BROKEN, SURVIVES, BROKEN, SURVIVES, SURVIVES]
    assert states.loc["square_linf"].tolist() == [WRONG_BEFORE, BROKEN_EARLIER, BROKEN_EARLIER, BROKEN_EARLIER,
                                                  BROKEN, SURVIVES]


@pytest.mark.parametrize("alone, passes", [(4, True), (5, False)])
def test_the_worst_case_has_converged_unless_the_doubled_budget_breaks_what_every_other_attack_left(alone, passes):
    """Margin PGD alone may gain from twice its budget on images another attack breaks anyway (the MRF's 16 at
    n = 1 000 at extended): the worst case moves only by what the doubled run alone breaks, and 5 such
    images against none the other way is significant at 5%."""
    from genrob.adaptive import WORST_CASE_CONVERGED, judge_family
    from genrob.params import sweep_config

    n = 40
    config = sweep_config(profile="smoke", models=["gmm"], attacks=["fgsm_linf"], linf_eps=[0.3], n=n)
    square, first, doubled = (np.zeros(n, bool) for _ in range(3))
    square[:20] = True  # the cascade's Square breaks the first 20
    first[:10] = True
    doubled[:10 + 10] = True  # twice the budget breaks 10 more, all of which Square broke ...
    doubled[20:20 + alone] = True  # ... and these, which no other attack broke
    arrays = {"pgd_margin_linf": first, "pgd_margin_linf_long": doubled, "square_linf": square}
    rows = pd.DataFrame([{"model": "gmm", "attack": a, "norm": "linf", "eps": 0.3, "n": n,
                          "images": "cascade-0" if a == "square_linf" else "all", "attacked": n,
                          "clean_accuracy": 1.0, "robust_correct": int((~f).sum()), "robust_accuracy": (~f).mean(),
                          "robust_ci_low": 0.1, "robust_ci_high": 0.9} for a, f in arrays.items()])
    found = judge_family(config, rows, images=np.arange(n), outcome=lambda m, a, e: {
        "clean_correct": np.ones(n, bool), "fooled": arrays[a]})
    checks = found.checks.set_index("check")
    assert not checks.loc["pgd_margin_linf converged (twice the steps and restarts)", "passed"]  # 10 + alone to 0
    assert checks.loc[WORST_CASE_CONVERGED, "passed"] == passes
    assert f"broke {alone} images that every other attack left" in checks.loc[WORST_CASE_CONVERGED, "detail"]
