"""genrob.prose and genrob.names: comparisons in words, with n and intervals; names a reader knows."""

from __future__ import annotations

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
    # two models at the floor: 30 images cannot show them equal, 300 do, and no sentence says "no n"
    assert "about 52 would" in compare_sentence("cnn", "mlp", Paired(30, 0, 0, 0), norm="linf", eps=0.3)
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
