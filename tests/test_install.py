"""The install files agree with each other and pin what must be pinned."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def _pyproject():
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def _pyproject_requirements() -> set[str]:
    project = _pyproject()["project"]
    return set(project["dependencies"]) | {r for group in project["optional-dependencies"].values() for r in group}


def _environment_requirements() -> set[str]:
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip = [d for d in env["dependencies"] if isinstance(d, dict)][0]["pip"]
    return set(pip)


def test_environment_yml_lists_the_same_pins_as_pyproject():
    assert _environment_requirements() == _pyproject_requirements()


def test_every_requirement_is_pinned_exactly():
    nodeps = [l for l in (ROOT / "requirements-nodeps.txt").read_text().splitlines() if l and not l.startswith("#")]
    for requirement in _pyproject_requirements() | set(nodeps):
        assert re.fullmatch(r"[A-Za-z0-9_.\-\[\]]+==[0-9][A-Za-z0-9.+]*", requirement), requirement


def test_torch_is_the_cpu_release_on_disk_and_jupyter_book_is_1x():
    requirements = _pyproject_requirements()
    assert "torch==2.13.0" in requirements
    book = [r for r in requirements if r.startswith("jupyter-book==")]
    assert book and book[0].split("==")[1].startswith("1.")


def test_torchattacks_is_installed_without_its_dependencies():
    assert "torchattacks==3.5.1" in (ROOT / "requirements-nodeps.txt").read_text()
    assert not any(r.startswith("torchattacks") for r in _pyproject_requirements())
    assert "--no-deps -r requirements-nodeps.txt" in (ROOT / "Makefile").read_text()


def test_ci_runs_the_readme_test_command():
    assert "make test" in (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    assert re.search(r"^\s*(exec\s+)?make test\b", ci, re.M)
