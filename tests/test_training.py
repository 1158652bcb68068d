"""A training cut off after an epoch goes on from it, to the weights of a training never cut off."""

from __future__ import annotations

import json

import pytest
import torch
from torch import nn

from genrob.data import Split
from genrob.models import get_spec, load_model, registry, training
from genrob.models.adversarial import AdversarialLoss


def _images(count: int, seed: int) -> Split:
    generator = torch.Generator().manual_seed(seed)
    return Split(torch.rand(count, 1, 28, 28, generator=generator, dtype=torch.float64),
                 torch.randint(0, 10, (count,), generator=generator))


def _linear() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Flatten(), nn.Linear(784, 10)).double()


class _CutOff(Exception):
    """Stands for whatever stops a run (a signal, the end of a session)."""


def _improving(cut_off_at: int | None = None, *, first: int = 1):
    """A score that rises with every epoch (so the last epoch is the one kept, whatever it learnt) and
    stops the run the ``cut_off_at``-th time it is asked."""
    calls = [first - 1]

    def score(model: nn.Module, split: Split) -> float:
        calls[0] += 1
        if calls[0] == cut_off_at:
            raise _CutOff
        return float(calls[0])
    return score


def _fit(model: nn.Module, loss, score, epochs: int = 3) -> dict:
    # an adversarial loss: global random starts and a ramp counted in batches, both part of the state
    return training.fit(model, _images(96, 1), _images(32, 2), loss=loss, score=score, score_name="accuracy",
                        epochs=epochs, batch_size=32, seed=0, desc="test")


def test_a_fit_cut_off_goes_on_to_the_weights_of_one_never_cut_off(tmp_path):
    whole = _linear()
    with training.resumable(tmp_path / "whole"):
        expected = _fit(whole, AdversarialLoss(eps=0.3, steps=2, ramp=5), _improving())

    cut = _linear()
    with pytest.raises(_CutOff), training.resumable(tmp_path / "cut"):
        _fit(cut, AdversarialLoss(eps=0.3, steps=2, ramp=5), _improving(3))  # in the third epoch's scoring
    assert json.loads((tmp_path / "cut-1.json").read_text())["epochs_done"] == 2

    torch.manual_seed(123)  # a new process: other global random state, a fresh model and loss
    resumed = _linear()
    with training.resumable(tmp_path / "cut") as resumption:
        report = _fit(resumed, AdversarialLoss(eps=0.3, steps=2, ramp=5), _improving(first=3))
    assert resumption.resumed_at == [2] and resumption.earlier_seconds > 0
    assert report == expected
    for name, value in whole.state_dict().items():
        assert torch.equal(resumed.state_dict()[name], value), name


def test_a_fit_cut_off_twice_reports_both_resumptions(tmp_path):
    whole = _linear()
    with training.resumable(tmp_path / "whole"):
        expected = _fit(whole, AdversarialLoss(eps=0.3, steps=1, ramp=2), _improving(), epochs=4)
    with pytest.raises(_CutOff), training.resumable(tmp_path / "cut"):
        _fit(_linear(), AdversarialLoss(eps=0.3, steps=1, ramp=2), _improving(2), epochs=4)
    with pytest.raises(_CutOff), training.resumable(tmp_path / "cut"):  # a second session, cut off again
        _fit(_linear(), AdversarialLoss(eps=0.3, steps=1, ramp=2), _improving(3, first=2), epochs=4)
    assert json.loads((tmp_path / "cut-1.json").read_text())["resumed_at"] == [1]
    resumed = _linear()
    with training.resumable(tmp_path / "cut") as resumption:
        report = _fit(resumed, AdversarialLoss(eps=0.3, steps=1, ramp=2), _improving(first=3), epochs=4)
    assert resumption.resumed_at == [1, 2]
    assert report == expected
    for name, value in whole.state_dict().items():
        assert torch.equal(resumed.state_dict()[name], value), name


def test_a_model_of_two_fits_cut_off_in_the_second_does_not_repeat_the_first(tmp_path):
    def two_fits(model: nn.Module, second_score) -> tuple[dict, dict]:
        return (_fit(model, AdversarialLoss(eps=0.3, steps=1, ramp=1), _improving(), epochs=2),
                _fit(model, AdversarialLoss(eps=0.1, steps=1, ramp=1), second_score, epochs=2))

    with training.resumable(tmp_path / "whole"):
        expected = two_fits(whole := _linear(), _improving())
    with pytest.raises(_CutOff), training.resumable(tmp_path / "cut"):
        two_fits(_linear(), _improving(2))

    batches = []

    class Counted(AdversarialLoss):
        def __call__(self, model, x, y):
            batches.append(len(x))
            return super().__call__(model, x, y)

    with training.resumable(tmp_path / "cut") as resumption:
        first = _fit(resumed := _linear(), Counted(eps=0.3, steps=1, ramp=1), _improving(), epochs=2)
        assert first == expected[0] and not batches  # the finished first fit is read back, not trained again
        second = _fit(resumed, Counted(eps=0.1, steps=1, ramp=1), _improving(first=2), epochs=2)
    assert second == expected[1] and len(batches) == 3  # one epoch of 96 images in batches of 32
    assert resumption.resumed_at == [1]
    for name, value in whole.state_dict().items():
        assert torch.equal(resumed.state_dict()[name], value), name


def test_load_model_resumes_a_cut_off_training_and_then_discards_its_state(mnist, fresh_cache, monkeypatch):
    score = training.accuracy
    calls = [0]

    def cut_off_in_the_last_epoch(*args, **kwargs):
        calls[0] += 1
        if calls[0] == 3:
            raise _CutOff
        return score(*args, **kwargs)

    monkeypatch.setattr(training, "accuracy", cut_off_in_the_last_epoch)
    with pytest.raises(_CutOff):
        load_model("logistic_regression", "smoke", data=mnist, device="cpu")
    stem = registry.training_state_stem("logistic_regression", "smoke")
    assert sorted(p.name for p in stem.parent.iterdir()) == [f"{stem.name}-1.json", f"{stem.name}-1.npz"]
    monkeypatch.setattr(training, "accuracy", score)
    resumed = load_model("logistic_regression", "smoke", data=mnist, device="cpu")
    assert not list(stem.parent.iterdir())  # the model is saved: its training state is gone
    report = json.loads(registry.checkpoint_path("logistic_regression", "smoke").with_suffix(".json").read_text())
    assert report["resumed_after_epochs"] == [2]
    assert len(report["report"]["val_accuracy_per_epoch"]) == get_spec("logistic_regression").training_config(
        "smoke")["epochs"]

    monkeypatch.setenv("GENROB_CACHE", str(fresh_cache.parent / "never-cut-off"))
    whole = load_model("logistic_regression", "smoke", data=mnist, device="cpu")
    for name, value in whole.state_dict().items():
        assert torch.equal(resumed.state_dict()[name], value), name
