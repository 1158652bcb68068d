"""genrob.chapter, the notebooks' facade: a chapter's start, its provenance lines and its tables."""

from __future__ import annotations

import pandas as pd
import pytest
import torch

from genrob import chapter
from genrob.params import ParameterError
from genrob.results import wilson_interval


def _row(model: str, attack: str, norm: str, eps: float, correct: int, *, n: int = 40, seconds: float = 1.0) -> dict:
    low, high = wilson_interval(correct, n)
    return {"model": model, "attack": attack, "norm": norm, "eps": eps, "n": n, "clean_accuracy": 0.95,
            "robust_accuracy": correct / n, "robust_ci_low": low, "robust_ci_high": high,
            "wall_time_s": seconds, "code_version": "abc"}


RESULTS = pd.DataFrame([
    _row("gmm", "fgsm_linf", "linf", 0.1, 30), _row("gmm", "fgsm_linf", "linf", 0.3, 20),
    _row("logistic_regression", "fgsm_linf", "linf", 0.1, 8), _row("logistic_regression", "fgsm_linf", "linf", 0.3, 0),
    _row("gmm", "cw_l2", "l2", 1.0, 10, seconds=5.0), _row("gmm", "cw_l2", "l2", 2.0, 4, seconds=5.0),
    _row("logistic_regression", "cw_l2", "l2", 1.0, 9, seconds=3.0),
    _row("logistic_regression", "cw_l2", "l2", 2.0, 3, seconds=3.0),
])


def test_a_chapter_starts_in_its_profiles_precision_and_refuses_bad_parameters_first():
    previous = torch.get_default_dtype()
    try:
        config = chapter.setup(family="naive_bayes", profile="default", n=30)
        assert torch.get_default_dtype() == torch.float32 and config.n == 30
        chapter.start("smoke")
        assert torch.get_default_dtype() == torch.float64
        with pytest.raises(ParameterError, match="must be positive"):
            chapter.setup(family="naive_bayes", profile="smoke", linf_eps=[-0.1])
    finally:
        torch.set_default_dtype(previous)


def test_the_provenance_lines_name_profile_n_and_code_version_and_count_a_search_once():
    config = chapter.setup(family="naive_bayes", profile="smoke", n=30)
    line = chapter.provenance(config)
    assert "profile `smoke`" in line and "n = 30" in line and "code version" in line
    # C&W searches once for every eps: 5 + 3 s, not twice that; FGSM runs once per eps: 4 x 1 s.
    assert "in 12 s of attack time" in chapter.results_provenance(RESULTS)


def test_the_robustness_table_has_a_row_per_model_and_attack_and_a_column_per_eps():
    table = chapter.robustness_table(RESULTS, norm="linf")
    assert list(table.index) == [("Gaussian mixture", "FGSM (l∞)"), ("logistic regression", "FGSM (l∞)")]
    assert list(table.columns) == ["n", "clean", "0.1", "0.3"]
    # every share with n and its 95% interval: 20 of 40
    assert table.loc[("Gaussian mixture", "FGSM (l∞)")].tolist() == [40, "0.95 [0.83, 0.99]", "0.75 [0.60, 0.86]",
                                                                    "0.50 [0.35, 0.65]"]


#: Per-image outcomes behind RESULTS at eps 0.3 and 2: the mixture survives 20 of 40 images under FGSM,
#: logistic regression none; under C&W 4 against 3, on different images (7 discordant: McNemar cannot tell).
def _survivors(count: int, start: int = 0, n: int = 40) -> dict:
    import numpy as np

    alive = np.zeros(n, bool)
    alive[start:start + count] = True
    return {"clean_correct": np.ones(n, bool), "fooled": ~alive}


OUTCOMES = {("gmm", "fgsm_linf", 0.3): _survivors(20), ("logistic_regression", "fgsm_linf", 0.3): _survivors(0),
            ("gmm", "cw_l2", 2.0): _survivors(4), ("logistic_regression", "cw_l2", 2.0): _survivors(3, start=10)}


def test_a_pair_is_ordered_only_where_a_paired_test_on_the_same_images_separates_them(monkeypatch):
    monkeypatch.setattr(chapter, "per_image_outcome", lambda config, model, attack, eps: OUTCOMES[(model, attack, eps)])
    config = chapter.setup(family="mixture", profile="smoke", n=40)
    verdicts = chapter.compare_pair(config, RESULTS, "gmm", "logistic_regression", linf_eps=0.3, l2_eps=2.0)
    fgsm, cw = "FGSM (l∞)", "Carlini-Wagner (l2)"
    assert verdicts.loc[fgsm, ["Gaussian mixture only", "logistic regression only", "verdict"]].tolist() == [
        20, 0, "Gaussian mixture more robust by more than 0.05"]
    assert verdicts.loc[fgsm, ["Gaussian mixture", "logistic regression"]].tolist() == [
        "0.50 [0.35, 0.65]", "0.00 [0.00, 0.09]"]  # each share with its 95% interval
    assert verdicts.loc[cw, "verdict"] == "undecided at this n"  # not "no difference": 40 images cannot tell
    assert verdicts.loc[cw, "n_to_decide"] > 40
    summary = chapter.verdict_summary(verdicts)
    assert "- **Gaussian mixture more robust by more than 0.05**: FGSM (l∞) (eps 0.3)" in summary
    assert "- **undecided at this n**: Carlini-Wagner (l2) (eps 2)" in summary


def test_a_chapters_conclusions_are_generated_from_its_results_image_by_image(monkeypatch):
    """A constructed page where the answer is known (:data:`OUTCOMES`)."""
    monkeypatch.setattr("genrob.adaptive.per_image_outcome",
                        lambda config, model, attack, eps, data=None: OUTCOMES[(model, attack, eps)])
    config = chapter.setup(family="mixture", profile="smoke", n=40)
    text = chapter.conclusions(config, RESULTS, [("gmm", "logistic_regression")])
    first, second = text.split("\n\n")
    assert first == ("At l∞ eps 0.3 under the one l∞ attack of this page, Gaussian mixture keeps 0.50 [0.35, 0.65] "
                     "and logistic regression 0.00 [0.00, 0.09] of the same 40 test images: Gaussian mixture is "
                     "more robust by more than 0.05 (difference +0.50 [+0.35, +0.65]).")
    assert second.startswith("At l2 eps 2 under the one l2 attack of this page, Gaussian mixture keeps 0.10 "
                             "[0.04, 0.23] and logistic regression 0.07 [0.03, 0.20] of the same 40 test images: "
                             "40 images cannot tell them apart")


def test_the_adaptive_findings_pair_worst_cases_on_shared_images_and_count_the_rulings():
    from genrob.adaptive import FamilyEvidence
    from genrob.params import sweep_config

    def alive(count: int, n: int = 30) -> pd.Series:
        return pd.Series([True] * count + [False] * (n - count), index=range(100, 100 + n))

    survivors = {("gaussian_nb", "linf", 0.3): alive(0), ("logistic_regression", "linf", 0.3): alive(0),
                 ("gaussian_nb", "l2", 2.0): alive(12), ("logistic_regression", "l2", 2.0): alive(1)}
    config = sweep_config(profile="smoke", family="naive_bayes")
    evidence = [FamilyEvidence(config=config, results=None, worst_case=None, checks=None, survivors=survivors)]
    verdicts = pd.DataFrame({"verdict": ["overturned", "stands", "undecided at this n", "not in the paper",
                                         "not ruled (the paper's CVAE is our conditional VAE (prototype rule))"]})
    claims = pd.DataFrame({"claim": ["A", "A", "A", "A"], "model": "gaussian_nb", "than": "logistic_regression",
                           "expected": "more robust", "norm": ["linf", "linf", "l2", "l2"], "eps": [0.1, 0.3, 1, 2],
                           "finding": ["stands", "equal", "undecided at this n", "undecided at this n"],
                           "n_to_decide": [None, None, 120, 90], "model_only": 0, "than_only": 0, "both": 0})
    first, second, rulings, findings = chapter.adaptive_findings(evidence, verdicts, claims).split("\n\n")
    assert first.startswith("At l∞ eps 0.3 under every attack run on both, naive Bayes keeps 0.00 [0.00, 0.11] and "
                            "logistic regression 0.00 [0.00, 0.11] of the same 30 test images: 30 images cannot tell "
                            "them apart (difference +0.00 [-0.11, +0.11]); about 73 would")
    assert "no number of images" not in first
    assert second.endswith("naive Bayes is more robust by more than 0.05 (difference +0.37 [+0.21, +0.54]).")
    assert rulings == "Of the paper's 3 numbers at l∞ eps 0.3 ruled on this page: 1 overturned, 1 stands, " \
                      "1 undecided at this n."
    assert findings == "Of its 1 claim, each judged in both norms at every eps: 1 stands, 1 undecided at this n."


def test_a_missing_value_is_a_blank_cell_in_the_books_tables():
    html = chapter.table_html(pd.DataFrame({"paper": [0.87, float("nan")]}, index=["a", "b"]))
    assert "NaN" not in html and "<td>0.87</td>" in html and "<td></td>" in html


def test_an_interval_in_a_table_breaks_before_its_bracket_never_inside_it():
    html = chapter.table_html(pd.DataFrame({"worst case": ["0.43 [0.37, 0.50]"]}))
    assert "<td>0.43 [0.37,&nbsp;0.50]</td>" in html


def test_the_books_tables_name_models_and_attacks_as_a_reader_does():
    table = pd.DataFrame({"model": ["cnn_vae_binary", "mlp"], "check": ["pgd_l2 at least as strong as cw_l2", "ok"],
                          "value": [1, 2]}, index=pd.Index(["gaussian_nb", "pgd_linf"], name="row"))
    html = chapter.table_html(table)
    for code, reader in (("cnn_vae_binary", "CNN-VAE (binary)"), ("gaussian_nb", "naive Bayes"), ("pgd_linf", "PGD (l∞)"),
                         ("cw_l2", "Carlini-Wagner (l2)")):
        assert code not in html and reader in html
    assert "<td>MLP</td>" in html and "<td>1</td>" in html  # whole names only; numbers untouched


def test_the_clean_table_sets_the_attacked_images_beside_the_test_set_with_intervals():
    whole = pd.DataFrame({"model": ["gaussian_nb", "logistic_regression"], "n": [10000, 10000],
                          "accuracy": [0.8135, 0.863]})
    attacked = pd.DataFrame({"model": ["gaussian_nb", "logistic_regression"], "n": [200, 200],
                             "accuracy": [0.875, 0.86]})
    table = chapter.clean_table(whole, subset=attacked)
    assert table.loc["naive Bayes"].tolist() == [10000, "0.81 [0.81, 0.82]", 200, "0.88 [0.82, 0.91]", "not stated"]
    assert table.loc["logistic regression", "the paper states"] == "Section 2.3: above 87% test accuracy"


def test_the_pair_table_holds_every_number_the_conclusions_state(monkeypatch):
    """The same constructed page as above: its table and its sentences come from one computation."""
    import re

    monkeypatch.setattr("genrob.adaptive.per_image_outcome",
                        lambda config, model, attack, eps, data=None: OUTCOMES[(model, attack, eps)])
    config = chapter.setup(family="mixture", profile="smoke", n=40)
    table = chapter.pair_table(config, RESULTS, [("gmm", "logistic_regression")])
    assert table.loc["l∞ eps 0.3"].tolist() == [40, "Gaussian mixture: 0.50 [0.35, 0.65]",
                                                "logistic regression: 0.00 [0.00, 0.09]", "20 / 0",
                                                "+0.50 [+0.35, +0.65]", "Gaussian mixture more robust by more than 0.05"]
    assert table.loc["l2 eps 2", "finding"].startswith("undecided at this n (about ")
    text = chapter.conclusions(config, RESULTS, [("gmm", "logistic_regression")])
    shown = table.to_string()
    assert all(number in shown for number in re.findall(r"\d+\.\d+", text))
