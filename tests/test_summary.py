"""The study-wide tables: each model's most precise complete sweep, set beside the paper."""

from __future__ import annotations

import pandas as pd
import torch
from synthetic import sweep_rows

from genrob.attacks import PAPER_ATTACKS, norm_of
from genrob.contract import predict
from genrob.names import attack_name
from genrob.summary import paper_table, study_results


def test_each_model_keeps_its_largest_complete_current_sweep():
    rows = (sweep_rows("cnn", 30, 0.1) + sweep_rows("cnn", 1000, 0.2)
            + sweep_rows("cnn", 5000, 0.3, attacks=PAPER_ATTACKS[:4])  # incomplete
            + sweep_rows("gmm", 1000, 0.5) + sweep_rows("gmm", 2000, 0.9, model_config="stale"))
    results = study_results("default", results=pd.DataFrame(rows))
    assert results.groupby("model")["n"].unique().to_dict() == {"cnn": [1000], "gmm": [1000]}
    assert set(results.loc[results["model"] == "cnn", "robust_accuracy"]) == {0.2}
    assert len(results) == 2 * len(sweep_rows("cnn", 1, 0.0))


def test_the_papers_table_one_sets_ours_beside_its_numbers_in_its_order():
    results = study_results("default", results=pd.DataFrame(sweep_rows("gmm", 1000, 0.5) + sweep_rows("cnn", 1000, 0.2)
                                                             + sweep_rows("mlp", 300, 0.0)))
    table = paper_table(results, norm="linf", eps=0.3)
    assert list(table.index) == ["Gaussian mixture", "MLP", "CNN"]  # the paper's order, by name
    # ours with its 95% interval (500 of 1000), the paper's Table 1 below it; none where the paper has none
    assert table.loc["Gaussian mixture", "PGD (l∞)"] == "0.50 [0.47, 0.53]\npaper 0.67"
    assert table.loc["MLP", "PGD (l∞)"] == "0.00 [0.00, 0.01]"  # n = 300
    assert table.loc["CNN", "n"] == 1000
    assert list(table.columns) == ["n"] + [attack_name(a) for a in PAPER_ATTACKS if norm_of(a) == "linf"]


def test_the_fgm_walk_grows_the_perturbation_and_records_each_prediction(models, few_images):
    from genrob.summary import fgm_walk

    x, y = few_images.x[:1], few_images.y[:1]
    images, predictions = fgm_walk(models, x, y, eps_grid=[0.0, 1.0, 3.0], profile="smoke")
    assert images.shape == (2 * 3, 1, 28, 28)
    sizes = (images - x[0]).flatten(1).norm(dim=1).reshape(2, 3)
    assert torch.all(sizes[:, 0] == 0) and torch.all(sizes[:, 1:] <= torch.tensor([1.0, 3.0]) + 1e-4)
    assert 0 < sizes[1, 1] < sizes[1, 2]  # logistic regression (naive Bayes's softmax may be saturated: no step)
    assert list(predictions["model"]) == ["gaussian_nb"] * 3 + ["logistic_regression"] * 3
    clean = predictions[predictions["eps"] == 0.0]["prediction"]
    assert list(clean) == [int(predict(m, x)[0]) for m in models.values()]


def test_the_blur_walk_blurs_once_for_every_model(models, few_images):
    from genrob.summary import blur_walk

    x = few_images.x[:1]
    images, predictions = blur_walk(models, x, widths=[0.0, 1.0, 4.0])
    assert images.shape == (3, 1, 28, 28) and torch.equal(images[0], x[0])
    linf = predictions.drop_duplicates("width")["linf"].to_numpy()
    assert linf[0] == 0 and 0 < linf[1] < linf[2] <= 1
    assert len(predictions) == 2 * 3


def test_the_blur_table_heads_each_column_with_width_and_size():
    from genrob.summary import walk_table

    predictions = pd.DataFrame({"model": ["b", "b", "a", "a"], "width": [0.0, 2.0, 0.0, 2.0],
                                "linf": [0.0, 0.4, 0.0, 0.4], "prediction": [7, 1, 7, 7]})
    table = walk_table(predictions)
    assert list(table.index) == ["b", "a"] and list(table.columns) == ["0 (0.00)", "2 (0.40)"]
    assert table.loc["b", "2 (0.40)"] == 1


def test_the_study_does_not_depend_on_the_order_rows_were_written_and_leaves_out_the_reference():
    rows = (sweep_rows("gmm", 1000, 0.5) + sweep_rows("cnn", 1000, 0.2) + sweep_rows("cnn_adversarial", 60, 0.9)
            + sweep_rows("mlp", 300, 0.1))
    forward = study_results("default", results=pd.DataFrame(rows))
    backward = study_results("default", results=pd.DataFrame(rows[::-1]))
    assert forward.equals(backward)
    assert list(dict.fromkeys(forward["model"])) == ["gmm", "mlp", "cnn"]  # the paper's order, no reference


def test_figure_four_is_split_by_family_in_the_books_order():
    from genrob.summary import by_family

    results = pd.DataFrame(sweep_rows("cnn", 30, 0.1) + sweep_rows("gaussian_nb", 30, 0.5)
                           + sweep_rows("logistic_regression", 30, 0.2))
    split = by_family(results)
    assert list(split) == ["naive_bayes", "conv_vae"]
    assert set(split["naive_bayes"]["model"]) == {"gaussian_nb", "logistic_regression"}
    assert sum(len(rows) for rows in split.values()) == len(results)
