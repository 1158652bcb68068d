"""Run profiles: what the docs say of them is what they are."""

from __future__ import annotations

from pathlib import Path

import torch

from genrob.profiles import PROFILES, get_profile

ROOT = Path(__file__).resolve().parents[1]


def test_the_methods_page_states_the_profiles_as_configured():
    methods = (ROOT / "book" / "methods.md").read_text()
    readme = (ROOT / "README.md").read_text()
    for profile in PROFILES.values():
        row = next(line for line in methods.splitlines() if line.startswith(f"| `{profile.name}`"))
        assert f"{profile.n_eval:,}".replace(",", " ") in row
        assert f"{profile.n_eval:,}".replace(",", " ") in next(
            line for line in readme.splitlines() if line.startswith(f"| `{profile.name}`"))


def test_the_smoke_profile_computes_in_float64_and_the_evidence_profiles_in_float32():
    """float64 keeps the smoke notebooks' printed digits the same on every CPU (docs/measurements/two-commands)."""
    assert {name: profile.torch_dtype for name, profile in PROFILES.items()} == {
        "smoke": torch.float64, "default": torch.float32, "extended": torch.float32, "full": torch.float32}
    assert get_profile("smoke").small_models and not get_profile("default").small_models
