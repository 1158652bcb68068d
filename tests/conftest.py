"""Shared fixtures: real MNIST (from GENROB_DATA), a throw-away cache, small trained models."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from genrob.data import MNIST, evaluation_subset, load_mnist
from genrob.environment import use_precision
from genrob.models import load_model
from genrob.profiles import get_profile


@pytest.fixture(scope="session", autouse=True)
def isolated_cache(tmp_path_factory) -> Path:
    """Every test session trains and writes results into its own empty cache."""
    path = tmp_path_factory.mktemp("genrob-cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("GENROB_CACHE", str(path))
        patch.setenv("GENROB_PROGRESS", "off")
        yield path


@pytest.fixture
def fresh_cache(tmp_path, monkeypatch) -> Path:
    """An empty cache of this test's own."""
    monkeypatch.setenv("GENROB_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


@pytest.fixture(scope="session", autouse=True)
def smoke_precision() -> None:
    """The tests run the smoke profile: everything in its precision, as its notebooks do."""
    use_precision(get_profile("smoke").torch_dtype)


@pytest.fixture(scope="session")
def mnist(smoke_precision) -> MNIST:
    return load_mnist(download=False)


@pytest.fixture(scope="session")
def models(mnist, isolated_cache) -> dict[str, torch.nn.Module]:
    """The naive Bayes family, trained under the smoke profile."""
    return {name: load_model(name, "smoke", data=mnist, device="cpu")
            for name in ("gaussian_nb", "logistic_regression")}


@pytest.fixture(scope="session")
def few_images(mnist):
    return evaluation_subset(mnist.test, 40, seed=0)


def pytest_report_header(config):
    return f"GENROB_DATA={os.environ.get('GENROB_DATA', '(default)')}"
