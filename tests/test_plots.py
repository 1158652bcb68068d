"""genrob.plots: every figure draws from a small results table (no model) and labels what it shows."""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from genrob import plots
from genrob.results import wilson_interval


def _rows(model: str, kind: str, attack: str, norm: str, grid: tuple[float, ...], accuracies: list[float]) -> list:
    rows = []
    for eps, accuracy in zip(grid, accuracies):
        low, high = wilson_interval(round(accuracy * 40), 40)
        rows.append({"model": model, "kind": kind, "attack": attack, "norm": norm, "eps": eps, "n": 40,
                     "clean_accuracy": 0.95, "robust_accuracy": accuracy, "robust_ci_low": low,
                     "robust_ci_high": high})
    return rows


RESULTS = pd.DataFrame(
    _rows("gmm", "generative", "fgsm_linf", "linf", (0.1, 0.3), [0.6, 0.3])
    + _rows("logistic_regression", "discriminative", "fgsm_linf", "linf", (0.1, 0.3), [0.2, 0.0])
    + _rows("gmm", "generative", "pgd_l2", "l2", (1.0, 3.0), [0.5, 0.1])
    + _rows("logistic_regression", "discriminative", "pgd_l2", "l2", (1.0, 3.0), [0.1, 0.0]))


def _texts(figure) -> str:
    return " ".join(t.get_text() for ax in figure.axes
                    for t in (ax.title, ax.xaxis.label, ax.yaxis.label, *ax.get_xticklabels(),
                              *(ax.get_legend().get_texts() if ax.get_legend() else [])))


def test_robustness_curves_draw_one_panel_per_attack_styled_by_the_tables_kind():
    figure = plots.robustness_curves(RESULTS, cols=2)
    panels = [ax for ax in figure.axes if ax.has_data()]
    assert [ax.get_title() for ax in panels] == ["fgsm_linf", "pgd_l2"]
    lines = {line.get_label(): line for line in panels[0].get_lines()}
    assert lines["gmm"].get_linestyle() == "-" and lines["logistic_regression"].get_linestyle() == "--"
    assert "eps" in _texts(figure)


def test_verdict_bars_show_three_numbers_per_model_and_bold_the_generative_ones():
    verdicts = pd.DataFrame({"model": ["gmm", "cnn"], "kind": ["generative", "discriminative"],
                             "paper": [0.17, 0.01], "ours_paper_attacks": [0.3, 0.0], "worst_case": [0.0, 0.0],
                             "worst_ci_low": [0.0, 0.0], "worst_ci_high": [0.02, 0.02]})
    figure = plots.verdict_bars(verdicts)
    ax = figure.axes[0]
    assert len(ax.patches) == 6
    bold = {label.get_text(): label.get_fontweight() for label in ax.get_xticklabels()}
    assert bold == {"gmm": "bold", "cnn": "normal"}
    assert "l_inf eps 0.3" in ax.get_ylabel() and "worst case" in _texts(figure)


def test_claims_dots_place_each_claim_on_its_own_row_in_both_norms():
    claims = pd.DataFrame([{"claim": claim, "norm": norm, "eps": eps, "finding": finding, "model_worst": 0.4,
                            "model_ci": (0.3, 0.5), "than_worst": 0.1, "than_ci": (0.05, 0.2)}
                           for claim, finding in (("A beats B", "stands"), ("C beats D", "overturned"))
                           for norm, eps in (("linf", 0.3), ("l2", 2.0))])
    figure = plots.claims_dots(claims)
    assert [ax.get_title() for ax in figure.axes[:2]] == ["l_inf eps 0.3", "l_2 eps 2"]
    assert all(len(ax.lines) >= 2 for ax in figure.axes[:2])


def test_cost_against_flops_marks_each_model_by_its_kind():
    bench = pd.DataFrame({"kind": ["discriminative", "generative"], "flop_ratio_to_cnn": [1.0, 20.0],
                          "pgd_ratio_to_cnn": [1.0, 25.0]}, index=pd.Index(["cnn", "cnn_vae"], name="model"))
    figure = plots.cost_against_flops(bench)
    ax = figure.axes[0]
    assert {t.get_text() for t in ax.texts} == {"cnn", "cnn_vae"}
    assert "FLOPs" in ax.get_xlabel() and "PGD-40" in ax.get_ylabel()


def test_image_figures_label_their_rows_and_curves_their_axes():
    grid = plots.image_grid(torch.rand(6, 1, 28, 28), rows=2, row_labels=["clean", "noisy"], titles=list("abcdef"))
    assert [ax.get_ylabel() for ax in grid.axes[::3]] == ["clean", "noisy"]
    assert plots.training_curve([3.0, 2.0, 1.5], xlabel="epoch", ylabel="loss").axes[0].get_xlabel() == "epoch"
    chosen = plots.selection_curve([0.01, 0.1], [0.8, 0.9], chosen=0.1, xlabel="floor")
    assert "chosen: 0.1" in _texts(chosen)
    rays = plots.margins_along_rays(np.linspace(0, 0.3, 4), np.array([[5.0, 2.0, -1.0, -3.0]]), marks=[0.1])
    assert "margin" in rays.axes[0].get_ylabel()


def test_graphical_models_draw_every_node_and_title():
    graphs = {"naive Bayes": {"nodes": {"y": (0, 1.3, "$y$", False), "x": (0, 0, "$x$", True)},
                              "edges": [("y", "x")], "plates": [(["x"], "$i$")]}}
    figure = plots.graphical_models(graphs)
    assert figure.axes[0].get_title() == "naive Bayes"
    assert {t.get_text() for t in figure.axes[0].texts} >= {"$y$", "$x$", "$i$"}


def test_the_pairwise_worst_case_draws_each_generative_model_beside_its_counterpart_with_bands():
    rows = []
    for model, accuracies in (("gmm", [0.6, 0.4, 0.2]), ("logistic_regression", [0.3, 0.1, 0.0]),
                              ("mrf", [0.8, 0.7, 0.5])):
        for eps, accuracy in zip((0.1, 0.2, 0.3), accuracies):
            low, high = wilson_interval(round(accuracy * 40), 40)
            rows.append({"model": model, "norm": "linf", "eps": eps, "n": 40, "clean_accuracy": 0.9,
                         "worst_case_accuracy": accuracy, "ci_low": low, "ci_high": high})
    worst = pd.DataFrame(rows)
    figure = plots.pairwise_worst_case(worst, [("gmm", "logistic_regression"), ("mrf", "cnn_mrf")],
                                       names={"gmm": "Gaussian mixture"})
    panels = [ax for ax in figure.axes if ax.has_data()]
    assert len(panels) == 1  # the MRF's counterpart has no rows: its pair is left out
    lines = panels[0].get_lines()
    assert [line.get_label() for line in lines] == ["Gaussian mixture", "logistic_regression"]
    assert panels[0].get_title() == "Gaussian mixture\nagainst logistic_regression (n = 40)"
    assert list(lines[0].get_ydata()) == [0.9, 0.6, 0.4, 0.2]  # clean accuracy at eps 0, then the worst case
    assert lines[0].get_linestyle() == "-" and lines[1].get_linestyle() == "--"
    assert len(panels[0].collections) == 2  # one 95% band per model
    assert "worst-case accuracy" in _texts(figure)
