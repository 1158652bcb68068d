"""What a family's adaptive evaluation gets through in a given time (``python -m genrob throughput``)."""

from __future__ import annotations

import pandas as pd
import pytest

from genrob import cost
from genrob.__main__ import main
from genrob.params import ParameterError


def test_the_next_n_is_the_largest_that_fits_if_the_cost_were_proportional_to_n():
    assert cost.proportional_n(30, 100.0, 300.0, most=10_000) == 90
    assert cost.proportional_n(30, 100.0, 300.0, most=50) == 50
    assert cost.proportional_n(30, 100.0, -5.0, most=50) == 0  # no time left


def test_the_fitted_n_is_the_largest_on_the_line_through_the_two_largest_runs():
    # 20 s fixed, 2 s per image: 300 s hold (300 - 20) / 2 = 140 images.
    assert cost.fitted_n([(5, 999.0), (10, 40.0), (30, 80.0)], 300.0, most=10_000) == 140
    assert cost.fitted_n([(10, 40.0), (30, 80.0)], 300.0, most=100) == 100
    assert cost.fitted_n([(10, 40.0), (30, 80.0)], 10.0, most=100) == 0  # below the fixed cost


def test_a_larger_run_that_was_no_slower_fits_as_many_as_allowed_and_one_n_cannot_calibrate():
    assert cost.fitted_n([(10, 50.0), (30, 49.0)], 60.0, most=500) == 500
    with pytest.raises(ParameterError):
        cost.fitted_n([(10, 50.0), (10, 49.0)], 60.0, most=500)


def _rows(machine: str, seconds: float, *, attacks=("fgsm_linf", "pgd_linf"), n: int = 30) -> pd.DataFrame:
    return pd.DataFrame([{"profile": "default", "model": "cnn_vae", "model_config": "m1", "attack": a,
                          "attack_config": "a1",
                          "norm": "linf", "eps": eps, "n": n, "seed": 0, "wall_time_s": seconds,
                          "machine": machine, "threads": 2 if machine == "AMD EPYC" else 16}
                         for a in attacks for eps in (0.1, 0.3)])


def test_two_machines_are_compared_on_the_cells_both_computed_only():
    cpu = pd.concat([_rows("AMD EPYC", 10.0), _rows("AMD EPYC", 99.0, attacks=("square_linf",))])
    gpu = _rows("NVIDIA H200", 0.5)
    table = cost.machine_comparison(cpu, gpu)
    assert table.loc["cnn_vae", "first_seconds"] == 40.0  # square_linf ran on the CPU only: left out
    assert table.loc["cnn_vae", "second_seconds"] == 2.0
    assert table.loc["cnn_vae", "speed_up"] == 20.0
    assert table.loc["cnn_vae", "first_machine"] == "AMD EPYC (2 threads)"
    assert table.loc["cnn_vae", "second_machine"] == "NVIDIA H200 (16 threads)"
    with pytest.raises(ParameterError):
        cost.machine_comparison(cpu, _rows("NVIDIA H200", 0.5, n=200))


def test_the_throughput_grows_n_while_it_fits_and_saves_after_each_run(fresh_cache, mnist):
    saved = []
    table, results = cost.adaptive_throughput("naive_bayes", profile="smoke", models=["logistic_regression"],
                                              seconds=1e6, first=2, most=6, data=mnist,
                                              on_run=lambda t, r: saved.append(list(t["run_n"])))
    # 2 images, then as many as allowed (6); 6 again would not grow, so it stops.
    assert list(table["run_n"]) == [2, 6] and set(table["model"]) == {"logistic_regression"}
    assert saved == [[2], [2, 6]]
    assert (table["n"] == table["run_n"]).all()
    assert (table["seconds_per_image"] == table["attack_seconds"] / table["n"]).all()
    assert set(results["run_n"]) == {2, 6}
    assert set(results.loc[results["run_n"] == 6, "n"]) == {6}


def test_a_run_stops_growing_when_no_time_is_left(fresh_cache, mnist):
    table, _ = cost.adaptive_throughput("naive_bayes", profile="smoke", models=["logistic_regression"],
                                        seconds=1e6, first=2, until=0.0, data=mnist)
    assert list(table["run_n"]) == [2]


def test_bad_throughput_parameters_are_refused(capsys):
    with pytest.raises(ParameterError):
        cost.adaptive_throughput("naive_bayes", profile="smoke", first=0)
    assert main(["throughput", "no_such_family", "--profile", "smoke"]) == 2
    assert "error" in capsys.readouterr().err
