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
    assert list(table.index) == [("gmm", "fgsm_linf"), ("logistic_regression", "fgsm_linf")]
    assert list(table.columns) == ["clean", 0.1, 0.3]
    assert table.loc[("gmm", "fgsm_linf"), 0.3] == 0.5


def test_a_pair_is_ordered_only_where_the_intervals_do_not_overlap():
    verdicts = chapter.compare_pair(RESULTS, "gmm", "logistic_regression", linf_eps=0.3, l2_eps=2.0)
    assert verdicts.loc["fgsm_linf", "verdict"] == "gmm more robust"  # 20 of 40 against 0 of 40
    assert verdicts.loc["cw_l2", "verdict"] == "no clear difference"  # 4 against 3 of 40
    summary = chapter.verdict_summary(verdicts)
    assert "- **gmm more robust**: `fgsm_linf` (eps 0.3)" in summary and "`cw_l2` (eps 2)" in summary
