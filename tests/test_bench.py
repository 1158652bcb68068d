"""The benchmark measures what it says, relative to the CNN."""

from __future__ import annotations

import pytest

import pandas as pd

from genrob.bench import (bench_path, benchmark, benchmark_table, main, matmul_gflops, pgd_image_count,
                          sweep_batch)
from genrob.plots import cost_against_flops


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
    assert [t.get_text() for t in figure.axes[0].texts] == ["logistic_regression", "cnn"]


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
    assert sweep_batch("cnn_vae", "extended", 500) == 30  # the convolutional VAEs are swept on 30 images
    assert sweep_batch("cnn", "extended", 500) == 500  # ... their CNN on 1 000 too, in the MRF chapter
    assert sweep_batch("cvae", "extended", 500) == 300
    assert sweep_batch("cvae", "extended", 100) == 100
    assert sweep_batch("cnn", "default", 500) == 200
    assert pgd_image_count(0.05) == 10  # 20 s / (40 steps x 0.05 s)
    assert pgd_image_count(1e-5) == 100
    assert pgd_image_count(10.0) == 5


def test_unknown_models_are_refused(capsys):
    assert main(["--models", "cnnn"]) == 2
    assert "unknown models" in capsys.readouterr().err


def test_the_command_writes_its_table_and_skips_the_attack_times_no_sweep_measured(fresh_cache, capsys):
    from genrob.results import results_path

    assert main(["--profile", "smoke", "--models", "logistic_regression", "--batch", "20"]) == 0
    written = results_path("smoke").parent
    assert (written / "bench-smoke.csv").exists()
    assert not (written / "bench-smoke-attacks.csv").exists()  # no sweep in this cache yet
    assert "threads:" in capsys.readouterr().out


def test_subnormal_floats_are_flushed_on_every_thread_once_genrob_is_imported():
    """Subnormal softmax weights made the binary VAEs' input gradients ten times slower."""
    import subprocess
    import sys

    def total(first: str) -> float:
        script = f"{first}; torch.set_num_threads(2); print((torch.full((4_000_000,), 1e-39) * 1.0).sum().item())"
        return float(subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                                    check=True).stdout)

    if total("import torch") == 0.0:
        pytest.skip("this CPU flushes subnormal floats anyway")
    assert total("import genrob, torch") == 0.0  # every chunk, on whichever thread, saw zeros
