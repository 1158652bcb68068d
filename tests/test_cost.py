"""genrob.cost: each model measured against the CNN, and each run accounted from the results table."""

from __future__ import annotations

import pandas as pd
import pytest
from synthetic import sweep_rows

from genrob.__main__ import main
from genrob.attacks import PAPER_ATTACKS
from genrob.cost import bench_path, benchmark, benchmark_table, matmul_gflops, pgd_image_count, sweep_batch
from genrob.plots import cost_against_flops


def test_the_pair_runtimes_sum_each_attacks_eps_rows_and_set_them_beside_the_papers_ratio():
    import pandas as pd

    from genrob.cost import pair_runtimes

    rows = [{"model": model, "attack": attack, "eps": eps, "wall_time_s": seconds}
            for model, scale in (("cnn_vae", 30.0), ("cnn", 1.0))
            for attack in ("fgm_l2", "pgd_linf", "cw_l2") for eps, seconds in ((1.0, 2 * scale), (2.0, scale))]
    costs = pd.DataFrame({"mflops_per_image": [1500.0, 15.0]}, index=["cnn_vae", "cnn"])
    table = pair_runtimes(pd.DataFrame(rows), costs, generative="cnn_vae", discriminative="cnn")
    assert list(table.index) == ["fgm_l2", "pgd_linf"]  # the paper's Table 3 attacks that were run
    assert table.loc["fgm_l2", "cnn_vae_s"] == 90.0 and table.loc["fgm_l2", "cnn_s"] == 3.0
    assert (table["ratio"] == 30.0).all() and (table["flop_ratio"] == 100.0).all()
    assert table.loc["fgm_l2", "paper_ratio"] == round(115 / 3, 1)  # Table 3: 115 s against 3 s
    assert table.loc["pgd_linf", "paper_ratio"] == round(3441 / 70, 1)


def test_the_sweep_cost_counts_a_search_once_and_divides_by_n():
    import pandas as pd

    from genrob.cost import sweep_cost

    rows = [{"model": "cnn_vae", "attack": "pgd_linf", "eps": eps, "n": 30, "wall_time_s": 60.0} for eps in (0.1, 0.2)]
    rows += [{"model": "cnn_vae", "attack": "cw_l2", "eps": eps, "n": 30, "wall_time_s": 300.0} for eps in (1.0, 2.0)]
    rows += [{"model": "cnn", "attack": "pgd_linf", "eps": 0.1, "n": 30, "wall_time_s": 3.0}]
    cost = sweep_cost(pd.DataFrame(rows))
    assert list(cost.index) == ["cnn_vae", "cnn"]
    assert cost.loc["cnn_vae", "attack_seconds"] == 420.0  # 2 x 60 per eps, and the one C&W search
    assert cost.loc["cnn_vae", "seconds_per_image"] == 14.0 and cost.loc["cnn", "seconds_per_image"] == 0.1


def test_the_runtimes_per_image_compare_seconds_per_image_and_count_a_search_once():
    from genrob.attacks import ATTACKS
    from genrob.cost import runtimes_per_image

    rows = sweep_rows("cnn", 1000, 0.2) + sweep_rows("cnn_vae", 30, 0.5)
    for row in rows:  # every eps row of a minimisation attack carries its one search's time
        per_row = 6.0 if ATTACKS[row["attack"]].minimisation else 2.0
        row["wall_time_s"] = per_row * (100 if row["model"] == "cnn_vae" else 1)
    table = runtimes_per_image(pd.DataFrame(rows), mflops={"cnn": 15.0, "cnn_vae": 1500.0})
    assert table.loc["cnn", "pgd_linf"] == pytest.approx(5 * 2.0 / 1000)  # five eps, per image
    assert table.loc["cnn", "gaussian_blur_linf"] == pytest.approx(6.0 / 1000)  # one search, not five
    assert table.loc["cnn_vae", "vs cnn"] == pytest.approx(100 * 1000 / 30)
    assert table.loc["cnn_vae", "four vs cnn"] == pytest.approx(100 * 1000 / 30)
    assert table.loc["cnn_vae", "flop ratio"] == 100.0
    assert table.loc["cnn_vae", "paper four vs cnn"] == pytest.approx((115 + 119 + 4293 + 3441) / (3 + 3 + 85 + 70))
    # what the reader sees: six columns under words, models by name; each attack's seconds go to a figure
    from genrob.cost import runtime_overview

    overview = runtime_overview(table)
    assert list(overview.columns) == ["n", "s per image, the ten attacks", "vs the CNN, the ten",
                                      "vs the CNN, the paper's four", "the paper's four vs its CNN", "FLOPs vs the CNN"]
    assert overview.loc["CNN-VAE (Gaussian)", "vs the CNN, the ten"] == pytest.approx(100 * 1000 / 30)


def test_the_study_cost_counts_every_run_and_estimates_the_full_profile_from_each_cell_once():
    from genrob.attacks import ATTACKS
    from genrob.cost import cost_summary, study_cost

    rows = sweep_rows("cnn", 1000, 0.2) + sweep_rows("gmm", 1000, 0.5) + sweep_rows("cnn_vae", 30, 0.5)
    rerun = [dict(r, n=200) for r in sweep_rows("gmm", 200, 0.4) if r["eps"] <= 0.3 or r["norm"] == "l2"]
    for row in rows + rerun:  # 2 s a row; a search's rows carry its one run's time
        row["wall_time_s"] = 6.0 if ATTACKS[row["attack"]].minimisation else 2.0
    table = study_cost("default", results=pd.DataFrame(rows + rerun), full_n=10_000,
                       train_seconds={"cnn": 3600.0, "gmm": 0.0, "cnn_vae": 0.0})
    searches = sum(ATTACKS[a].minimisation for a in PAPER_ATTACKS)
    fixed_cells = len(sweep_rows("cnn", 1, 0.0, attacks=[a for a in PAPER_ATTACKS if not ATTACKS[a].minimisation]))
    per_sweep = 2.0 * fixed_cells + 6.0 * searches
    assert table.loc["cnn", "attack_s"] == pytest.approx(per_sweep)
    assert table.loc["gmm", "attack_s"] > table.loc["cnn", "attack_s"]  # the rerun at n = 200 cost time too
    rerun_fixed = sum(not ATTACKS[r["attack"]].minimisation for r in rerun)
    rerun_searches = len({r["attack"] for r in rerun if ATTACKS[r["attack"]].minimisation})
    assert table.loc["gmm", "attack_s"] == pytest.approx(per_sweep + 2.0 * rerun_fixed + 6.0 * rerun_searches)
    # ... but the estimate takes each cell once, at its largest n
    assert table.loc["gmm", "attack_s_per_image"] == pytest.approx(per_sweep / 1000)
    assert table.loc["cnn", "full_hours"] == pytest.approx(1 + 10_000 * per_sweep / 1000 / 3600)
    # no profile spares a model an attack, so nothing is left out of the estimate
    assert "not_measured" not in table.columns
    assert table.loc["total", "train_s"] == 3600.0
    text = cost_summary(table, profile="default")
    assert "`default` profile" in text and "10 000 test images" in text
    assert "500 test images" in cost_summary(study_cost("default", results=pd.DataFrame(rows), full_n=500,
                                                        train_seconds={"cnn": 0.0, "gmm": 0.0, "cnn_vae": 0.0}),
                                             profile="default")
    assert "leaves out" not in text and "did not run" not in text
    # the default profile's cheaper models and budgets make its estimate a lower bound; the extended one's
    # full budgets leave only the convolutional VAEs' importance samples
    assert "lower bound" in text and "2 importance samples" in text and "cut budgets" in text
    extended = study_cost("extended", results=pd.DataFrame(sweep_rows("cnn", 1000, 0.2, profile="extended"))
                          .assign(wall_time_s=2.0), train_seconds={"cnn": 0.0})
    extended_text = cost_summary(extended, profile="extended")
    assert "lower bound" in extended_text and "2 importance samples" in extended_text
    assert "cut budgets" not in extended_text
    full = study_cost("full", results=pd.DataFrame(sweep_rows("cnn", 1000, 0.2, profile="full"))
                      .assign(wall_time_s=2.0), train_seconds={"cnn": 0.0})
    assert "lower bound" not in cost_summary(full, profile="full")


def test_matmul_rate_is_a_plausible_cpu_rate():
    assert 0.5 < matmul_gflops(size=256, repeats=2) < 1e5


def test_the_benchmark_table_has_every_measure_and_the_cnn_as_reference(mnist):
    table = benchmark(["logistic_regression", "cnn"], profile="smoke", batch=50, pgd_images=10)
    assert list(table.index) == ["logistic_regression", "cnn"]
    assert (table["batch"] == 50).all()
    assert (table["pgd_images"] == 10).all()
    assert (table[["mflops_per_image", "forward_images_per_s", "gradient_images_per_s",
                   "pgd40_s_per_image"]] > 0).all().all()
    assert table.loc["cnn", "flop_ratio_to_cnn"] == pytest.approx(1.0)
    assert table.loc["cnn", "pgd_ratio_to_cnn"] == pytest.approx(1.0)
    # A forward pass is cheaper than a forward pass with the gradient (checked on the CNN: a linear
    # model's pass takes microseconds, below what a busy machine's timer can order); the CNN costs
    # more than a linear model.
    assert table.loc["cnn", "forward_images_per_s"] > table.loc["cnn", "gradient_images_per_s"]
    assert table.loc["cnn", "mflops_per_image"] > 10 * table.loc["logistic_regression", "mflops_per_image"]
    figure = cost_against_flops(table)
    assert figure.axes[0].get_xscale() == "log"
    assert [t.get_text() for t in figure.axes[0].texts] == ["logistic regression", "CNN"]  # by FLOPs, as readers name them


def test_the_book_reads_the_benchmark_table_and_measures_only_when_a_model_is_missing(fresh_cache, mnist):
    first = benchmark_table("smoke", models=["logistic_regression"])
    assert bench_path("smoke").exists()
    assert benchmark_table("smoke", models=["logistic_regression"]).equals(
        pd.read_csv(bench_path("smoke"), index_col="model"))  # read back, not measured again
    both = benchmark_table("smoke", models=["logistic_regression", "cnn"])  # cnn missing: measured
    assert list(both.index) == ["logistic_regression", "cnn"] and both.loc["cnn", "pgd_ratio_to_cnn"] == 1.0
    assert first.loc["logistic_regression", "mflops_per_image"] == pytest.approx(
        both.loc["logistic_regression", "mflops_per_image"], rel=1e-3)


def test_each_model_is_timed_at_its_sweeps_batch_and_pgd_on_what_fits_its_budget():
    assert sweep_batch("gmm", "extended", 500) == 500
    assert sweep_batch("cnn_vae", "extended", 500) == 200  # the convolutional VAEs are swept on 200 images
    assert sweep_batch("cnn", "extended", 500) == 500  # ... their CNN on 1 000 too, in the MRF chapter
    assert sweep_batch("cvae", "default", 500) == 50
    assert sweep_batch("cvae", "extended", 100) == 100
    assert sweep_batch("cnn", "default", 500) == 200
    assert pgd_image_count(0.05) == 10  # 20 s / (40 steps x 0.05 s)
    assert pgd_image_count(1e-5) == 100
    assert pgd_image_count(10.0) == 5


def test_unknown_models_are_refused(capsys):
    assert main(["bench", "--models", "cnnn"]) == 2
    assert "unknown models" in capsys.readouterr().err


def test_the_command_writes_its_table_and_skips_the_attack_times_no_sweep_measured(fresh_cache, capsys):
    from genrob.results import results_path

    assert main(["bench", "--profile", "smoke", "--models", "logistic_regression", "--batch", "20"]) == 0
    written = results_path("smoke").parent
    assert (written / "bench-smoke.csv").exists()
    assert not (written / "bench-smoke-attacks.csv").exists()  # no sweep in this cache yet
    assert "threads:" in capsys.readouterr().out


def test_the_cascade_saving_compares_the_worst_cases_cost_with_every_attack_on_every_image():
    from genrob.cost import cascade_saving

    def row(attack, images, gradients, forwards, seconds, eps=0.3):
        return {"model": "gmm", "attack": attack, "eps": eps, "images": images, "gradient_evals": gradients,
                "forward_evals": forwards, "wall_time_s": seconds}

    with_cascade = pd.DataFrame([row("pgd_linf", "all", 100, 120, 1.0),  # the paper's: the same either way
                                 row("pgd_margin_linf", "all", 50, 60, 0.5),
                                 row("pgd_margin_linf_long", "all", 999, 999, 9.0),  # a check run: not counted
                                 row("pgd_margin_linf", "all", 999, 999, 9.0, eps=1.0),  # off the grid
                                 row("square_linf", "cascade-0123456789", 0, 500, 2.0)])
    every_image = pd.DataFrame([row("square_linf", "all", 0, 4500, 18.0)])
    saving = cascade_saving(with_cascade, every_image).loc["gmm"]
    assert (saving["gradients with the cascade"], saving["gradients without"]) == (150, 150)
    assert (saving["forwards with the cascade"], saving["forwards without"]) == (680, 4680)
    assert saving["forwards saved"] == pytest.approx(1 - 680 / 4680)
    assert (saving["seconds with the cascade"], saving["seconds without"]) == (3.5, 19.5)


def test_the_benchmark_overview_keeps_the_measures_and_says_once_what_every_row_shares():
    from genrob.cost import benchmark_overview

    bench = pd.DataFrame({"kind": ["discriminative", "generative"], "batch": [500, 100],
                          "mflops_per_image": [15.0, 1500.0], "forward_images_per_s": [9000.0, 90.0],
                          "gradient_images_per_s": [3000.0, 30.0], "forward_gflops_per_s": [135.0, 135.0],
                          "matmul_gflops_per_s": [410.0, 410.0], "pgd_images": [200, 20],
                          "pgd40_s_per_image": [0.01, 1.0], "flop_ratio_to_cnn": [1.0, 100.0],
                          "pgd_ratio_to_cnn": [1.0, 100.0], "threads": [2, 2]}, index=["cnn", "cnn_vae"])
    table, sentence = benchmark_overview(bench)
    assert len(table.columns) == 7 and table.loc["CNN-VAE (Gaussian)", "PGD-40 vs the CNN"] == 100.0
    assert sentence == ("Measured on 2 thread(s), in batches of 100 or 500 images (a model's sweeps' batch), on a "
                        "machine whose matrix multiply runs at 410 GFLOP/s in the same run.")


def test_the_exact_cost_gives_seconds_per_test_image_and_counts_the_time_limit_hits():
    from genrob.cost import exact_cost, exact_cost_summary

    rows = pd.DataFrame([
        {"model": "mrf", "norm": "l2", "eps": 1.0, "n": 200, "solver_seconds": 100.0, "time_limit_s": 20.0,
         "time_limit_hits": 3},
        {"model": "mrf", "norm": "linf", "eps": 0.3, "n": 200, "solver_seconds": 10.0, "time_limit_s": 20.0,
         "time_limit_hits": 0},
        {"model": "logistic_regression", "norm": "linf", "eps": 0.1, "n": 100, "solver_seconds": 1.0,
         "time_limit_s": 20.0, "time_limit_hits": 0}])
    table = exact_cost("smoke", exact=rows)
    # the study's order of models, l_inf before l_2
    assert [budget for _, budget in table.index] == ["l∞ eps 0.1", "l∞ eps 0.3", "l2 eps 1"]
    assert table["solver s / image"].tolist() == [0.01, 0.05, 0.5]
    sentence = exact_cost_summary(table)
    assert "3 image(s) met a solver's time limit" in sentence and "1.9 minutes" in sentence  # 111 s
    assert "0.5 s per image (Ising MRF, l2 eps 1)" in sentence
    assert exact_cost_summary(exact_cost("smoke", exact=rows.iloc[:0])) == "No exact solver has run at this profile."
