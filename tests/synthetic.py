"""Results rows made up for tests of the tables built from them (no attack is run)."""

from __future__ import annotations

from genrob.attacks import PAPER_ATTACKS, attack_config_hash, make_attack, norm_of
from genrob.models import get_spec
from genrob.params import SweepConfig, sweep_config
from genrob.profiles import PAPER_L2_EPS, PAPER_LINF_EPS


def sweep_rows(model: str, n: int, accuracy: float, *, attacks=PAPER_ATTACKS, model_config: str | None = None,
               profile: str = "default") -> list[dict]:
    """One row per attack and eps of the paper's grids, each at robust accuracy ``accuracy``."""
    rows = []
    for attack in attacks:
        norm = norm_of(attack)
        for eps in PAPER_LINF_EPS if norm == "linf" else PAPER_L2_EPS:
            rows.append({"profile": profile, "model": model,
                         "model_config": model_config or get_spec(model).config_hash(profile),
                         "attack": attack, "attack_config": attack_config_hash(make_attack(attack, profile)),
                         "norm": norm, "eps": eps, "n": n, "seed": 0, "robust_accuracy": accuracy})
    return rows


def naive_bayes_config(**overrides) -> SweepConfig:
    """A small smoke sweep of the naive Bayes family: three attacks on 40 images."""
    params = dict(profile="smoke", models=["gaussian_nb", "logistic_regression"],
                  attacks=["fgsm_linf", "pgd_l2", "binary_search_contrast_reduction_linf"], n=40)
    return sweep_config(**{**params, **overrides})
