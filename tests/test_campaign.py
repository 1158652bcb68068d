"""The resumable evidence run: it publishes what it finishes into the store, and a run resumed in an
empty cache (another machine, a lost cache) computes nothing the store holds; commits touch the store only."""

from __future__ import annotations

import dataclasses
import json
import shutil
import subprocess

import numpy as np
import pandas as pd
import pytest

from genrob import campaign, chapter, environment, evaluate, evidence
from genrob.__main__ import main
from genrob.attacks import make_attack
from genrob.models import get_spec, load_model, registry, training
from genrob.results import read_results


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory, mnist):
    """The naive Bayes family's evidence at smoke scale, run into a store of its own (not committed)."""
    root = tmp_path_factory.mktemp("evidence")
    cache = root / "cache-of-the-run"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("GENROB_CACHE", str(cache))
        patch.setattr(evidence, "EVIDENCE_DIR", root)
        final = campaign.run("smoke", families=["naive_bayes"], commit_to_git=False, data=mnist)
    return root, cache, final


@pytest.fixture
def store(smoke_run, monkeypatch):
    root, _, _ = smoke_run
    monkeypatch.setattr(evidence, "EVIDENCE_DIR", root)
    return root / "smoke"


def test_the_run_publishes_every_row_it_wrote_with_its_outcome_and_the_weights(smoke_run, store, monkeypatch):
    _, cache, final = smoke_run
    assert final["complete"].all() and (final["stored"] == final["rows"]).all()
    monkeypatch.setenv("GENROB_CACHE", str(cache))
    computed = read_results("smoke")
    results, images, outcomes = evidence.stored_tables("smoke")
    assert len(results) == len(computed) and evidence.complete_families("smoke") == ["naive_bayes"]
    surrogate = make_attack("transfer_pgd_linf", "smoke").settings["surrogate"]  # trained for the transfer attacks
    assert sorted(p.name for p in (store / evidence.WEIGHTS).glob("*.npz")) == sorted(
        f"{m}-{get_spec(m).config_hash('smoke')}.npz" for m in ("gaussian_nb", "logistic_regression", surrogate))
    row = computed.iloc[-1].to_dict()  # the last row written, a check run of the adaptive evaluation
    cached = np.load(evaluate.per_image_path(row))
    stored = outcomes[evidence.outcome_key(row)]
    assert np.array_equal(stored["fooled"], cached["fooled"])
    assert np.array_equal(stored["clean_correct"], cached["clean_correct"])
    fooled = cached["fooled"].astype(bool)
    np.testing.assert_allclose(stored["perturbation"][fooled], cached["perturbation"][fooled], rtol=1e-4)
    assert set(images["n"]) == {int(n) for n in results["n"].unique()}


def test_a_run_resumed_in_an_empty_cache_recomputes_nothing_the_store_holds(store, fresh_cache, mnist, monkeypatch):
    def forbidden(*args, **kwargs):
        raise AssertionError("the resumed run trained or attacked again")

    monkeypatch.setattr(evaluate, "_run_cell", forbidden)
    monkeypatch.setattr(evaluate, "_cascade_cell", forbidden)
    monkeypatch.setattr(registry, "training_subset", forbidden)  # what training any model starts with
    before = {p.name: p.read_bytes() for p in store.glob("*.csv")}
    final = campaign.run("smoke", families=["naive_bayes"], commit_to_git=False, data=mnist)
    assert (final["stored"] == final["rows"]).all()
    assert {p.name: p.read_bytes() for p in store.glob("*.csv")} == before  # nothing new to publish
    # the family judged from the restored cache is the family judged from the store
    (from_store,) = evidence.load("smoke")
    from_cache = campaign.adaptive.evaluate_family("naive_bayes", profile="smoke", data=mnist)
    pd.testing.assert_frame_equal(from_store.worst_case, from_cache.worst_case)


def test_a_run_the_code_adds_to_a_complete_family_is_computed_alone_and_published(
        smoke_run, tmp_path, fresh_cache, mnist, monkeypatch):
    """A check added after a family was complete (as the l_2 convergence run was): the next run computes it
    and nothing else, and publishes it beside the family's other rows."""
    root, _, _ = smoke_run
    shutil.copytree(root / "smoke", tmp_path / "smoke")
    monkeypatch.setattr(evidence, "EVIDENCE_DIR", tmp_path)
    before, _, _ = evidence.stored_tables("smoke")
    checks = campaign.adaptive.check_configs
    monkeypatch.setattr(campaign.adaptive, "check_configs", lambda config: [
        *checks(config), dataclasses.replace(config, attacks=("pgd_margin_l2_long",), l2_eps=(1.0,))])
    left = campaign.status("smoke", families=["naive_bayes"]).iloc[0]
    assert left["stored"] == len(before) and left["rows"] - left["stored"] == 2  # the added run, once per model
    final = campaign.run("smoke", families=["naive_bayes"], commit_to_git=False, data=mnist)
    assert (final["stored"] == final["rows"]).all() and evidence.complete_families("smoke") == ["naive_bayes"]
    after, _, _ = evidence.stored_tables("smoke")
    columns = ["model", "attack", "eps", "images"]
    added = after.merge(before[columns], on=columns, how="left", indicator=True).query("_merge == 'left_only'")
    assert sorted(added["model"]) == ["gaussian_nb", "logistic_regression"]
    assert set(added["attack"]) == {"pgd_margin_l2_long"} and set(added["eps"]) == {1.0}
    assert len(after) == len(before) + 2


def test_the_status_report_counts_what_is_left(store, fresh_cache, capsys):
    assert main(["evidence", "--profile", "smoke", "--families", "naive_bayes", "mixture", "--status"]) == 0
    printed = capsys.readouterr().out
    table = campaign.status("smoke", families=["naive_bayes", "mixture"]).set_index("family")
    assert table.loc["naive_bayes", "stored"] == table.loc["naive_bayes", "rows"]
    assert table.loc["mixture", "stored"] < table.loc["mixture", "rows"] and not table.loc["mixture", "complete"]
    assert table.loc["naive_bayes", "hours_left"] == 0 and table.loc["naive_bayes", "unmeasured"] == 0
    assert table.loc["mixture", "unmeasured"] > 0  # the GMM never ran, and this store has no default profile
    # logistic regression's rows, in both chapters, are counted once, with naive Bayes (which runs first)
    naive_bayes, mixture = (campaign.planned_rows(f, "smoke")["key"] for f in ("naive_bayes", "mixture"))
    shared = set(naive_bayes) & set(mixture)
    assert shared and table.loc["mixture", "rows"] == len(mixture) - len(shared)
    assert "of 2 families complete" in printed and "h of attacks left" in printed


def test_the_status_report_prices_a_run_in_parts_by_the_images_its_parts_left(store, fresh_cache):
    from genrob.results import attack_parts_dir, save_per_image

    before = campaign.status("smoke", families=["mixture"])  # not run here: every row is left
    plan = campaign.planned_rows("mixture", "smoke")
    row = plan[plan["run"] != ""].iloc[0]
    folder, stem = row["run"].split("/")
    half = int(row["n"]) // 2
    # the first half of its images done, in 5 h: the other half is priced at the same rate
    save_per_image(attack_parts_dir("smoke") / folder / f"{stem}-images0-{half}.npz",
                   clean_correct=np.ones(half, bool), fooled=np.zeros(half, bool),
                   perturbation=np.full(half, np.nan), seconds=np.array(5 * 3600.0), evaluations=np.array([0, 0]))
    after = campaign.status("smoke", families=["mixture"])
    added = float(after["hours_left"].iloc[0] - before["hours_left"].iloc[0])
    assert 4.8 <= added <= 5.1  # the row's own estimate before (smoke: seconds) replaced by 5 h
    assert (plan.loc[plan["cascade"], "run"] == "").all()  # a cascade's images, hence its run, are not known yet


def test_the_status_report_counts_each_models_training_once(store, fresh_cache, monkeypatch):
    hours = {"gaussian_nb": 1.0, "logistic_regression": 0.5, "gmm": 2.0}
    monkeypatch.setattr(evidence, "training_seconds", lambda profile: {
        registry.checkpoint_path(m, profile).stem: h * 3600 for m, h in hours.items()})
    table = campaign.status("smoke", families=["naive_bayes", "mixture"]).set_index("family")
    # logistic regression, which both chapters evaluate, is counted with naive Bayes (which runs first)
    assert table["training_hours"].to_dict() == {"naive_bayes": 1.5, "mixture": 2.0}


def test_the_store_gives_each_kept_models_training_time(store):
    trained = evidence.training_seconds("smoke")
    assert set(trained) == {p.stem for p in (store / evidence.WEIGHTS).glob("*.npz")}
    assert all(seconds > 0 for seconds in trained.values())


def test_a_run_stopped_in_a_training_publishes_its_state_and_the_next_run_goes_on_from_it(
        tmp_path, mnist, monkeypatch):
    monkeypatch.setattr(evidence, "EVIDENCE_DIR", tmp_path / "evidence")
    monkeypatch.setenv("GENROB_CACHE", str(tmp_path / "first-cache"))
    monkeypatch.setattr(evidence, "KEEP_TRAINING_AFTER_S", 0.0)  # the smoke training takes a second
    score, calls = training.accuracy, [0]

    def stopped_in_the_second_epoch(*args, **kwargs):
        calls[0] += 1
        if calls[0] == 2:
            raise KeyboardInterrupt  # what the run's SIGTERM handler and Ctrl-C raise
        return score(*args, **kwargs)

    monkeypatch.setattr(training, "accuracy", stopped_in_the_second_epoch)
    with pytest.raises(KeyboardInterrupt):
        campaign.run("smoke", families=["naive_bayes"], commit_to_git=False, data=mnist)
    kept = tmp_path / "evidence" / "smoke" / evidence.TRAINING
    (stem,) = {p.name.rsplit("-", 1)[0] for p in kept.iterdir()}  # the training it was stopped in
    assert sorted(p.suffix for p in kept.iterdir()) == [".json", ".npz"]

    monkeypatch.setattr(training, "accuracy", score)
    monkeypatch.setenv("GENROB_CACHE", str(tmp_path / "second-cache"))  # another machine, or the cache lost
    final = campaign.run("smoke", families=["naive_bayes"], commit_to_git=False, data=mnist)
    assert final["complete"].all()
    weights = json.loads((tmp_path / "evidence" / "smoke" / evidence.WEIGHTS / f"{stem}.json").read_text())
    assert weights["resumed_after_epochs"] == [1]
    assert not list(kept.iterdir())  # trained: its state is dropped from the store


def test_a_run_stopped_inside_an_attack_keeps_its_finished_parts_and_the_next_run_computes_the_rest(
        tmp_path, mnist, monkeypatch):
    import dataclasses

    from genrob import profiles
    from genrob.attacks.base import Attack

    smoke = profiles.get_profile("smoke")
    monkeypatch.setitem(profiles.PROFILES, "smoke", dataclasses.replace(smoke, attack_part_images=25))
    monkeypatch.setattr(evidence, "EVIDENCE_DIR", tmp_path / "evidence")
    monkeypatch.setenv("GENROB_CACHE", str(tmp_path / "first-cache"))
    run, sizes = Attack.run, []

    def stopped_in_a_last_part(self, model, x, *args, **kwargs):
        sizes.append(len(x))
        if len(x) < 25:
            raise KeyboardInterrupt  # the first run's first last part: 60 images are 25 + 25 + 10
        return run(self, model, x, *args, **kwargs)

    monkeypatch.setattr(Attack, "run", stopped_in_a_last_part)
    with pytest.raises(KeyboardInterrupt):
        campaign.run("smoke", families=["naive_bayes"], commit_to_git=False, data=mnist)
    assert sizes[-3:] == [25, 25, 10]
    kept = tmp_path / "evidence" / "smoke" / evidence.PARTS
    assert sorted(p.name.rsplit("-images", 1)[1] for p in kept.glob("*/*.npz")) == ["0-25.npz", "25-50.npz"]

    def recording(self, model, x, *args, **kwargs):
        sizes.append(len(x))
        return run(self, model, x, *args, **kwargs)

    sizes.clear()
    monkeypatch.setattr(Attack, "run", recording)
    monkeypatch.setenv("GENROB_CACHE", str(tmp_path / "second-cache"))  # another machine, or the cache lost
    final = campaign.run("smoke", families=["naive_bayes"], commit_to_git=False, data=mnist)
    assert final["complete"].all()
    assert sizes[0] == 10  # it went on with the part it was stopped in, the two before it read from the store
    assert not list(kept.glob("*/*.npz"))  # every run whole: no part is left in the store


def test_a_state_of_a_few_minutes_training_is_not_worth_its_bytes_in_the_store(tmp_path, monkeypatch):
    monkeypatch.setattr(evidence, "EVIDENCE_DIR", tmp_path / "evidence")
    monkeypatch.setenv("GENROB_CACHE", str(tmp_path / "cache"))
    cache = registry.training_state_dir()
    cache.mkdir(parents=True)
    stem = registry.training_state_stem("gmm", "smoke").name
    (cache / f"{stem}-1.npz").write_bytes(b"weights")
    (cache / f"{stem}-1.json").write_text(json.dumps({"seconds": evidence.KEEP_TRAINING_AFTER_S - 1}))
    assert evidence.keep_training("smoke", unfinished=True) == []
    (cache / f"{stem}-1.json").write_text(json.dumps({"seconds": evidence.KEEP_TRAINING_AFTER_S}))
    assert evidence.keep_training("smoke", unfinished=True) == [stem]
    assert sorted(p.name for p in (tmp_path / "evidence" / "smoke" / evidence.TRAINING).iterdir()) == [
        f"{stem}-1.json", f"{stem}-1.npz"]


def test_bad_parameters_are_clear_errors(capsys):
    assert main(["evidence", "--families", "no_such_family", "--status"]) == 2
    assert main(["evidence", "--profile", "huge", "--status"]) == 2
    assert main(["evidence", "--every", "0", "--status"]) == 2
    assert "unknown families" in capsys.readouterr().err


def test_a_commit_takes_the_given_paths_and_nothing_else(tmp_path, monkeypatch):
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=tmp_path, check=True, capture_output=True, text=True).stdout

    git("init", "-q")
    git("config", "user.name", "test")
    git("config", "user.email", "test@example.com")
    (tmp_path / "store").mkdir()
    (tmp_path / "store" / "results.csv").write_text("a\n1\n")
    (tmp_path / "code.py").write_text("edited = True\n")
    git("add", "code.py")  # someone's staged work, which the run's commit must leave alone
    monkeypatch.setattr(environment, "REPO_ROOT", tmp_path)
    assert environment.commit([tmp_path / "store"], "Evidence: 1 row")
    assert git("show", "--name-only", "--format=%s", "HEAD").split() == ["Evidence:", "1", "row", "store/results.csv"]
    assert git("diff", "--cached", "--name-only").split() == ["code.py"]
    assert not environment.commit([tmp_path / "store"], "nothing new")


def test_a_book_rendered_from_the_store_reads_it_and_computes_nothing(store, fresh_cache, mnist, monkeypatch):
    from genrob.params import sweep_config

    evidence.restore("smoke")
    monkeypatch.setenv("GENROB_STORE_ONLY", "1")
    family = campaign.adaptive.evaluate_family("naive_bayes", profile="smoke", data=mnist)  # all read
    assert len(family.worst_case) and load_model("gaussian_nb", "smoke", data=mnist) is not None
    with pytest.raises(environment.StoreOnlyError, match="training gmm"):
        load_model("gmm", "smoke", data=mnist)
    unrun = sweep_config(profile="smoke", family="naive_bayes", linf_eps=[0.05], attacks=["fgsm_linf"])
    with pytest.raises(environment.StoreOnlyError, match="fgsm_linf at eps 0.05"):
        evaluate.sweep(unrun, data=mnist)
    assert "rendered from the evidence store `evidence/smoke/`" in chapter.which_book("smoke")
    monkeypatch.delenv("GENROB_STORE_ONLY")
    assert "not read from the evidence store" in chapter.which_book("smoke")


def test_the_benchmark_of_the_run_goes_into_the_store_and_back(store, fresh_cache):
    from genrob.results import bench_path

    bench_path("smoke").parent.mkdir(parents=True)
    bench_path("smoke").write_text("model,kind,forward_images_per_s\ngaussian_nb,generative,5381.5\n")
    assert evidence.keep_side_tables("smoke") and not evidence.keep_side_tables("smoke")  # kept once, unchanged
    kept = bench_path("smoke").read_bytes()
    bench_path("smoke").unlink()
    evidence.restore("smoke")
    assert bench_path("smoke").read_bytes() == kept
    (store / evidence.BENCHMARK).unlink()


def test_edits_of_ones_own_are_told_apart_from_the_last_commit(tmp_path, monkeypatch):
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    (tmp_path / "README.md").write_text("# a\n")
    monkeypatch.setattr(environment, "REPO_ROOT", tmp_path)
    assert environment.edited(tmp_path / "README.md")  # untracked
    subprocess.run(["git", "add", "README.md"], cwd=tmp_path, check=True)
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@e", "commit", "-qm", "a"], cwd=tmp_path,
                   check=True)
    assert not environment.edited(tmp_path / "README.md")
    (tmp_path / "README.md").write_text("# a\n\nmine\n")
    assert environment.edited(tmp_path / "README.md")


def test_a_publication_that_fails_is_retried_whole_by_the_next(store, fresh_cache):
    calls = []

    def write_readme() -> list:
        calls.append(len(calls))
        if len(calls) == 1:
            raise ValueError("a figure that cannot be drawn")
        return []

    publish = campaign.Publisher("smoke", commit_to_git=False, on_family_complete=write_readme)
    publish.safely(complete=("naive_bayes",))  # fails, reported, the run goes on
    publish.safely()  # the family's README block is written now, though this call names no family
    publish.safely()  # and only once
    assert calls == [0, 1]
