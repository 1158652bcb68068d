"""The sweep writes a tidy, honest table and never loses or redoes work."""

from __future__ import annotations

import datetime
import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pandas as pd
import pytest
import torch
from synthetic import naive_bayes_config

from genrob import evaluate
from genrob.attacks.base import Attack
from genrob.environment import machine, thread_count
from genrob.evaluate import clean_accuracy, gradient_health, sweep
from genrob.params import sweep_config
from genrob.results import COLUMNS, read_results, results_path

VOLATILE = ["wall_time_s", "code_version", "date"]  # a run may cross midnight


def test_sweep_writes_the_tidy_table(models, fresh_cache):
    table = sweep(naive_bayes_config())
    assert list(table.columns) == list(COLUMNS)
    # every row says where and when it was computed (verify reproduces outcomes exactly only there)
    assert (table["machine"] == machine("cpu")).all() and (table["threads"] == thread_count()).all()
    assert (table["date"] == datetime.date.today().isoformat()).all()
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
    first = sweep(naive_bayes_config())
    monkeypatch.setattr(Attack, "run", lambda *a, **k: pytest.fail("recomputed a cached result"))
    second = sweep(naive_bayes_config())
    pd.testing.assert_frame_equal(first, second)


def test_a_new_eps_grid_reuses_minimisation_runs(models, fresh_cache, monkeypatch):
    sweep(naive_bayes_config(attacks=["binary_search_contrast_reduction_linf"]))
    monkeypatch.setattr(Attack, "search", lambda *a, **k: pytest.fail("reran a minimisation attack"))
    table = sweep(naive_bayes_config(attacks=["binary_search_contrast_reduction_linf"], linf_eps=[0.05, 0.15]))
    assert sorted(table["eps"].unique()) == [0.05, 0.15]
    assert len(read_results("smoke")) == 2 * 7


def test_robust_accuracy_never_exceeds_clean_on_the_same_images(models, fresh_cache):
    table = sweep(naive_bayes_config(attacks=["additive_uniform_noise_linf", "gaussian_blur_linf"]))
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


def test_reversals_are_images_fooled_at_one_eps_and_not_at_a_larger(monkeypatch):
    import genrob.evaluate as evaluate

    fooled = {0.1: [1, 0, 0, 1], 0.3: [0, 1, 0, 1], 0.5: [1, 1, 0, 1]}
    monkeypatch.setattr(evaluate, "per_image_outcome",
                        lambda config, model, attack, eps: {"fooled": np.array(fooled[eps], dtype=bool)})
    config = sweep_config(profile="smoke", linf_eps=[0.1, 0.3, 0.5], attacks=["fgsm_linf"], models=["gmm"])
    assert evaluate.reversals(config, "gmm", "fgsm_linf").tolist() == [0]
    assert evaluate.reversals(config, "gmm", "pgd_linf").tolist() == []  # not run


def test_margins_along_fgsm_rays_start_at_the_clean_margin(models, few_images):
    from genrob.contract import logit_margin
    from genrob.evaluate import margins_along_fgsm_rays

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


def _cascade_setup(models, mnist):
    """The naive Bayes family: FGSM on every image, then uniform noise and PGD as a cascade (l_inf)."""
    from genrob.evaluate import per_image_outcome

    complete = naive_bayes_config(attacks=["fgsm_linf"], linf_eps=[0.1, 0.2])
    sweep(complete)

    def before(model, norm, eps):
        arrays = per_image_outcome(complete, model, "fgsm_linf", eps)
        return arrays["clean_correct"], arrays["fooled"]

    return naive_bayes_config(attacks=["additive_uniform_noise_linf", "pgd_linf"], linf_eps=[0.1, 0.2]), before


def test_a_cascade_attacks_only_what_nothing_before_it_broke(models, mnist, fresh_cache, monkeypatch):
    from genrob.evaluate import cascade, per_image_outcome

    config, before = _cascade_setup(models, mnist)
    attacked: list[np.ndarray] = []
    run = Attack.run

    def recording(self, *args, only=None, **kwargs):
        attacked.append(only.copy())
        return run(self, *args, only=only, **kwargs)

    monkeypatch.setattr(Attack, "run", recording)
    table = cascade(config, before=before, data=mnist)
    assert table["attack"].tolist() == ["additive_uniform_noise_linf", "pgd_linf"] * 4
    assert (table["images"].str.startswith("cascade-")).all()
    for model in config.models:
        rows = table[table["model"] == model]
        broken_smaller = np.zeros(config.n, bool)
        for eps in (0.1, 0.2):
            clean, broken = before(model, "linf", eps)
            broken = broken | broken_smaller  # broken within 0.1: broken within 0.2, never attacked again
            for row in rows[rows["eps"] == eps].itertuples():
                arrays = per_image_outcome(config, model, row.attack, eps, images=row.images)
                todo = clean & ~broken
                assert row.attacked == todo.sum() and not (arrays["fooled"] & ~todo).any()
                broken = broken | arrays["fooled"]
                # its robust accuracy is what survived it and every attack before it
                assert row.robust_correct == (clean & ~broken).sum()
            broken_smaller = broken
    # the attacks ran on exactly those images; the noise at 0.1 of each model first
    assert len(attacked) == sum(table["attacked"] > 0)
    assert (table["gradient_evals"][table["attack"] == "additive_uniform_noise_linf"] == 0).all()
    ran_pgd = table[(table["attack"] == "pgd_linf") & (table["attacked"] > 0)]
    assert (ran_pgd["gradient_evals"] >= ran_pgd["attacked"]).all() and (table["forward_evals"] >= 0).all()


def test_a_cascade_recomputes_nothing_unless_what_came_before_changed(models, mnist, fresh_cache, monkeypatch):
    from genrob.evaluate import cascade

    config, before = _cascade_setup(models, mnist)
    first = cascade(config, before=before, data=mnist)
    with monkeypatch.context() as patched:
        patched.setattr(Attack, "run", lambda *a, **k: pytest.fail("recomputed a cached cascade run"))
        pd.testing.assert_frame_equal(cascade(config, before=before, data=mnist), first)

    # one more image broken before the cascade: its runs are other computations, and run

    def one_more(model, norm, eps):
        clean, broken = before(model, norm, eps)
        extra = np.flatnonzero(clean & ~broken)[:1]
        broken = broken.copy()
        broken[extra] = True
        return clean, broken

    second = cascade(config, before=one_more, data=mnist)
    assert (second["images"] != first["images"]).any()
    assert (second["attacked"] <= first["attacked"]).all()


def _in_parts(config, size: int):
    """``config`` with its profile running each attack on ``size`` images at a time."""
    import dataclasses

    return dataclasses.replace(config, profile=dataclasses.replace(config.profile, attack_part_images=size))


def test_an_attack_stopped_between_its_parts_resumes_from_the_parts_it_finished(models, fresh_cache, monkeypatch):
    from genrob.evaluate import per_image_outcome
    from genrob.results import attack_parts_dir

    # 40 images in parts of 15: images 0-15, 15-30, 30-40; PGD starts at random, so a part draws its own start
    config = _in_parts(naive_bayes_config(models=["logistic_regression"], attacks=["pgd_linf"], linf_eps=[0.2]), 15)
    run, sizes = Attack.run, []

    def stopped_in_the_third_part(self, model, x, *args, **kwargs):
        sizes.append(len(x))
        if len(sizes) == 3:
            raise KeyboardInterrupt  # the run stopped here
        return run(self, model, x, *args, **kwargs)

    monkeypatch.setattr(Attack, "run", stopped_in_the_third_part)
    monkeypatch.setattr(evaluate, "machine", lambda device: "the machine that stopped")
    with pytest.raises(KeyboardInterrupt):
        sweep(config)
    assert len(list(attack_parts_dir("smoke").glob("*/*.npz"))) == 2 and read_results("smoke").empty

    sizes.clear()
    monkeypatch.setattr(evaluate, "machine", lambda device: "the machine that went on")
    resumed = sweep(config)
    assert sizes == [10]  # the third part only: the two it finished before it stopped are read back
    assert not list(attack_parts_dir("smoke").glob("*/*.npz"))  # the row written whole, its parts go
    # the row names both machines its parts were computed on
    assert resumed["machine"].tolist() == ["the machine that stopped + the machine that went on"]
    resumed_arrays = per_image_outcome(config, "logistic_regression", "pgd_linf", 0.2)

    monkeypatch.setenv("GENROB_CACHE", str(fresh_cache.parent / "uninterrupted"))
    monkeypatch.setattr(Attack, "run", run)
    whole = sweep(config)
    whole_arrays = per_image_outcome(config, "logistic_regression", "pgd_linf", 0.2)
    for name in ("clean_correct", "fooled", "perturbation"):
        np.testing.assert_array_equal(resumed_arrays[name], whole_arrays[name])
    same = ["robust_correct", "clean_correct", "attacked", "forward_evals", "gradient_evals"]
    pd.testing.assert_frame_equal(resumed[same], whole[same])
    assert resumed["attacked"].iloc[0] > 15 and whole["gradient_evals"].iloc[0] > 0
    assert whole["machine"].tolist() == ["the machine that went on"]  # every part here: this machine alone


def test_a_cascade_run_in_parts_attacks_its_images_part_by_part(models, mnist, fresh_cache, monkeypatch):
    from genrob.evaluate import cascade, per_image_outcome

    config, before = _cascade_setup(models, mnist)
    config = _in_parts(config, 15)
    run, calls = Attack.run, []

    def recording(self, model, x, *args, only=None, **kwargs):
        calls.append(only.copy())
        return run(self, model, x, *args, only=only, **kwargs)

    monkeypatch.setattr(Attack, "run", recording)
    table = cascade(config, before=before, data=mnist)
    ran = table[table["attacked"] > 0]
    assert [len(only) for only in calls] == [15, 15, 10] * len(ran)
    for k, row in enumerate(ran.itertuples()):
        arrays = per_image_outcome(config, row.model, row.attack, row.eps, images=row.images)
        # the parts together attacked exactly the images the cascade left to this attack, nothing else
        np.testing.assert_array_equal(np.concatenate(calls[3 * k:3 * k + 3]), arrays["attacked"])
        assert not (arrays["fooled"] & ~arrays["attacked"]).any()
