"""genrob.claims: the paper's claims judged at every eps, with equivalence both ways and Holm's correction."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from genrob.claims import (
    EQUAL, MARGIN, ON_THE_MARGIN, claims, counts, curve_phrase, curves, judge_curve, n_to_decide, summary, table,
)
from genrob.adaptive import about
from genrob.paired import Paired

UNDECIDED = "undecided at this n"


def test_a_pair_at_the_floor_reads_equal_not_undecided():
    """Both models at 0 of 1 000 images: McNemar's test has no discordant image and could never separate
    them, but the difference's interval lies well within the margin: they are equal there."""
    assert judge_curve("more robust", [Paired(1000, 0, 0, 0)])[0][0] == EQUAL
    assert judge_curve("no difference", [Paired(1000, 0, 0, 0)])[0][0] == "stands"
    # 30 images cannot show it, and the n that would is given and does decide
    finding, needed, _ = judge_curve("more robust", [Paired(30, 0, 0, 0)])[0]
    assert finding == UNDECIDED and needed is not None and needed > 30
    assert judge_curve("more robust", [Paired(needed, 0, 0, 0)])[0][0] == EQUAL
    assert judge_curve("more robust", [Paired(needed - 1, 0, 0, 0)])[0][0] == UNDECIDED


def test_an_advantage_within_the_margin_is_no_advantage_however_many_images_show_it():
    """2 points more robust on 100 000 images: significant by McNemar's test, but within the margin."""
    small = Paired(100_000, 3000, 1000, 40_000)
    assert small.p_value < 1e-100
    assert judge_curve("more robust", [small])[0][0] == EQUAL
    assert judge_curve("more robust", [Paired(200, 60, 0, 20)])[0][0] == "stands"
    assert judge_curve("more robust", [Paired(200, 0, 60, 20)])[0][0] == "overturned"
    assert judge_curve("no difference", [Paired(200, 0, 60, 20)])[0][0] == "overturned"


def test_a_claim_floored_at_the_headline_eps_is_decided_at_a_smaller_one():
    """Naive Bayes against logistic regression at the extended profile: 616 of 1 000 against 3 at l_inf 0.1,
    100 against 0 at 0.2, 2 against 0 at 0.3, where one eps alone said nothing."""
    pairs = [Paired(1000, 613, 0, 3), Paired(1000, 100, 0, 0), Paired(1000, 2, 0, 0)]
    judged = judge_curve("more robust", pairs)
    assert [finding for finding, _, _ in judged] == ["stands", "stands", EQUAL]
    rows = pd.DataFrame({"eps": [0.1, 0.2, 0.3], "finding": [f for f, _, _ in judged],
                         "n_to_decide": [n for _, n, _ in judged], "model_only": [613, 100, 2],
                         "than_only": [0, 0, 0], "both": [3, 0, 0]})
    assert curve_phrase(rows) == "stands up to 0.2; equal at 0.3"
    floored = rows.assign(model_only=[613, 100, 0], both=[3, 0, 0])
    assert curve_phrase(floored) == "stands up to 0.2; equal at 0.3 (both at 0)"


def test_holm_over_the_eps_of_a_claim_turns_a_borderline_decision_undecided():
    """26 against 5 of 200 images is more robust by more than the margin at p = 0.034 alone; judged with two
    other eps of the same claim, Holm asks for p < 0.05 / 3 of the smallest, and it stays undecided."""
    borderline = Paired(200, 26, 5, 50)
    on_the_margin = Paired(200, 10, 0, 0)  # a difference of exactly 0.05 decides nothing
    alone = judge_curve("more robust", [borderline])[0]
    assert alone[0] == "stands" and alone[2]["adjusted"] == pytest.approx(alone[2]["more robust"])
    together = judge_curve("more robust", [borderline, on_the_margin, on_the_margin])
    assert together[0][0] == UNDECIDED and together[0][2]["adjusted"] == pytest.approx(3 * alone[2]["adjusted"])
    # and the n it gives decides at Holm's strictest level
    needed = together[0][1]
    assert needed > 200 and n_to_decide(borderline, tests=3) == needed
    assert judge_curve("more robust", [borderline.scaled(needed), on_the_margin, on_the_margin])[0][0] == "stands"
    # a difference exactly on the margin: no n at these rates; the n that one image more either way needs
    nudged = together[1][1]
    assert nudged == min(n_to_decide(Paired(200, 11, 0, 0), tests=3), n_to_decide(Paired(200, 10, 1, 0), tests=3))
    rows = pd.DataFrame({"eps": [1.0, 2.0, 3.0], "finding": [f for f, _, _ in together],
                         "n_to_decide": [n for _, n, _ in together], "model_only": [26, 10, 10],
                         "than_only": [5, 0, 0], "both": [50, 0, 0], "n_paired": 200})
    assert curve_phrase(rows.iloc[1:]) == (f"undecided at every eps ({ON_THE_MARGIN}: about {about(nudged)} "
                                           "shared images would decide at one image more either way)")
    assert curve_phrase(rows).startswith("undecided at every eps (") and "would decide" in curve_phrase(rows)


def _evidence(survivors: dict, *, n: int):
    from genrob.adaptive import FamilyEvidence
    from genrob.params import sweep_config

    worst = pd.DataFrame([{"model": m, "norm": norm, "eps": eps, "n": n, "worst_case_accuracy": s.mean(),
                           "ci_low": max(0.0, s.mean() - 0.05), "ci_high": s.mean() + 0.05}
                          for (m, norm, eps), s in survivors.items()])
    results = pd.DataFrame([{"model": m, "attack": "pgd_linf", "norm": norm, "eps": eps, "robust_accuracy": s.mean(),
                             "robust_ci_low": 0.0, "robust_ci_high": 1.0} for (m, norm, eps), s in survivors.items()])
    config = sweep_config(profile="smoke", models=["gaussian_nb", "logistic_regression"])
    return [FamilyEvidence(config=config, results=results, worst_case=worst, checks=None, survivors=survivors)]


def test_the_papers_claims_are_judged_at_every_eps_and_summarised_over_the_curve():
    def alive(count, n=200):
        return pd.Series([True] * count + [False] * (n - count), index=range(n))

    survivors = {("gaussian_nb", "linf", 0.1): alive(120), ("logistic_regression", "linf", 0.1): alive(2),
                 ("gaussian_nb", "linf", 0.2): alive(20), ("logistic_regression", "linf", 0.2): alive(0),
                 ("gaussian_nb", "linf", 0.3): alive(0), ("logistic_regression", "linf", 0.3): alive(0)}
    table_ = claims(_evidence(survivors, n=200))
    assert set(table_["claim"]) == {"Naive Bayes resists gradient attacks better than logistic regression"}
    assert table_["eps"].tolist() == [0.1, 0.2, 0.3] and set(table_["norm"]) == {"linf"}
    assert table_["finding"].tolist() == ["stands", "stands", EQUAL]
    assert table_["difference"].tolist() == pytest.approx([0.59, 0.10, 0.0])
    low, high = table_["difference_ci"].iloc[2]
    assert -MARGIN < low < 0 < high < MARGIN
    over = curves(table_)
    assert over[["finding", "phrase"]].values.tolist() == [["stands", "stands up to 0.2; equal at 0.3 (both at 0)"]]
    assert counts(over) == "1 stands"
    assert summary(over).startswith("- **stands** (1 of 1): Naive Bayes resists")
    assert table(over).loc["Naive Bayes resists gradient attacks better than logistic regression", "l∞"] == \
        "stands up to 0.2; equal at 0.3 (both at 0)"
    assert "no n would decide" not in summary(over)


def test_the_exact_outcomes_replace_the_attacks_and_an_open_bracket_decides_only_where_both_ends_agree():
    """Naive Bayes kept 20 of 200 images from the attacks at l_inf 0.2, of which the solver shows 18 breakable
    (the attacks missed them): on the exact outcomes the 2 against 0 is equal, where the attacks' 20 against 0
    read as more robust. Left undecided instead, those 18 make a bracket [2, 20] whose ends disagree."""
    def alive(count, n=200):
        return pd.Series([True] * count + [False] * (n - count), index=range(n))

    survivors = {("gaussian_nb", "linf", 0.2): alive(20), ("logistic_regression", "linf", 0.2): alive(0)}
    evidence = _evidence(survivors, n=200)
    attacked = claims(evidence, grids={"linf": [0.2]})
    assert attacked[["finding", "outcomes"]].values.tolist() == [["stands", "attacks"]]

    def row(statuses: str) -> dict:
        return {"model": "gaussian_nb", "norm": "linf", "eps": 0.2, "statuses": statuses}

    exact = pd.DataFrame([row("R" * 2 + "B" * 18 + "B" * 180)])
    solved = claims(evidence, grids={"linf": [0.2]}, exact=exact)
    assert solved[["finding", "outcomes"]].values.tolist() == [[EQUAL, "exact"]]
    assert solved["difference"].iloc[0] == pytest.approx(2 / 200)
    assert solved["model_worst"].iloc[0] == attacked["model_worst"].iloc[0]  # the attacks' worst case, shown
    bracket = claims(evidence, grids={"linf": [0.2]}, exact=pd.DataFrame([row("R" * 2 + "U" * 18 + "B" * 180)]))
    assert bracket[["finding", "outcomes"]].values.tolist() == [[UNDECIDED, "bracket"]]
    assert bracket["n_to_decide"].isna().all()  # more images cannot close a bracket the solver left open
    low, high = bracket["difference_ci"].iloc[0]
    assert low < 2 / 200 and high > 20 / 200  # the interval spans both ends


def test_the_methods_chapter_states_the_margin_and_the_cascades_tolerance_the_code_uses():
    from genrob.checks import CASCADE_TOLERANCE
    from genrob.environment import REPO_ROOT

    methods = " ".join((REPO_ROOT / "book" / "methods.md").read_text().split())
    assert f"$m = {MARGIN:g}$" in methods and f"The margin** of {MARGIN:g} is both" in methods
    assert f"broke more than {CASCADE_TOLERANCE:.0%} of them" in methods
