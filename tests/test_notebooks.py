"""Chapters run through papermill with a researcher's own parameters, or refuse them early."""

from __future__ import annotations

import copy
import os
import subprocess
import sys
from pathlib import Path
from xml.etree import ElementTree

import nbformat
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
    ({"epsilon": 0.3}, "unknown parameter 'epsilon'"),  # papermill itself only warns, then runs the defaults
])
def test_bad_parameters_stop_the_notebook_before_any_work(parameters, message, fresh_cache, tmp_path):
    with pytest.raises(papermill.PapermillExecutionError) as err:
        _execute(tmp_path, **parameters)
    assert err.value.ename == "ParameterError" and message in err.value.evalue
    assert not (fresh_cache / "checkpoints").exists() and not (fresh_cache / "results").exists()


def _nbval(notebooks: list[Path], *, cache: Path, env: dict[str, str] | None = None) -> dict[tuple[str, str], str]:
    """``pytest --nbval`` on ``notebooks`` in a subprocess, from the empty ``cache``: per (notebook, cell
    source), "passed", or the first line of the failure (an exception or differing outputs)."""
    report = cache.parent / f"{cache.name}-report.xml"
    subprocess.run([sys.executable, "-m", "pytest", "--nbval", "--nbval-current-env", "-p", "no:cacheprovider",
                    "-q", f"--junitxml={report}", *map(str, notebooks)],
                   env={**os.environ, "GENROB_CACHE": str(cache), "GENROB_PROGRESS": "off", **(env or {})},
                   cwd=notebooks[0].parent, capture_output=True, check=False)
    code_cells = {path.stem: [cell.source for cell in nbformat.read(path, as_version=4).cells
                              if cell.cell_type == "code"] for path in notebooks}
    outcomes = {}
    for case in ElementTree.parse(report).iter("testcase"):  # nbval's "Cell k" is the k-th code cell
        notebook = case.get("classname").removesuffix(".ipynb")
        source = code_cells[notebook][int(case.get("name").split()[-1])]
        failure = case.find("failure") if case.find("failure") is not None else case.find("error")
        outcomes[(notebook, source)] = "passed" if failure is None else failure.get("message") or "failed"
    return outcomes


def test_nbval_catches_a_smoke_model_trained_one_epoch_less(tmp_path):
    """The stored outputs are compared exactly: logistic regression trained for one epoch fewer than
    its smoke setting (a real regression) fails nbval on the cells that print its numbers, while the
    unchanged notebook, run beside it, passes every cell."""
    original = nbformat.read(ROOT / "notebooks" / "naive_bayes.ipynb", as_version=4)
    nbformat.write(original, tmp_path / "unchanged.ipynb")
    regressed = copy.deepcopy(original)
    parameters = next(i for i, cell in enumerate(regressed.cells) if "parameters" in cell.metadata.get("tags", []))
    regressed.cells.insert(parameters + 1, nbformat.v4.new_code_cell(
        "import dataclasses\n"
        "from genrob.models import registry\n"
        "spec = registry.get_spec('logistic_regression')\n"
        "registry._REGISTRY[spec.name] = dataclasses.replace(\n"
        "    spec, training=lambda p: {**spec.training(p), 'epochs': spec.training(p)['epochs'] - 1})"))
    nbformat.write(regressed, tmp_path / "regressed.ipynb")

    outcomes = _nbval([tmp_path / "unchanged.ipynb", tmp_path / "regressed.ipynb"], cache=tmp_path / "cache")

    unchanged = {source: result for (notebook, source), result in outcomes.items() if notebook == "unchanged"}
    after = {source: result for (notebook, source), result in outcomes.items() if notebook == "regressed"}
    assert len(unchanged) > 10 and set(unchanged.values()) == {"passed"}
    failed = {source for source, result in after.items() if result != "passed"}
    assert not any("exception" in after[source] for source in failed)  # differing outputs, not a crash
    clean_table = next(source for source in after if "chapter.clean_table" in source)
    gradient_health = next(source for source in after if "gradient_health" in source)
    assert {clean_table, gradient_health} <= failed
    assert all(after[source] == "passed" for source in after if "plots.graphical_models" in source)
