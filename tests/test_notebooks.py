"""Chapters run through papermill with a researcher's own parameters, or refuse them early."""

from __future__ import annotations

from pathlib import Path

import papermill
import pytest

from genrob.results import read_results

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def test_every_notebook_has_a_parameters_cell_and_its_py_pair():
    """Every chapter takes a profile; a family's chapter takes an eps grid too (the adaptive one fixes its own)."""
    from genrob.models.registry import families

    assert NOTEBOOKS
    for notebook in NOTEBOOKS:
        assert notebook.with_suffix(".py").exists()
        text = notebook.read_text()
        assert '"parameters"' in text and "profile =" in text
        if notebook.stem in families():
            assert "linf_eps =" in text and "l2_eps =" in text, notebook.name
    stems = {notebook.stem for notebook in NOTEBOOKS}
    assert set(families()) - {"reference"} <= stems  # the reference model is shown in the adaptive chapter


def _execute(tmp_path, **parameters):
    return papermill.execute_notebook(
        str(ROOT / "notebooks" / "naive_bayes.ipynb"), str(tmp_path / "out.ipynb"),
        parameters={"profile": "smoke", **parameters}, kernel_name="python3", progress_bar=False,
        cwd=str(ROOT / "notebooks"),
    )


def test_a_custom_eps_grid_runs_through_papermill(fresh_cache, tmp_path):
    _execute(tmp_path, linf_eps=[0.05, 0.15], l2_eps=[0.5], n=30)
    table = read_results("smoke")
    linf = table[table["norm"] == "linf"]
    assert sorted(linf["eps"].unique()) == [0.05, 0.15]
    assert sorted(table.loc[table["norm"] == "l2", "eps"].unique()) == [0.5]
    assert (table["n"] == 30).all() and set(table["model"]) == {"gaussian_nb", "logistic_regression"}
    assert len(table) == 2 * (6 * 2 + 4 * 1)


@pytest.mark.parametrize(("parameters", "message"), [
    ({"linf_eps": [-0.1]}, "must be positive"),
    ({"linf_eps": [1, 2, 3]}, "l2 grid"),
    ({"attacks": ["pgd_linf", "deepfool"]}, "unknown attack"),
])
def test_bad_parameters_stop_the_notebook_before_any_work(parameters, message, fresh_cache, tmp_path):
    with pytest.raises(papermill.PapermillExecutionError) as err:
        _execute(tmp_path, **parameters)
    assert err.value.ename == "ParameterError" and message in err.value.evalue
    assert not (fresh_cache / "checkpoints").exists() and not (fresh_cache / "results").exists()
