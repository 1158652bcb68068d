"""The benchmark measures what it says, relative to the CNN."""

from __future__ import annotations

import pytest

from genrob.bench import benchmark, main, matmul_gflops


def test_matmul_rate_is_a_plausible_cpu_rate():
    assert 0.5 < matmul_gflops(size=256, repeats=2) < 1e5


def test_the_benchmark_table_has_every_measure_and_the_cnn_as_reference(mnist):
    table = benchmark(["logistic_regression", "cnn"], profile="smoke", batch=50, pgd_images=10)
    assert list(table.index) == ["logistic_regression", "cnn"]
    assert (table[["mflops_per_image", "forward_images_per_s", "gradient_images_per_s",
                   "pgd40_s_per_image"]] > 0).all().all()
    assert table.loc["cnn", "flop_ratio_to_cnn"] == pytest.approx(1.0)
    assert table.loc["cnn", "pgd_ratio_to_cnn"] == pytest.approx(1.0)
    # A forward pass is cheaper than a forward pass with the gradient (checked on the CNN: a linear
    # model's pass takes microseconds, below what a busy machine's timer can order); the CNN costs
    # more than a linear model.
    assert table.loc["cnn", "forward_images_per_s"] > table.loc["cnn", "gradient_images_per_s"]
    assert table.loc["cnn", "mflops_per_image"] > 10 * table.loc["logistic_regression", "mflops_per_image"]


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
