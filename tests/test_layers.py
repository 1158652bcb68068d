"""The layers of README's "Layout" hold: lint-imports keeps every contract in pyproject.toml, and an
import the wrong way fails with a message that names it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LINT_IMPORTS = str(Path(sys.executable).parent / "lint-imports")


def _lint(root: Path) -> subprocess.CompletedProcess:
    """lint-imports on the ``genrob`` package under ``root``, with the contracts of its pyproject.toml."""
    env = {**os.environ, "PYTHONPATH": str(root)}
    return subprocess.run([LINT_IMPORTS, "--no-cache"], cwd=root, env=env, capture_output=True, text=True)


def _copy_with(tmp_path: Path, module: str, line: str) -> Path:
    """A copy of the package with ``line`` appended to ``module`` (a path under genrob/)."""
    shutil.copytree(ROOT / "genrob", tmp_path / "genrob", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    with open(tmp_path / "genrob" / module, "a") as handle:
        handle.write(f"\n{line}\n")
    return tmp_path


def test_every_layer_contract_is_kept():
    result = _lint(ROOT)
    assert result.returncode == 0, result.stdout
    assert "4 kept, 0 broken" in result.stdout


def test_an_import_up_the_layers_fails_and_is_named(tmp_path):
    result = _lint(_copy_with(tmp_path, "evaluate.py", "from genrob import chapter  # noqa"))
    assert result.returncode != 0
    assert "genrob.evaluate is not allowed to import genrob.chapter" in result.stdout
    assert "No import cycle anywhere in genrob BROKEN" in result.stdout


def test_a_model_that_imports_an_attack_breaks_their_independence(tmp_path):
    result = _lint(_copy_with(tmp_path, "models/cnn.py", "from genrob.attacks import make_attack  # noqa"))
    assert result.returncode != 0
    assert "Models and attacks know the contract, never each other BROKEN" in result.stdout


def test_plots_that_read_a_model_break_their_contract(tmp_path):
    result = _lint(_copy_with(tmp_path, "plots.py", "from genrob.models import get_spec  # noqa"))
    assert "Plots read results tables, never models or runs BROKEN" in result.stdout
