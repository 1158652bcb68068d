"""The command line: it writes the rows the chapters read and refuses bad names before any work."""

from __future__ import annotations

import pandas as pd
import pytest

from genrob.evaluate import sweep
from genrob.params import sweep_config
from genrob.results import read_results


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
    assert main(["sweep", "naive_bayes", "--profile", "smoke", "--models", "cnn_vae"]) == 2  # another family's
    assert "is not of the naive_bayes family" in capsys.readouterr().err


def test_the_command_line_adaptive_run_refuses_bad_names_before_any_work(capsys):
    from genrob.__main__ import main

    assert main(["adaptive", "conv_vea", "--profile", "smoke"]) == 2
    assert "known families" in capsys.readouterr().err
    assert main(["adaptive", "conv_vae", "--profile", "smoke", "--models", "cnn_vea"]) == 2
    assert "unknown model ['cnn_vea']" in capsys.readouterr().err


def test_the_command_line_exact_run_refuses_unknown_models_before_any_work(capsys):
    from genrob.__main__ import main

    assert main(["exact", "--profile", "smoke", "--models", "mfr"]) == 2
    assert "unknown models ['mfr']" in capsys.readouterr().err


def test_a_data_path_that_names_a_file_is_refused_before_any_work(monkeypatch, tmp_path, capsys):
    from genrob.__main__ import main
    from genrob.data import MnistDataError, load_mnist

    not_a_folder = tmp_path / "passwd"
    not_a_folder.write_text("root:x:0:0\n")
    monkeypatch.setenv("GENROB_DATA", str(not_a_folder))
    monkeypatch.setenv("GENROB_CACHE", str(tmp_path / "cache"))
    assert main(["sweep", "naive_bayes", "--profile", "smoke"]) == 2
    assert "is not a directory: point GENROB_DATA at the folder" in capsys.readouterr().err
    assert not (tmp_path / "cache").exists()  # nothing trained, nothing written
    with pytest.raises(MnistDataError, match="is not a directory"):  # and a notebook gets the same message
        load_mnist(not_a_folder)
