"""genrob.paper: the paper's numbers and claims as cited data, paired with ours."""

from __future__ import annotations

import pytest
from synthetic import naive_bayes_config

from genrob.evaluate import sweep
from genrob.paper import compare_with_paper, paper_robustness


def test_the_mnist_challenge_reference_is_cited_data_strongest_attack_first():
    from genrob.paper import mnist_challenge

    challenge = mnist_challenge()
    assert challenge["robust_accuracy"].is_monotonic_increasing
    assert challenge["robust_accuracy"].iloc[0] == pytest.approx(0.88)  # the leaderboard's best attack
    assert 0.88 <= challenge["robust_accuracy"].max() <= 0.97 and set(challenge["eps"]) == {0.3}


def test_each_paper_claim_is_worded_once_and_names_registered_models():
    from genrob.models import model_names
    from genrob.paper import paper_claims

    table = paper_claims()
    assert table["claim"].is_unique
    assert set(table["model"]) | set(table["than"]) <= set(model_names())
    assert set(table["expected"]) <= {"more robust", "no difference"}


def test_comparison_with_the_paper_pairs_the_right_cells(models, fresh_cache):
    table = sweep(naive_bayes_config(attacks=["fgsm_linf"]))
    comparison = compare_with_paper(table)
    assert set(comparison["eps"]) == {0.3, 0.5} and len(comparison) == 4
    paper = paper_robustness()
    nb = comparison[(comparison["model"] == "gaussian_nb") & (comparison["eps"] == 0.3)].iloc[0]
    expected = paper[(paper["paper_model"] == "Gaussian NB") & (paper["attack"] == "fgsm_linf") & (paper["eps"] == 0.3)]
    assert nb["paper"] == pytest.approx(float(expected["robust_accuracy"].iloc[0]))
    assert nb["difference"] == pytest.approx(nb["ours"] - nb["paper"])
