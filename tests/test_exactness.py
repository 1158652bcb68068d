"""genrob.exactness: each image's status under the boundary rule, the stored rows, and the bracket."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from genrob import exactness
from genrob.adaptive import FamilyEvidence
from genrob.exactness import BREAKABLE, MISCLASSIFIED, ROBUST, UNDECIDED
from genrob.models.mrf import IsingClassifier
from genrob.models.naive_bayes import LogisticRegression


def _linear(weight: list[list[float]], bias: list[float], dtype=torch.float32) -> LogisticRegression:
    model = LogisticRegression(n_features=len(weight[0]), n_classes=len(weight)).to(dtype)
    with torch.no_grad():
        model.linear.weight.copy_(torch.tensor(weight, dtype=dtype))
        model.linear.bias.copy_(torch.tensor(bias, dtype=dtype))
    return model


def test_a_tie_between_two_logits_goes_as_the_models_argmax_sends_it():
    """logit_0 - logit_1 = x - 0.5 + ... : at x = 0.25, eps 0.25 moves x onto 0.5, where the two logits tie.
    argmax returns the first of equal logits: true class 1 is then broken (class 0 wins the tie), true class
    0 is not, and the solver's bound (0) certifies nothing: it is left undecided."""
    first = _linear([[1.0], [0.0]], [-0.5, 0.0])  # logit_0 - logit_1 = x - 0.5
    x = torch.tensor([[0.25]], dtype=torch.float32)
    status, _ = exactness.statuses(first, x, torch.tensor([1]), eps=0.25, norm="linf")
    assert status.tolist() == [BREAKABLE]
    second = _linear([[0.0], [1.0]], [0.0, -0.5])  # logit_1 - logit_0 = x - 0.5: class 0 true below 0.5
    status, _ = exactness.statuses(second, x, torch.tensor([0]), eps=0.25, norm="linf")
    assert status.tolist() == [UNDECIDED]
    status, _ = exactness.statuses(second, x, torch.tensor([0]), eps=0.2, norm="linf")
    assert status.tolist() == [ROBUST]


def _one_pixel_ising() -> IsingClassifier:
    """Two classes over a 1 x 2 image whose class is the first pixel as the model sees it (> 0.5 reads 1)."""
    model = IsingClassifier(height=1, width=2, n_classes=2).float()
    with torch.no_grad():
        model.unary.zero_()
        model.horizontal.zero_()
        model.vertical.zero_()
        model.unary[1, 0, 0] = 2.0  # logit_1 - logit_0 = 2 p_0 - 1
        model.log_prior.fill_(0.0)
        model.log_partition.copy_(torch.tensor([-0.5, 0.5]))
    return model


def test_a_pixel_exactly_eps_from_the_threshold_flips_as_the_attacks_clipping_flips_it():
    """In float32, 0.5 reads as 0: a pixel eps above it reaches it (and flips); one eps below it reaches 0.5
    exactly, which still reads 0, so it cannot flip; and a value landing exactly on 0.5 reads 0."""
    model = _one_pixel_ising()
    eps = 0.125  # exact in binary: x +- eps is exact, so "exactly eps" is what it says
    above = torch.tensor([[[[0.5 + eps, 0.0]]]], dtype=torch.float32)
    below = torch.tensor([[[[0.5 - eps, 0.0]]]], dtype=torch.float32)
    assert model(above).argmax(1).item() == 1 and model(below).argmax(1).item() == 0
    assert model(torch.tensor([[[[0.5, 0.0]]]], dtype=torch.float32)).argmax(1).item() == 0  # exactly on the threshold reads 0
    status, hits = exactness.statuses(model, torch.cat([above, below]), torch.tensor([1, 0]), eps=eps, norm="linf")
    assert status.tolist() == [BREAKABLE, ROBUST] and not hits.any()
    # the attacks' own clipping agrees: x - eps lands on 0.5 and reads 0; x + eps lands on 0.5 and reads 0
    assert model((above - eps).clamp(0, 1)).argmax(1).item() == 0
    assert model((below + eps).clamp(0, 1)).argmax(1).item() == 0


def test_a_pixel_that_the_attacks_rounding_carries_across_the_threshold_flips():
    """153/255 is 0.6000000238 in float32, a little more than 0.1 above 0.5, yet 0.6 - 0.1 rounds to 0.5
    in float32, which reads 0: the attacks flip it at eps 0.1 (as one did on the extended MRF's image 653),
    so the solver must too, and 102/255 (0.4000000060) + 0.1 rounds to 0.5 and cannot flip."""
    model = _one_pixel_ising()
    above = torch.tensor([[[[153 / 255, 0.0]]]], dtype=torch.float32)
    below = torch.tensor([[[[102 / 255, 0.0]]]], dtype=torch.float32)
    assert float(above[0, 0, 0, 0]) - 0.5 > 0.1 and model(above - 0.1).argmax(1).item() == 0
    assert model((below + 0.1).clamp(0, 1)).argmax(1).item() == 0
    status, _ = exactness.statuses(model, torch.cat([above, below]), torch.tensor([1, 0]), eps=0.1, norm="linf")
    assert status.tolist() == [BREAKABLE, ROBUST]


def test_misclassified_images_are_marked_and_the_row_counts_each_status():
    model = _linear([[1.0], [0.0]], [-0.5, 0.0])
    x = torch.tensor([[0.9], [0.1], [0.7], [0.2]], dtype=torch.float32)
    status, hits = exactness.statuses(model, x, torch.tensor([0, 0, 0, 1]), eps=0.3, norm="linf")
    assert status.tolist() == [ROBUST, MISCLASSIFIED, BREAKABLE, BREAKABLE]
    row = exactness.row_of({"model": "m"}, status, hits, 1.5, time_limit=20.0, device=torch.device("cpu"))
    assert (row["clean_correct"], row["robust"], row["breakable"], row["undecided"]) == (3, 1, 2, 0)
    assert row["lower_accuracy"] == row["upper_accuracy"] == 0.25 and row["statuses"] == "R-BB"


def test_the_rows_are_written_once_and_a_second_run_computes_nothing(monkeypatch, tmp_path):
    monkeypatch.setenv("GENROB_CACHE", str(tmp_path))
    row = {**{k: 0 for k in exactness.COLUMNS}, "profile": "smoke", "model": "m", "model_config": "abc",
           "norm": "linf", "eps": 0.1, "n": 4, "seed": 0, "statuses": "RB-U"}
    exactness._append("smoke", row)
    exactness._append("smoke", {**row, "statuses": "RRRR"})  # the same key replaces the row
    table = exactness.read_exact("smoke")
    assert len(table) == 1 and table["statuses"].iloc[0] == "RRRR"


def _family(survivors: dict) -> FamilyEvidence:
    return FamilyEvidence(config=None, results=pd.DataFrame(), worst_case=pd.DataFrame(), checks=pd.DataFrame(),
                          survivors={k: pd.Series(v) for k, v in survivors.items()})


def test_the_bracket_counts_the_images_the_attacks_missed_and_those_they_broke_against_a_certificate():
    exact = pd.DataFrame([{"model": "m", "norm": "linf", "eps": 0.1, "statuses": "RRBB-U", "lower_accuracy": 2 / 6,
                           "upper_accuracy": 3 / 6, "undecided": 1, "solver_seconds": 2.0, "time_limit_hits": 1}])
    alive = np.array([True, False, True, False, False, True])  # image 1 certified yet broken; image 2 missed
    table = exactness.bracket([_family({("m", "linf", 0.1): alive})], exact)
    row = table.iloc[0]
    assert (row["missed"], row["contradicted"], row["undecided"]) == (1, 1, 1)
    assert row["missed_images"] == [2]  # by the survivors' index: the test-set index
    assert row["attacked"] == pytest.approx(0.5) and not row["exact"]
    # a worst case on other images (another n) is not bracketed
    assert exactness.bracket([_family({("m", "linf", 0.1): alive[:5]})], exact).empty


def test_every_model_has_a_solver_or_a_stated_reason_at_both_norms_and_the_text_groups_them():
    from genrob.models.registry import _REGISTRY
    from genrob.prose import coverage_text

    table = exactness.coverage(sorted(_REGISTRY), "smoke")
    assert set(table.columns) == {"linf", "l2"} and len(table) == len(_REGISTRY)
    solved = {(m, norm) for m, row in table.iterrows() for norm in ("linf", "l2") if not row[norm].startswith("none")}
    assert solved == {(m, norm) for m in ("logistic_regression", "gaussian_nb", "mrf") for norm in ("linf", "l2")} \
        | {("cvae_prototypes", "linf")}
    # a model solved is one the exact run computes, and no other
    admitted = {(m, norm) for m in _REGISTRY for norm in ("linf", "l2")
                if exactness.admits(exactness.get_spec(m).build_for("smoke"), norm)}
    assert admitted == solved
    text = coverage_text(table)
    assert "- Gaussian mixture: its logits are log-sum-exps" in text
    assert "conditional VAE (prototype rule) (l2): a second-order cone programme" in text


def test_a_model_that_classifies_the_images_otherwise_than_the_store_is_refused_before_solving(models, mnist):
    """Exact rows of another model than the one the attacks met would bracket nothing: the store's clean
    outcome line must match the model's own, image for image."""
    from genrob.data import evaluation_subset

    subset = evaluation_subset(mnist.test, 20, seed=0)
    own = "".join("1" if c else "0" for c in (models["logistic_regression"](subset.x).argmax(1) == subset.y))
    other = own[:-1] + ("0" if own[-1] == "1" else "1")
    with pytest.raises(exactness.NotTheStoresModel, match="classifies 1 of the 20 images otherwise"):
        exactness.run("smoke", models=["logistic_regression"], n=20, linf_eps=[0.1], data=mnist,
                      clean_correct={"logistic_regression": other})
    rows = exactness.run("smoke", models=["logistic_regression"], n=20, linf_eps=[0.1], data=mnist,
                         clean_correct={"logistic_regression": own})
    assert len(rows) == 1 and rows["statuses"].iloc[0].count("-") == own.count("0")
