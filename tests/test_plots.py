"""genrob.plots: every figure draws from a small results table (no model) and labels what it shows."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import torch

from genrob import plots
from genrob.attacks import PAPER_ATTACKS
from genrob.names import ATTACK_NAMES
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
    assert [ax.get_title() for ax in panels] == ["FGSM (l∞)", "PGD (l2)"]
    lines = {line.get_label(): line for line in panels[0].get_lines()}
    assert lines["Gaussian mixture"].get_linestyle() == "-" and lines["logistic regression"].get_linestyle() == "--"
    assert lines["Gaussian mixture"].get_color() != lines["logistic regression"].get_color()  # a colour per model
    assert "eps (l∞)" in _texts(figure)


def test_attacks_whose_curves_are_the_same_share_one_panel():
    twin = RESULTS[RESULTS["attack"] == "fgsm_linf"].assign(attack="pgd_linf")
    figure = plots.robustness_curves(pd.concat([RESULTS, twin]))
    titles = [ax.get_title() for ax in figure.axes if ax.has_data()]
    assert titles == ["FGSM (l∞) = PGD (l∞)", "PGD (l2)"]
    assert plots._merged_name(["contrast reduction, linear search (l∞)", "contrast reduction, binary search (l∞)"]) \
        == "contrast reduction, linear search = binary search (l∞)"


def test_verdict_bars_show_three_numbers_per_model_and_bold_the_generative_ones():
    verdicts = pd.DataFrame({"model": ["gmm", "cnn"], "kind": ["generative", "discriminative"],
                             "paper": [0.17, 0.01], "ours_paper_attacks": [0.3, 0.0], "worst_case": [0.0, 0.0],
                             # a Wilson bound of 0 of 1 000 as floating point gives it, a hair above the share
                             "worst_ci_low": [0.0, 2.168404e-19], "worst_ci_high": [0.02, 0.004]})
    figure = plots.verdict_bars(verdicts)
    ax = figure.axes[0]
    assert len(ax.patches) == 6
    bold = {label.get_text(): label.get_fontweight() for label in ax.get_xticklabels()}
    assert bold == {"Gaussian mixture": "bold", "CNN": "normal"}
    assert "l∞ eps 0.3" in ax.get_ylabel() and "worst case" in _texts(figure)
    from matplotlib.collections import PathCollection

    def marks(axes) -> list:
        return [point for c in axes.collections if isinstance(c, PathCollection) for point in c.get_offsets()]

    assert not marks(ax)  # no exact value, no mark
    solved = plots.verdict_bars(verdicts.assign(exact_low=[float("nan"), 0.0])).axes[0]
    assert [point[1] for point in marks(solved)] == [0.0] and "exact (solved)" in _texts(solved.figure)


def test_the_claims_forest_draws_each_claims_difference_at_every_eps_of_both_norms():
    claims = pd.DataFrame([{"claim": claim, "norm": norm, "eps": eps, "finding": finding, "difference": 0.3,
                            "difference_ci": (0.2, 0.4)}
                           for claim, finding in (("A beats B", "stands"), ("C beats D", "equal"))
                           for norm, grid in (("linf", (0.1, 0.2, 0.3)), ("l2", (1.0, 2.0, 3.0))) for eps in grid])
    figure = plots.claims_forest(claims, margin=0.05)
    assert [ax.get_title() for ax in figure.axes[:2]] == ["l∞, eps 0.1, 0.2, 0.3 top to bottom",
                                                          "l2, eps 1, 2, 3 top to bottom"]
    # an error bar per claim and eps (each a line and its caps), and the margin's band
    assert all(len(ax.containers) == 6 for ax in figure.axes[:2])
    assert all(len(ax.patches) == 1 for ax in figure.axes[:2])
    assert "within ±0.05: equal" in [t.get_text() for legend in figure.legends for t in legend.get_texts()]


def test_cost_against_flops_marks_each_model_by_its_kind():
    bench = pd.DataFrame({"kind": ["discriminative", "generative"], "flop_ratio_to_cnn": [1.0, 20.0],
                          "pgd_ratio_to_cnn": [1.0, 25.0]}, index=pd.Index(["cnn", "cnn_vae"], name="model"))
    figure = plots.cost_against_flops(bench)
    ax = figure.axes[0]
    assert {t.get_text() for t in ax.texts} == {"CNN", "CNN-VAE (Gaussian)"}
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
    figure = plots.pairwise_worst_case(worst, [("gmm", "logistic_regression"), ("mrf", "cnn_mrf")])
    panels = [ax for ax in figure.axes if ax.has_data()]
    assert len(panels) == 1  # the MRF's counterpart has no rows: its pair is left out
    lines = panels[0].get_lines()
    assert [line.get_label() for line in lines] == ["Gaussian mixture", "logistic regression"]
    assert panels[0].get_title().replace("\n", " ") == "Gaussian mixture against logistic regression (n = 40)"
    assert list(lines[0].get_ydata()) == [0.9, 0.6, 0.4, 0.2]  # clean accuracy at eps 0, then the worst case
    assert lines[0].get_linestyle() == "-" and lines[1].get_linestyle() == "--"
    assert len(panels[0].collections) == 2  # one 95% band per model
    assert "worst-case accuracy" in _texts(figure)


def test_the_attack_map_draws_each_images_fate_per_attack_and_counts_the_survivors():
    states = {("pgd_linf", 0): "broken", ("pgd_linf", 1): "survives", ("pgd_linf", 2): "wrong before any attack",
              ("square_linf", 0): "broken by an attack before it", ("square_linf", 1): "survives",
              ("square_linf", 2): "wrong before any attack"}
    breaks = pd.DataFrame([{"model": "cnn", "attack": attack, "norm": "linf", "eps": 0.3, "image": image,
                            "state": state} for (attack, image), state in states.items()])
    figure = plots.attack_map(breaks)
    ax = figure.axes[0]
    assert ax.get_title() == "CNN: 1 of 3 images survive every attack"
    assert [t.get_text() for t in ax.get_yticklabels()] == ["PGD (l∞)", "AutoAttack's Square (l∞)"]
    # columns: the image wrong before any attack first, then the broken one, the survivor last; the cascade's
    # Square never met the image PGD broke (pink, not pale)
    assert ax.images[0].get_array().tolist() == [[0, 1, 3], [0, 2, 3]]


def test_the_minimal_perturbations_show_a_dot_per_image_found_and_count_the_rest():
    sizes = pd.DataFrame({"model": ["gmm"] * 3 + ["cnn"] * 2, "attack": "cw_l2", "norm": "l2",
                          "image": [0, 1, 2, 0, 1], "size": [0.5, 1.5, float("nan"), 0.2, 0.4], "limit": 5.0})
    figure = plots.minimal_perturbations(sizes)
    ax = figure.axes[0]
    assert ax.get_title() == "Carlini-Wagner (l2)"
    assert sorted(len(line.get_xdata()) for line in ax.get_lines()) == [2, 2, 2, 2]  # dots of each model, medians
    assert [t.get_text() for t in ax.texts] == ["1 not fooled"]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["Gaussian mixture", "CNN"]


def test_the_adversarial_grid_tells_an_attacks_success_from_an_image_wrong_before_it():
    examples = pd.DataFrame([{"model": "cnn", "attack": "pgd_linf", "image": i, "label": 3, "clean_prediction": clean,
                              "prediction": after, "size": 0.3} for i, (clean, after) in enumerate([(3, 5), (8, 8), (3, 3)])])
    figure = plots.adversarial_examples(examples, {("cnn", "pgd_linf"): torch.rand(3, 1, 28, 28)}, torch.rand(3, 1, 28, 28))
    attacked = figure.axes[3:6]
    assert [ax.get_title() for ax in attacked] == ["5\n(0.30)", "8\nwas wrong", "3\n"]
    colours = [ax.title.get_color() for ax in attacked]
    assert colours == [plots.FOOLED_COLOUR, plots.WRONG_BEFORE_COLOUR, "black"]


def test_every_figure_fits_the_books_column_with_text_of_at_least_nine_points():
    """A figure no wider than the column is never shrunk on the page, so its font sizes are the page's."""
    import matplotlib.text

    claims = pd.DataFrame([{"claim": "A rather long claim about one model beating another one", "norm": norm,
                            "eps": eps, "finding": "stands", "model_worst": 0.4, "model_ci": (0.3, 0.5),
                            "than_worst": 0.1, "than_ci": (0.05, 0.2)} for norm, eps in (("linf", 0.3), ("l2", 2.0))])
    worst = pd.DataFrame([{"model": m, "norm": "linf", "eps": eps, "n": 40, "clean_accuracy": 0.9,
                           "worst_case_accuracy": 0.5, "ci_low": 0.3, "ci_high": 0.6}
                          for m in ("gmm", "logistic_regression") for eps in (0.1, 0.3)])
    figures = [
        plots.robustness_curves(RESULTS),
        plots.pairwise_worst_case(worst, [("gmm", "logistic_regression")] * 3),
        plots.claims_forest(claims.assign(difference=0.3, difference_ci=[(0.2, 0.4)] * len(claims)), margin=0.05),
        plots.image_grid(torch.rand(20, 1, 28, 28), titles=[str(i) for i in range(20)]),
        plots.image_grid(torch.rand(12, 1, 28, 28), rows=2, row_labels=["CNN behind the MRF denoiser: Square (l∞)"] * 2),
        plots.graphical_models({str(i): {"nodes": {"y": (0, 1.3, "$y$", False)}, "edges": []} for i in range(4)}),
        plots.attack_seconds(pd.DataFrame(np.geomspace(1e-4, 40, 16 * 10).reshape(16, 10), columns=list(PAPER_ATTACKS),
                                          index=["cnn_vae_crf"] * 16)),
        # the longest names, and as many images as the full profile's (the extended one's 1 000 overflowed)
        plots.attack_map(pd.DataFrame([{"model": model, "attack": attack, "norm": "linf", "eps": 0.3, "image": image,
                                        "state": "survives" if image % 2 else "broken"}
                                       for model in ("cnn_mrf", "cvae_prototypes")
                                       for attack in (max(ATTACK_NAMES, key=lambda a: len(ATTACK_NAMES[a])),
                                                      "square_linf")
                                       for image in range(10_000)])),
    ]
    for figure in figures:
        png = io.BytesIO()
        figure.savefig(png, format="png", dpi=100, bbox_inches="tight")  # as a notebook saves it
        width = int.from_bytes(png.getvalue()[16:20], "big")
        assert width <= plots.BOOK_COLUMN_PIXELS
        sizes = [t.get_fontsize() for t in figure.findobj(matplotlib.text.Text) if t.get_text().strip() and t.get_visible()]
        assert sizes and min(sizes) >= 9


def test_the_attack_seconds_write_each_cell_in_at_most_four_characters():
    runtimes = pd.DataFrame([[0.004, 0.02, 0.4, 3.6, 13.2, 260.4, 0.0, 1.0, 99.5, 0.25]], columns=list(PAPER_ATTACKS),
                            index=["cnn"])
    ax = plots.attack_seconds(runtimes).axes[0]
    assert [t.get_text() for t in ax.texts] == ["<.01", ".02", ".4", "3.6", "13", "260", "<.01", "1", "100", ".2"]
