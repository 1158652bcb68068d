"""The sweep writes a tidy, honest table and never loses or redoes work."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import torch
import pandas as pd
import pytest

from genrob.attacks.base import Attack
from genrob.evaluate import clean_accuracy, gradient_health, sweep
from genrob.paper import compare_with_paper, paper_robustness
from genrob.params import sweep_config
from genrob.results import COLUMNS, read_results, results_path, wilson_interval

VOLATILE = ["wall_time_s", "code_version"]


def test_wilson_interval_matches_known_values():
    assert wilson_interval(0, 10) == pytest.approx((0.0, 0.2775), abs=1e-4)
    assert wilson_interval(5, 10) == pytest.approx((0.2366, 0.7634), abs=1e-4)
    low, high = wilson_interval(950, 1000)
    assert low < 0.95 < high and high - low < 0.03


def _config(**overrides):
    params = dict(profile="smoke", models=["gaussian_nb", "logistic_regression"],
                  attacks=["fgsm_linf", "pgd_l2", "binary_search_contrast_reduction_linf"], n=40)
    return sweep_config(**{**params, **overrides})


def test_sweep_writes_the_tidy_table(models, fresh_cache):
    table = sweep(_config())
    assert list(table.columns) == list(COLUMNS)
    assert len(table) == 2 * 3 * 5 and (table["n"] == 40).all() and (table["profile"] == "smoke").all()
    assert (table["robust_accuracy"] <= table["clean_accuracy"]).all()
    assert ((table["robust_ci_low"] <= table["robust_accuracy"]) & (table["robust_accuracy"] <= table["robust_ci_high"])).all()
    clean = table.groupby("model")["clean_accuracy"].nunique()
    assert (clean == 1).all()  # every attack ran on the same images
    fooled = table[table["robust_accuracy"] < table["clean_accuracy"]]
    assert fooled["median_perturbation"].notna().all()
    linf = table[table["norm"] == "linf"]
    assert (linf["median_perturbation"].dropna() <= linf.loc[linf["median_perturbation"].notna(), "eps"] + 1e-5).all()


def test_a_second_sweep_recomputes_nothing(models, fresh_cache, monkeypatch):
    first = sweep(_config())
    monkeypatch.setattr(Attack, "run", lambda *a, **k: pytest.fail("recomputed a cached result"))
    second = sweep(_config())
    pd.testing.assert_frame_equal(first, second)


def test_a_new_eps_grid_reuses_minimisation_runs(models, fresh_cache, monkeypatch):
    sweep(_config(attacks=["binary_search_contrast_reduction_linf"]))
    monkeypatch.setattr(Attack, "search", lambda *a, **k: pytest.fail("reran a minimisation attack"))
    table = sweep(_config(attacks=["binary_search_contrast_reduction_linf"], linf_eps=[0.05, 0.15]))
    assert sorted(table["eps"].unique()) == [0.05, 0.15]
    assert len(read_results("smoke")) == 2 * 7


def test_robust_accuracy_never_exceeds_clean_on_the_same_images(models, fresh_cache):
    table = sweep(_config(attacks=["additive_uniform_noise_linf", "gaussian_blur_linf"]))
    for _, cell in table.groupby(["model", "attack"]):
        assert (cell["robust_correct"] <= cell["clean_correct"]).all()
        assert (np.diff(cell.sort_values("eps")["robust_accuracy"]) <= 2 / 40 + 1e-12).all()


SLOW_SWEEP = textwrap.dedent("""
    import time
    from genrob.attacks.pgd import PGDLinf
    from genrob.params import sweep_config
    from genrob.evaluate import sweep

    generate = PGDLinf.generate
    def slow(self, *args, **kwargs):
        time.sleep({delay})  # gives the test time to kill the sweep midway
        return generate(self, *args, **kwargs)
    PGDLinf.generate = slow
    sweep(sweep_config(profile="smoke", models=["logistic_regression"], attacks=["pgd_linf"], n=40))
""")


def _run_sweep(cache, delay: float) -> subprocess.Popen:
    env = {**os.environ, "GENROB_CACHE": str(cache), "GENROB_PROGRESS": "off"}
    return subprocess.Popen([sys.executable, "-c", SLOW_SWEEP.format(delay=delay)], env=env)


def test_a_killed_sweep_resumes_and_ends_with_the_same_table(models, tmp_path, monkeypatch):
    killed, whole = tmp_path / "killed", tmp_path / "whole"
    monkeypatch.setenv("GENROB_CACHE", str(killed))
    process = _run_sweep(killed, delay=1.5)
    deadline = time.time() + 120
    while time.time() < deadline:
        if results_path("smoke").exists() and len(read_results("smoke")) >= 2:
            break
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    partial = read_results("smoke")  # the file is whole: it was swapped in, never written in place
    assert 2 <= len(partial) < 5

    assert _run_sweep(killed, delay=0).wait() == 0
    resumed = read_results("smoke")
    monkeypatch.setenv("GENROB_CACHE", str(whole))
    assert _run_sweep(whole, delay=0).wait() == 0
    unbroken = read_results("smoke")

    # Rows written before the kill were kept, not recomputed ...
    pd.testing.assert_frame_equal(resumed.iloc[: len(partial)], partial)
    # ... and the table is the one an unbroken sweep writes.
    pd.testing.assert_frame_equal(resumed.drop(columns=VOLATILE), unbroken.drop(columns=VOLATILE))


def test_clean_accuracy_and_gradient_health(models, mnist, few_images):
    clean = clean_accuracy(models, mnist.test)
    assert (clean["n"] == 10_000).all() and (clean["accuracy"] > 0.75).all()
    health = gradient_health(models, few_images).set_index("model")
    # Log-likelihood logits are far apart; logistic regression's are not.
    assert health.loc["gaussian_nb", "median_margin"] > 10 * health.loc["logistic_regression", "median_margin"]
    assert health.loc["logistic_regression", "zero_gradient_share"] == 0


def test_comparison_with_the_paper_pairs_the_right_cells(models, fresh_cache):
    table = sweep(_config(attacks=["fgsm_linf"]))
    comparison = compare_with_paper(table)
    assert set(comparison["eps"]) == {0.3, 0.5} and len(comparison) == 4
    paper = paper_robustness()
    nb = comparison[(comparison["model"] == "gaussian_nb") & (comparison["eps"] == 0.3)].iloc[0]
    expected = paper[(paper["paper_model"] == "Gaussian NB") & (paper["attack"] == "fgsm_linf") & (paper["eps"] == 0.3)]
    assert nb["paper"] == pytest.approx(float(expected["robust_accuracy"].iloc[0]))
    assert nb["difference"] == pytest.approx(nb["ours"] - nb["paper"])


def test_reversals_are_images_fooled_at_one_eps_and_not_at_a_larger(monkeypatch):
    import genrob.evaluate as evaluate

    fooled = {0.1: [1, 0, 0, 1], 0.3: [0, 1, 0, 1], 0.5: [1, 1, 0, 1]}
    monkeypatch.setattr(evaluate, "per_image_outcome",
                        lambda config, model, attack, eps: {"fooled": np.array(fooled[eps], dtype=bool)})
    config = sweep_config(profile="smoke", linf_eps=[0.1, 0.3, 0.5], attacks=["fgsm_linf"], models=["gmm"])
    assert evaluate.reversals(config, "gmm", "fgsm_linf").tolist() == [0]
    assert evaluate.reversals(config, "gmm", "pgd_linf").tolist() == []  # not run


def test_margins_along_fgsm_rays_start_at_the_clean_margin(models, few_images):
    from genrob.evaluate import margins_along_fgsm_rays
    from genrob.models.base import logit_margin

    model = models["logistic_regression"]
    ts, margins = margins_along_fgsm_rays(model, few_images, eps_max=0.3, steps=7)
    assert margins.shape == (len(few_images), 7) and ts[0] == 0 and ts[-1] == pytest.approx(0.3)
    with torch.no_grad():
        assert np.allclose(margins[:, 0], logit_margin(model(few_images.x), few_images.y).numpy(), atol=1e-5)
    assert (margins[:, -1] < margins[:, 0]).all()  # climbing cross-entropy lowers a linear model's margin


CONCURRENT_WRITER = textwrap.dedent("""
    from genrob.results import COLUMNS, append_rows
    for i in range({rows}):
        row = dict.fromkeys(COLUMNS, 0)
        row.update(profile="smoke", model="writer{writer}", attack="a", eps=i)
        append_rows("smoke", [row])
""")


def test_sweeps_side_by_side_never_lose_a_row(fresh_cache):
    """Two sweeps of one profile (say, two models on two cores) append to one table."""
    writers, rows = 4, 15
    env = {**os.environ, "GENROB_CACHE": str(fresh_cache)}
    processes = [subprocess.Popen([sys.executable, "-c", CONCURRENT_WRITER.format(rows=rows, writer=w)], env=env)
                 for w in range(writers)]
    assert [p.wait() for p in processes] == [0] * writers
    table = read_results("smoke")
    assert len(table) == writers * rows
    assert sorted(table["model"].value_counts()) == [rows] * writers


def test_the_command_line_sweep_writes_the_rows_the_chapter_reads(models, capsys):
    from genrob.__main__ import main

    args = ["sweep", "naive_bayes", "--profile", "smoke", "--models", "logistic_regression",
            "--attacks", "fgsm_linf", "--n", "20"]
    assert main(args) == 0
    written = read_results("smoke").query("model == 'logistic_regression' and attack == 'fgsm_linf' and n == 20")
    config = sweep_config(profile="smoke", family="naive_bayes", models=["logistic_regression"],
                          attacks=["fgsm_linf"], n=20)
    assert sorted(written["eps"]) == list(config.linf_eps)
    pd.testing.assert_frame_equal(sweep(config), written.reset_index(drop=True))  # read, not recomputed
    assert main(["sweep", "naive_bayes", "--profile", "smoke", "--n", "0"]) == 2
    assert "n must be a whole number" in capsys.readouterr().err


def test_the_command_line_adaptive_run_refuses_bad_names_before_any_work(capsys):
    from genrob.__main__ import main

    assert main(["adaptive", "conv_vea", "--profile", "smoke"]) == 2
    assert "known families" in capsys.readouterr().err
    assert main(["adaptive", "conv_vae", "--profile", "smoke", "--models", "cnn_vea"]) == 2
    assert "unknown model ['cnn_vea']" in capsys.readouterr().err


def test_the_worst_case_is_image_by_image(models, fresh_cache, mnist):
    """An image is robust only if every attack missed it; the worst case is at most the best attack."""
    from genrob.evaluate import per_image_outcome, worst_case

    attacks = ["fgsm_linf", "additive_uniform_noise_linf", "binary_search_contrast_reduction_linf"]
    config = _config(attacks=attacks)
    table = sweep(config)
    worst = worst_case(config, norm="linf", data=mnist)
    assert len(worst) == len(config.models) * len(config.linf_eps) and (worst["attacks"] == 3).all()
    for row in worst.itertuples():
        single = table[(table["model"] == row.model) & (table["eps"] == row.eps)]["robust_accuracy"]
        assert row.worst_case_accuracy <= single.min() + 1e-12
        assert row.strongest_attack_accuracy == pytest.approx(single.min())
        fooled = [per_image_outcome(config, row.model, a, row.eps)["fooled"] for a in attacks]
        clean = per_image_outcome(config, row.model, attacks[0], row.eps)["clean_correct"]
        assert row.worst_case_accuracy == pytest.approx((clean & ~np.logical_or.reduce(fooled)).mean())
    # Read from the rows a sweep wrote, the attacks at each eps are the same ones.
    pd.testing.assert_frame_equal(worst_case(config, norm="linf", results=table, data=mnist), worst)
    # A search stored before per-eps files existed is read through the model, with the same answer.
    for path in (fresh_cache / "results").rglob("binary_search*eps*.npz"):
        path.unlink()
    pd.testing.assert_frame_equal(worst_case(config, norm="linf", data=mnist), worst)


def test_a_fingerprint_changes_with_any_weight_and_input():
    import copy

    from genrob.results import fingerprint

    model = torch.nn.Linear(4, 2)
    x = torch.zeros(3, 4)
    assert fingerprint(model, x, "pgd", {"steps": 40}) == fingerprint(copy.deepcopy(model), x.clone(), "pgd",
                                                                      {"steps": 40})
    changed = copy.deepcopy(model)
    with torch.no_grad():
        changed.weight[0, 0] += 1e-6
    assert fingerprint(changed, x) != fingerprint(model, x)
    assert fingerprint(model, x + 1) != fingerprint(model, x)
    assert fingerprint(model, x, {"steps": 41}) != fingerprint(model, x, {"steps": 40})


def test_clean_predictions_and_example_adversarials_are_computed_once(models, few_images, fresh_cache,
                                                                      monkeypatch):
    """A chapter rerun with nothing changed reads them from the cache (the conv VAEs take minutes)."""
    from genrob import evaluate

    shown = few_images.take(range(3))
    first = evaluate.clean_accuracy(models, few_images)
    table, pictures = evaluate.adversarial_examples(models, ["fgsm_linf"], shown, profile="smoke")

    def refuse(*args, **kwargs):
        raise AssertionError("recomputed what the cache holds")

    with monkeypatch.context() as patch:
        patch.setattr(evaluate, "predict", refuse)
        assert evaluate.clean_accuracy(models, few_images).equals(first)
    monkeypatch.setattr("genrob.attacks.fgsm.FGSM.generate", refuse)
    again, pictures_again = evaluate.adversarial_examples(models, ["fgsm_linf"], shown, profile="smoke")
    assert again.equals(table) and all(torch.equal(pictures[k], pictures_again[k]) for k in pictures)
