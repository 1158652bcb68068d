"""genrob.results: intervals and fingerprints of the results store."""

from __future__ import annotations

import pytest
import torch

from genrob.results import wilson_interval


def test_wilson_interval_matches_known_values():
    assert wilson_interval(0, 10) == pytest.approx((0.0, 0.2775), abs=1e-4)
    assert wilson_interval(5, 10) == pytest.approx((0.2366, 0.7634), abs=1e-4)
    low, high = wilson_interval(950, 1000)
    assert low < 0.95 < high and high - low < 0.03


def test_a_fingerprint_changes_with_any_weight_and_input():
    import copy

    from genrob.results import fingerprint

    model = torch.nn.Linear(4, 2)
    x = torch.zeros(3, 4)
    assert fingerprint(model, x, "pgd", {"steps": 40}) == fingerprint(copy.deepcopy(model), x.clone(), "pgd",
                                                                      {"steps": 40})
    changed = copy.deepcopy(model)
    with torch.no_grad():
        changed.weight[0, 0] += 1e-6
    assert fingerprint(changed, x) != fingerprint(model, x)
    assert fingerprint(model, x + 1) != fingerprint(model, x)
    assert fingerprint(model, x, {"steps": 41}) != fingerprint(model, x, {"steps": 40})
