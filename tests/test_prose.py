"""genrob.prose and genrob.names: comparisons in words, with n and intervals; names a reader knows."""

from __future__ import annotations

import pandas as pd

from genrob.paired import Paired
from genrob.names import ATTACK_NAMES, MODEL_NAMES, attack_name, budget, model_name
from genrob.prose import compare_sentence, share


def test_every_registered_model_and_attack_has_a_readers_name():
    from genrob.attacks import ATTACKS
    from genrob.models import model_names

    assert set(model_names()) <= set(MODEL_NAMES) and set(ATTACKS) <= set(ATTACK_NAMES)
    assert model_name("gaussian_nb") == "naive Bayes" and attack_name("cw_l2") == "Carlini-Wagner (l2)"
    assert model_name("not_registered") == "not_registered" and budget("linf", 0.30) == "l∞ eps 0.3"


def test_a_share_is_written_with_its_wilson_interval():
    assert share(86, 200) == "0.43 [0.36, 0.50]"
    assert share(0, 30) == "0.00 [0.00, 0.11]"


def test_a_separated_pair_is_called_more_robust_by_more_than_the_margin_with_its_difference():
    # 20 images survive naive Bayes only, none logistic regression only, of 40
    sentence = compare_sentence("gaussian_nb", "logistic_regression", Paired(40, 20, 0, 0), norm="linf", eps=0.3)
    assert sentence == ("At l∞ eps 0.3 under every attack, naive Bayes keeps 0.50 [0.35, 0.65] and logistic "
                        "regression 0.00 [0.00, 0.09] of the same 40 test images: naive Bayes is more robust "
                        "by more than 0.05 (difference +0.50 [+0.35, +0.65]).")
    reverse = compare_sentence("logistic_regression", "gaussian_nb", Paired(40, 0, 20, 0), norm="linf", eps=0.3)
    assert reverse.endswith("naive Bayes is more robust by more than 0.05 (difference +0.50 [+0.35, +0.65]).")


def test_a_pair_that_n_cannot_separate_is_undecided_with_the_n_that_would_decide():
    sentence = compare_sentence("cnn_vae_binary", "cnn_binary", Paired(10, 2, 1, 5), norm="l2", eps=2.0,
                                under="the paper's attacks")
    assert sentence.startswith("At l2 eps 2 under the paper's attacks, CNN-VAE (binary) keeps 0.70 [0.40, 0.89] "
                               "and CNN on binarised input 0.60 [0.31, 0.83] of the same 10 test images: "
                               "10 images cannot tell them apart (difference +0.10 [-0.28, +0.45]); about ")
    needed = int(sentence.split("about ")[1].split(" ")[0])
    assert needed > 10
    # a difference exactly on the margin (10 of 200): the n that one image more either way would need
    on_margin = compare_sentence("cnn_vae_binary", "cnn_binary", Paired(200, 10, 0, 0), norm="l2", eps=2.0,
                                 under="the paper's attacks")
    assert "its difference lies exactly on the margin of 0.05: about " in on_margin
    assert "shared images would decide at one image more either way" in on_margin
    # two models at the floor: 30 images cannot show them equal, 300 do, and no sentence says "no n"
    assert "about 73 would" in compare_sentence("cnn", "mlp", Paired(30, 0, 0, 0), norm="linf", eps=0.3)
    assert compare_sentence("cnn", "mlp", Paired(300, 0, 0, 0), norm="linf", eps=0.3).endswith(
        ": they are equal within 0.05 (difference +0.00 [-0.01, +0.01], both at 0).")
    assert "no common images" in compare_sentence("cnn", "mlp", None, norm="linf", eps=0.3)


def test_failed_checks_and_a_dead_gradient_are_said_with_the_tables_numbers():
    import pandas as pd

    from genrob.prose import checks_sentence, gradient_sentence

    checks = pd.DataFrame([{"model": "gaussian_nb", "check": "pgd_l2 at least as strong as cw_l2", "passed": False,
                            "detail": "weaker by 0.250 at eps 2"},
                           {"model": "logistic_regression", "check": "robust <= clean", "passed": True,
                            "detail": "0 cells above clean accuracy"}])
    assert checks_sentence(checks) == (
        "1 of the 2 sanity checks on this page fails, so the attacks named there did not do their job and the "
        "robust accuracy they leave is an upper bound: PGD (l2) at least as strong as Carlini-Wagner (l2) for naive Bayes "
        "(weaker by 0.250 at eps 2).")
    assert checks_sentence(checks.assign(passed=True)) == "All 2 sanity checks on this page pass."
    health = pd.DataFrame([{"model": "gaussian_nb", "kind": "generative", "correct": 52, "median_margin": 45.25,
                            "zero_gradient_share": 0.615}])
    assert gradient_sentence(health).startswith(
        "On this page's images, naive Bayes: median margin 45.25 nats, gradient exactly zero on 0.615 of its 52 "
        "correctly classified images.")


def test_an_evaluation_subset_easier_than_the_test_set_is_said_so():
    import pandas as pd

    from genrob.prose import subset_sentence

    whole = pd.DataFrame({"model": ["gaussian_nb", "logistic_regression"], "n": 10000, "accuracy": [0.813, 0.925]})
    attacked = pd.DataFrame({"model": ["gaussian_nb", "logistic_regression"], "n": 200, "accuracy": [0.875, 0.93],
                             "ci_low": [0.823, 0.886], "ci_high": [0.913, 0.958]})
    sentence = subset_sentence(whole, attacked)
    assert sentence.startswith("The attacks run on 200 of the 10000 test images")
    assert "For naive Bayes 0.88 on them against 0.81 on the test set, the test set's accuracy lies outside" in sentence
    assert "logistic regression" not in sentence
    assert subset_sentence(whole.assign(accuracy=[0.85, 0.93]), attacked).endswith(
        "lies inside the attacked images' 95% interval.")


def test_the_answer_groups_the_rulings_and_names_those_that_carry_a_failed_check():
    import pandas as pd

    from genrob.prose import rulings_sentence

    verdicts = pd.DataFrame({"model": ["gaussian_nb", "gmm", "mrf", "mlp", "cvae"],
                             "verdict": ["overturned", "overturned", "stands", "not in the paper",
                                         "not ruled (the paper's CVAE is our conditional VAE (prototype rule))"],
                             "failed_checks": ["", "", "pgd_margin_linf converged (twice the steps and restarts)",
                                               "", ""]})
    assert rulings_sentence(verdicts, eps=0.3) == (
        "Of the paper's 3 robustness numbers at l∞ eps 0.3 that our models answer, our worst case over every attack "
        "overturns 2 (naive Bayes and Gaussian mixture) and lets 1 stand (Ising MRF). The ruling on Ising MRF rests "
        "on a worst case that fails a check bearing on it, which the ruling names.")


def test_the_answer_groups_the_claims_by_the_kind_of_comparison_and_says_them_eps_by_eps():
    import pandas as pd

    from genrob.prose import GREY_PAIRS, THRESHOLD_PAIRS, claims_paragraphs

    def rows(claim, model, than, findings, kept=(5, 0)):
        return [{"claim": claim, "model": model, "than": than, "expected": "more robust", "norm": "linf", "eps": eps,
                 "finding": f, "n_to_decide": 300 if f == "undecided at this n" else None,
                 "model_only": kept[0] if f != "equal" else 0, "than_only": kept[1], "both": 0}
                for eps, f in zip((0.1, 0.2, 0.3), findings)]

    table = pd.DataFrame(rows("NB", "gaussian_nb", "logistic_regression", ["stands", "stands", "equal"])
                         + rows("CVAE", "cvae_prototypes", "mlp", ["stands", "undecided at this n", "equal"])
                         + rows("binary", "cnn_vae_binary", "cnn_binary", ["equal", "overturned", "overturned"],
                                kept=(0, 9)))
    lead, grey, threshold = claims_paragraphs(table, thresholding={"cnn_vae_binary", "cnn_binary"})
    assert lead.endswith("over the curve: 2 stands, 1 overturned.")
    assert grey == (f"**{GREY_PAIRS}** (2 claims): at l∞ eps 0.1: 2 stands; 0.2: 1 stands, 1 undecided at this n; "
                    "0.3: 2 equal. 2 of these findings compare two models that both keep no image.")
    assert threshold.startswith(f"**{THRESHOLD_PAIRS}** (1 claim): at l∞ eps 0.1: 1 equal; 0.2: 1 overturned")
    assert "CNN" not in grey  # the claims one by one are the table's, not the paragraph's


def test_the_answer_says_what_the_thresholding_models_owe_to_the_threshold():
    import pandas as pd

    from genrob.prose import threshold_sentence

    def row(model, norm, eps, kept):
        return {"model": model, "norm": norm, "eps": eps, "n": 200, "worst_case_accuracy": kept / 200}

    worst = pd.DataFrame([row("cnn_binary", "linf", 0.3, 156), row("cnn_vae_binary", "linf", 0.3, 92),
                          row("cnn_binary", "l2", 2.0, 6), row("cnn_vae_binary", "l2", 2.0, 0),
                          row("cnn_vae", "linf", 0.3, 0), row("cnn_vae", "l2", 2.0, 83)])
    text = threshold_sentence(worst, thresholding={"cnn_binary", "cnn_vae_binary"}, linf_eps=0.3, l2_eps=2.0)
    assert "the discriminative ones keep with the threshold alone (CNN on binarised input: 0.78 [0.72, 0.83])" in text
    assert "so what they keep there is owed to the threshold" in text and "CNN-VAE (Gaussian)" not in text
    more = worst.assign(worst_case_accuracy=[0.5, 0.9, 0.03, 0.0, 0.0, 0.4])
    assert "beyond what the threshold alone keeps" in threshold_sentence(
        more, thresholding={"cnn_binary", "cnn_vae_binary"}, linf_eps=0.3, l2_eps=2.0)


def test_the_exact_sentence_says_what_the_attacks_missed_and_that_no_certificate_was_broken():
    from genrob.prose import exact_sentence

    bracket = pd.DataFrame({"model": ["mrf", "mrf", "gaussian_nb"], "norm": ["linf", "linf", "l2"],
                            "eps": [0.1, 0.3, 2.0], "n": 1000, "lower": [0.766, 0.409, 0.211],
                            "upper": [0.766, 0.409, 0.211], "exact": True, "undecided": 0,
                            "attacked": [0.766, 0.415, 0.214], "missed": [0, 6, 3], "contradicted": 0,
                            "attacked_ci_low": [0.739, 0.385, 0.190], "strongest_attack": "apgd_ce_linf",
                            "strongest_accuracy": [0.766, 0.416, 0.214]})
    text = exact_sentence(bracket, profile="extended")
    assert "fall short" not in text  # every exact value lies within the worst case's interval
    short = exact_sentence(bracket.assign(upper=[0.766, 0.300, 0.211]), profile="extended")
    assert ("For Ising MRF at l∞ eps 0.3 the attacks fall short by more than their 95% interval: their worst case "
            "0.415 (from 0.385) against the exact 0.300; the strongest single attack, AutoAttack's APGD-CE (l∞), kept 0.416.") \
        in short
    assert text.startswith("The exact robust accuracy is solved for Ising MRF, naive Bayes: at 3 of 3 budgets exactly.")
    assert ("missed 9 exactly breakable images in all, at 2 budgets; most for Ising MRF at l∞ eps 0.3: 6 of 1000, "
            "its worst case 0.415 against the exact 0.409") in text
    assert text.endswith("No attack broke an image the solver certified robust.")
    assert "defect" in exact_sentence(bracket.assign(contradicted=[0, 1, 0]), profile="extended")
    assert "python -m genrob exact --profile smoke" in exact_sentence(bracket.iloc[0:0], profile="smoke")
