"""genrob.verify: a store's cells recomputed from an empty cache agree with it, and a tampered store fails."""

from __future__ import annotations

import json
import shutil
import subprocess

import numpy as np
import pandas as pd
import pytest
import torch

from genrob import adaptive, environment, evidence, verify
from genrob.__main__ import main
from genrob.environment import cpu_model
from genrob.models import checkpoint_path, model_names, registry
from genrob.params import ParameterError


@pytest.fixture(scope="module")
def smoke_store(tmp_path_factory, mnist):
    """The naive Bayes family's adaptive evidence at smoke scale, written as a store of its own."""
    root = tmp_path_factory.mktemp("evidence")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("GENROB_CACHE", str(root / "cache-that-wrote-it"))
        patch.setattr(evidence, "EVIDENCE_DIR", root)
        found = adaptive.evaluate_family("naive_bayes", profile="smoke", n=30, data=mnist)
        evidence.write([found], profile="smoke", date="2026-11-26")
    return root


@pytest.fixture
def store(smoke_store, monkeypatch):
    monkeypatch.setattr(evidence, "EVIDENCE_DIR", smoke_store)
    return smoke_store / "smoke"


@pytest.fixture
def store_copy(smoke_store, tmp_path, monkeypatch):
    """A copy of the smoke store of this test's own, to change."""
    shutil.copytree(smoke_store / "smoke", tmp_path / "evidence" / "smoke")
    monkeypatch.setattr(evidence, "EVIDENCE_DIR", tmp_path / "evidence")
    return tmp_path / "evidence" / "smoke"


@pytest.fixture
def store_with_weights(store_copy, smoke_store):
    """A copy of the smoke store that also keeps the weights its cells were computed on."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("GENROB_CACHE", str(smoke_store / "cache-that-wrote-it"))
        assert evidence.keep_weights("smoke")
    return store_copy


def test_cells_recomputed_in_an_empty_cache_agree_image_by_image(store, fresh_cache, mnist):
    report = verify.verify("smoke", cells=4, seed=1, data=mnist)
    assert len(report) == 4 and report["agrees"].all(), verify.disagreements(report)
    # a complete row recomputed on all its images, by this code on this machine: compared exactly
    whole = report["ran_on"].eq("all") & report["images"].eq(30)
    assert whole.any() and (report.loc[whole, "compared"] == verify.EXACT).all()
    assert fresh_cache.joinpath("checkpoints").is_dir()  # the models were trained again, not read
    # a store without weights: its models are trained again, so no cascade row is drawn
    assert (report["ran_on"] == "all").all() and (report["weights"] == "trained again").all()


def test_a_part_of_the_images_is_compared_by_mcnemars_test(store, fresh_cache, mnist):
    report = verify.verify("smoke", cells=3, images=10, seed=2, data=mnist)
    assert (report["images"] <= 10).all() and (report["compared"] == verify.PAIRED).all()
    assert report["agrees"].all(), verify.disagreements(report)


def test_a_row_from_a_cpu_of_the_same_name_but_another_kind_is_compared_paired(store_copy, fresh_cache, mnist):
    """Two CPUs sold as "AMD EPYC" trained one model to different weights (stop 41): a row that names the
    CPU's model alone, as rows did before the machine's kind was recorded, is not claimed to repeat exactly."""
    results = pd.read_csv(store_copy / "results.csv", dtype=str, keep_default_na=False)
    results["machine"] = cpu_model()
    results.to_csv(store_copy / "results.csv", index=False)
    report = verify.verify("smoke", cells=4, seed=1, data=mnist)
    assert (report["compared"] == verify.PAIRED).all()
    assert report["agrees"].all(), verify.disagreements(report)


def test_a_tampered_store_fails_and_names_the_cells(store_copy, fresh_cache, monkeypatch, capsys):
    outcomes = pd.read_csv(store_copy / "outcomes.csv", dtype=str)
    # every image the model got right now reads as fooled: the stored robust share is zero everywhere
    outcomes["fooled"] = outcomes["clean_correct"]
    outcomes.to_csv(store_copy / "outcomes.csv", index=False)
    assert main(["verify", "--profile", "smoke", "--cells", "6", "--seed", "1", "--cache", str(fresh_cache)]) == 1
    printed = capsys.readouterr().out
    assert "cells disagree with the store" in printed
    assert printed.count(" images differ") >= 1


def test_bad_parameters_are_clear_errors(store):
    with pytest.raises(ParameterError, match="cells"):
        verify.chosen_cells("smoke", cells=0, images=None)
    with pytest.raises(ParameterError, match="images"):
        verify.chosen_cells("smoke", cells=1, images=0)
    with pytest.raises(ParameterError, match="from_cell"):
        next(verify.verified_cells("smoke", cells=3, from_cell=4))


def test_each_cell_is_reported_as_soon_as_it_is_compared(store, fresh_cache, monkeypatch, capsys):
    compared = []
    recompute = verify._recomputed

    def stop_at_the_third(cell, *args, **kwargs):  # a verification stopped in its third cell
        if len(compared) == 2:
            raise KeyboardInterrupt
        compared.append(cell)
        return recompute(cell, *args, **kwargs)

    monkeypatch.setattr(verify, "_recomputed", stop_at_the_third)
    with pytest.raises(KeyboardInterrupt):
        main(["verify", "--profile", "smoke", "--cells", "4", "--seed", "1", "--cache", str(fresh_cache)])
    printed = capsys.readouterr().out.splitlines()
    # the two cells compared before the stop are on record, each in a line of its own with its verdict
    assert len(compared) == 2
    for cell in compared:
        line = next(line for line in printed if line.startswith(f"{cell.model} x {cell.attack} at eps {cell.eps:g} "))
        assert "recomputed" in line and line.endswith(": agrees")
    # going on from the third cell recomputes the last two cells of the same draw, and only those
    monkeypatch.setattr(verify, "_recomputed", recompute)
    drawn = verify.chosen_cells("smoke", cells=4, images=None, seed=1, cascade_models=[])  # no weights kept
    main(["verify", "--profile", "smoke", "--cells", "4", "--seed", "1", "--from-cell", "3",
          "--cache", str(fresh_cache)])
    cell_lines = [line for line in capsys.readouterr().out.splitlines() if " images: stored " in line]
    assert [line.split(" on ")[0] for line in cell_lines] == [
        f"{cell.model} x {cell.attack} at eps {cell.eps:g}" for cell in drawn[2:]]


def test_cells_are_recomputed_on_the_stores_weights(store_with_weights, fresh_cache, mnist, monkeypatch):
    def no_training(*args, **kwargs):
        raise AssertionError("a model was trained, not taken from the store")

    monkeypatch.setattr(registry, "training_subset", no_training)  # what every training starts with
    # a draw with a cascade row in it (which draw has one depends on the rows the store holds)
    kept = set(evidence.training_seconds("smoke"))
    on_weights = [m for m in model_names() if checkpoint_path(m, "smoke").stem in kept]
    seed = next(s for s in range(100) if any(c.row["images"] != "all" for c in verify.chosen_cells(
        "smoke", cells=6, images=None, seed=s, cascade_models=on_weights)))
    report = verify.verify("smoke", cells=6, seed=seed, data=mnist)
    assert report["agrees"].all(), verify.disagreements(report)
    assert (report["weights"] == "the store's").all()
    # cascade rows are drawn too: on the same model, the images the earlier attacks left compare like with like
    assert (report["ran_on"] != "all").any()


def test_models_trained_again_meet_whole_rows_only(store, fresh_cache, mnist):
    report = verify.verify("smoke", cells=4, seed=3, retrain=True, data=mnist)
    assert (report["ran_on"] == "all").all() and (report["weights"] == "trained again").all()
    assert report["agrees"].all(), verify.disagreements(report)


def test_agreement_is_paired_and_the_same_either_way():
    none, two = np.zeros(100, bool), np.r_[np.ones(2, bool), np.zeros(98, bool)]
    # 0 of 100 against 2 of 100: noise either way round (a Wilson interval of 2/100 would exclude 0)
    for recomputed, stored in ((two, none), (none, two)):
        assert verify.recomputed_against_stored(recomputed, stored).p_value >= 0.05
    # 9 images lost on recomputing and none gained: a systematic difference, though 0.91 is near 1.00
    every, most = np.ones(100, bool), np.r_[np.zeros(9, bool), np.ones(91, bool)]
    pair = verify.recomputed_against_stored(most, every)
    assert (pair.model_only, pair.than_only) == (0, 9) and pair.p_value < 0.05


def _git(folder, *args: str) -> str:
    identity = ["-c", "user.name=genrob tests", "-c", "user.email=tests@genrob.invalid"]
    return subprocess.run(["git", "-C", str(folder), *identity, *args], capture_output=True, text=True,
                          check=True).stdout.strip()


@pytest.fixture
def committed_store_with_weights(store_with_weights):
    """The store with weights, committed to a git repository of its own, as the evidence run leaves it."""
    _git(store_with_weights.parent, "init", "-q")
    _git(store_with_weights.parent, "add", "-A")
    _git(store_with_weights.parent, "commit", "-q", "-m", "store")
    return store_with_weights


def test_archived_weights_leave_the_tree_and_come_back_from_gits_history(committed_store_with_weights, fresh_cache,
                                                                         mnist, monkeypatch):
    store = committed_store_with_weights
    weights = store / evidence.WEIGHTS
    kept = {p.stem: dict(np.load(p)) for p in weights.glob("*.npz")}  # read now: the files are about to go
    head = _git(store, "rev-parse", "HEAD")
    assert sorted(evidence.archive_weights("smoke")) == sorted(kept)
    assert not list(weights.glob("*.npz"))  # out of the working tree ...
    for stem in kept:
        assert json.loads((weights / f"{stem}.json").read_text())[evidence.ARCHIVED_AT] == head
    # ... and back, from the commit that holds them, into an empty cache, equal to the last bit
    restored = evidence.restore_weights("smoke")
    assert sorted(checkpoint_path(m, "smoke").stem for m in restored) == sorted(kept)
    for name in restored:
        state = torch.load(checkpoint_path(name, "smoke"), weights_only=True)
        stored = kept[checkpoint_path(name, "smoke").stem]
        assert sorted(state) == sorted(stored)
        assert all(np.array_equal(state[key].numpy(), stored[key]) for key in stored)
        assert evidence.ARCHIVED_AT not in json.loads(checkpoint_path(name, "smoke").with_suffix(".json").read_text())
    # the store still counts them as kept, and a publication does not bring the npz back
    assert set(evidence.training_seconds("smoke")) == set(kept)
    assert evidence.keep_weights("smoke") == [] and not list(weights.glob("*.npz"))

    # verify recomputes cells on them without training anything, in an empty cache of its own
    def no_training(*args, **kwargs):
        raise AssertionError("a model was trained, not taken from the store")

    monkeypatch.setattr(registry, "training_subset", no_training)
    monkeypatch.setenv("GENROB_CACHE", str(fresh_cache.parent / "another-cache"))
    report = verify.verify("smoke", cells=3, seed=1, data=mnist)
    assert report["agrees"].all() and (report["weights"] == "the store's").all(), verify.disagreements(report)


def test_weights_are_archived_only_as_committed_and_a_history_without_them_is_a_clear_error(
        committed_store_with_weights, fresh_cache):
    weights = committed_store_with_weights / evidence.WEIGHTS
    edited = next(iter(sorted(weights.glob("*.npz"))))
    edited.write_bytes(edited.read_bytes() + b"\0")  # not what the commit holds: git could not give it back
    before = sorted(p.name for p in weights.iterdir())
    with pytest.raises(environment.NotCommittedError, match="must be committed"):
        evidence.archive_weights("smoke")
    assert sorted(p.name for p in weights.iterdir()) == before  # nothing taken out
    _git(weights, "checkout", "--", edited.name)
    evidence.archive_weights("smoke")
    document = edited.with_suffix(".json")
    document.write_text(json.dumps({**json.loads(document.read_text()), evidence.ARCHIVED_AT: "0" * 40}))
    with pytest.raises(environment.NotCommittedError, match="unshallow"):
        evidence.restore_weights("smoke")


def test_weights_that_are_not_the_kept_ones_are_refused(store_with_weights, fresh_cache):
    document = next(iter(sorted((store_with_weights / evidence.WEIGHTS).glob("*.json"))))
    document.write_text(json.dumps({**json.loads(document.read_text()), "fingerprint": "0" * 16}))
    with pytest.raises(ValueError, match="not the ones the store kept"):
        evidence.restore_weights("smoke")


def test_the_default_images_catch_a_cell_that_overstates_robustness_by_five_points_four_times_in_five():
    """At 50 images a cell stored 5 points too robust failed McNemar's test 4 times in 100."""
    assert verify.power_to_catch(verify.DEFAULT_IMAGES) >= 0.8 > verify.power_to_catch(verify.DEFAULT_IMAGES - 1)
    assert verify.power_to_catch(50) < 0.05
    import sys

    shown = subprocess.run([sys.executable, "-m", "genrob", "verify", "--help"], capture_output=True, text=True,
                           check=True).stdout
    assert f"default: {verify.DEFAULT_IMAGES}, which fails a cell whose stored robust accuracy overstates the truth " \
           "by 0.05 with probability 0.80 (at least 0.8)" in " ".join(shown.split())


def test_every_published_number_is_checked_against_its_outcome_line(store_copy, capsys):
    """A results row whose robust accuracy was edited (or whose outcome line was) no longer follows from its
    outcome line, and verify names the row and the column before recomputing anything."""
    assert verify.published_numbers("smoke").empty
    results = pd.read_csv(store_copy / "results.csv", dtype=str)
    results.loc[3, "robust_accuracy"] = str(float(results.loc[3, "robust_accuracy"]) + 0.05)
    results.to_csv(store_copy / "results.csv", index=False)
    wrong = verify.published_numbers("smoke")
    assert wrong[["model", "attack", "column"]].values.tolist() == [
        [results.loc[3, "model"], results.loc[3, "attack"], "robust_accuracy"]]


def test_the_readmes_block_is_checked_against_what_the_store_gives(monkeypatch):
    """The README's block for a store, with one ruling changed by hand, differs from what the code writes."""
    from genrob.environment import REPO_ROOT

    readme = (REPO_ROOT / "README.md").read_text()
    assert verify.published_block("extended", readme) == ""
    assert verify.published_block("smoke", readme) is None  # the README shows no smoke block
    edited = readme.replace("| overturned |", "| stands |", 1)
    assert edited != readme
    diff = verify.published_block("extended", edited)
    assert "-| **gaussian_nb** | 1000 | 0.82 | 0.63 | 0.22 | 0.00 [0.00, 0.01] | 0.00 | stands |" in diff
