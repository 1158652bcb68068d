"""genrob.evidence: the store in the repository, the adaptive evidence rebuilt from it, the README's headline."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from genrob import adaptive, claims, evidence
from genrob.attacks import attack_config_hash, make_attack, norm_of
from genrob.environment import REPO_ROOT
from genrob.evidence import headline_markdown, headline_markers, replace_headline
from genrob.models import get_spec
from genrob.results import COLUMNS, wilson_interval

ATTACKS_AND_EPS = {"pgd_linf": (0.1, 0.2, 0.3), "pgd_margin_linf": (0.1, 0.2, 0.3), "square_linf": (0.1, 0.2, 0.3),
                   "pgd_l2": (1.0, 2.0, 3.0), "pgd_margin_l2": (1.0, 2.0, 3.0)}


def _synthetic_family(n: int = 40, seed: int = 3, *, retrained: tuple[str, str] | None = None) -> adaptive.FamilyEvidence:
    """The naive Bayes family judged from made-up per-image outcomes (no model, no attack run). With
    ``retrained`` = (model, attack), that attack's rows come from the model trained again: it classifies
    the first image the other way."""
    config = adaptive.family_config("naive_bayes", profile="smoke", n=n)
    rng = np.random.default_rng(seed)
    arrays, rows = {}, []
    for model in config.models:
        first_clean = rng.random(n) < 0.9
        for attack, grid in ATTACKS_AND_EPS.items():
            clean = first_clean.copy()
            if retrained == (model, attack):
                clean[0] = not clean[0]
            fooled = np.zeros(n, bool)
            for eps in grid:
                fooled = fooled | (rng.random(n) < (0.3 if model == "gaussian_nb" else 0.6))
                arrays[(model, attack, eps)] = {"clean_correct": clean, "fooled": fooled & clean}
                robust = int((clean & ~fooled).sum())
                low, high = wilson_interval(robust, n)
                rows.append({"profile": "smoke", "model": model, "model_config": get_spec(model).config_hash("smoke"),
                             "kind": get_spec(model).kind, "attack": attack,
                             "attack_config": attack_config_hash(make_attack(attack, "smoke")),
                             "norm": norm_of(attack), "eps": eps, "n": n, "seed": 0, "images": "all",
                             "attacked": int(clean.sum()), "clean_correct": int(clean.sum()), "clean_accuracy": clean.mean(),
                             "robust_correct": robust, "robust_accuracy": robust / n, "robust_ci_low": low,
                             "robust_ci_high": high, "median_perturbation": float("nan"), "wall_time_s": 1.5,
                             "code_version": "abc1234567"})
    images = np.sort(rng.choice(10_000, n, replace=False))
    return adaptive.judge_family(config, pd.DataFrame(rows, columns=list(COLUMNS)), images=images,
                                 outcome=lambda model, attack, eps: arrays[(model, attack, eps)])


def test_the_adaptive_evidence_comes_back_from_the_store_exactly(tmp_path, monkeypatch):
    monkeypatch.setattr(evidence, "EVIDENCE_DIR", tmp_path)
    found = _synthetic_family()
    folder = evidence.write([found], profile="smoke", date="2026-11-26")
    assert sorted(p.name for p in folder.iterdir()) == ["images.csv", "outcomes.csv", "results.csv", "store.json"]
    assert evidence.provenance("smoke")["code_versions"] == ["abc1234567"]
    (back,) = evidence.load("smoke")
    pd.testing.assert_frame_equal(back.worst_case, found.worst_case)
    assert back.survivors.keys() == found.survivors.keys()
    assert all(back.survivors[k].equals(found.survivors[k]) for k in found.survivors)
    pd.testing.assert_frame_equal(adaptive.verdicts([back]), adaptive.verdicts([found]))
    pd.testing.assert_frame_equal(claims.claims([back]), claims.claims([found]))
    block, _ = evidence.headline("smoke")
    assert "from the evidence store `evidence/smoke/` (results of code version `abc1234567`, 2026-11-26)" in block
    # each stored outcome is its results row, image by image
    outcomes = pd.read_csv(folder / "outcomes.csv", dtype={"clean_correct": str, "fooled": str})
    results = pd.read_csv(folder / "results.csv")
    robust = [sum(c == "1" and f == "0" for c, f in zip(r.clean_correct, r.fooled)) for r in outcomes.itertuples()]
    assert robust == results["robust_correct"].tolist()


def test_rows_of_one_model_from_differently_trained_weights_are_refused_and_nothing_is_written(tmp_path,
                                                                                               monkeypatch):
    """A model trained again (another CPU, other code) classifies other images correctly: its new rows beside
    the stored ones would make a worst case of no single model, so the store refuses them, naming it."""
    monkeypatch.setattr(evidence, "EVIDENCE_DIR", tmp_path)
    with pytest.raises(evidence.MixedWeightsError, match=r"rows of logistic_regression classify different images"):
        evidence.write([_synthetic_family(retrained=("logistic_regression", "square_linf"))], profile="smoke",
                       date="2026-11-26")
    assert not (tmp_path / "smoke").exists()
    evidence.write([_synthetic_family()], profile="smoke", date="2026-11-26")  # one training: written


def test_attacks_judged_by_the_model_sampling_afresh_may_see_other_clean_outcomes():
    """Their clean predictions sample too (:class:`genrob.attacks.base.SamplingModelAttack`): not a sign of
    other weights. Any other attack's are."""
    lines = pd.DataFrame({"model": "cvae", "attack": ["pgd_margin_linf", "autoattack_rand_linf", "pgd_linf"],
                          "n": 4, "seed": 0, "clean_correct": ["1101", "1111", "1101"]})
    assert evidence.models_of_mixed_weights(lines) == []
    assert evidence.models_of_mixed_weights(lines.assign(clean_correct=["1101", "1101", "1100"])) == ["cvae"]
    # another subset of the same model is another set of images
    assert evidence.models_of_mixed_weights(lines.assign(n=[4, 4, 5], clean_correct=["1101", "1111", "11000"])) == []


@pytest.mark.parametrize("profile", ["extended", "default"])
def test_every_model_of_each_store_is_one_trained_model(profile):
    _, _, outcomes = evidence._read_folder(evidence.store_dir(profile))
    assert evidence.models_of_mixed_weights(outcomes) == []


def test_the_headline_command_computes_on_top_of_the_store_not_again(tmp_path, monkeypatch):
    """`headline` without --from-store evaluates the families in the cache: it first puts the store's rows
    there, so that a day of stored evidence is read, not recomputed, and the store keeps its provenance."""
    from genrob import __main__ as cli
    from genrob.results import read_results

    monkeypatch.setattr(evidence, "EVIDENCE_DIR", tmp_path / "evidence")
    monkeypatch.setenv("GENROB_CACHE", str(tmp_path / "cache"))
    found = _synthetic_family()
    evidence.write([found], profile="smoke", date="2026-11-26")
    seen = []

    def evaluate(family, *, profile):
        seen.append(len(read_results(profile)))  # what the evaluation finds cached
        return found

    monkeypatch.setattr(adaptive, "families_to_evaluate", lambda: ["naive_bayes"])
    monkeypatch.setattr(adaptive, "evaluate_family", evaluate)
    monkeypatch.setattr(cli, "write_headline", lambda profile: [])  # the README is not this test's
    assert cli.main(["headline", "--profile", "smoke"]) == 0
    assert seen == [len(found.results)]
    assert evidence.provenance("smoke")["code_versions"] == ["abc1234567"]


def test_the_run_writes_the_readme_block_with_the_code_checked_out_not_the_code_it_started_with(monkeypatch):
    """An evidence run lasts days; the README's test recomputes its block with the current code, so the run
    writes it from a fresh interpreter, from the store alone."""
    from genrob import __main__ as cli

    calls = []
    monkeypatch.setattr(cli.subprocess, "run", lambda command, **kwargs: calls.append((command, kwargs)))
    monkeypatch.setattr(cli, "write_headline", lambda profile: pytest.fail("written with the run's own code"))
    monkeypatch.setattr(cli, "edited", lambda path: False)
    written = cli._headline_of_the_run("extended")
    ((command, kwargs),) = calls
    assert command[1:] == ["-m", "genrob", "headline", "--profile", "extended", "--from-store"]
    assert kwargs == {"cwd": REPO_ROOT, "check": True}
    assert written == [REPO_ROOT / "README.md", REPO_ROOT / "docs/headline-extended.png"]


def test_a_profile_without_a_store_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setattr(evidence, "EVIDENCE_DIR", tmp_path)
    with pytest.raises(FileNotFoundError, match="python -m genrob headline --profile smoke"):
        evidence.load("smoke")


@pytest.mark.parametrize("profile", ["extended", "default"])
def test_the_readmes_block_of_each_store_is_what_the_code_writes_from_it(profile):
    """Nothing in the block is typed by hand: it is recomputed here from the evidence store it names
    (profile, code version, date), and must come out the same."""
    text = (REPO_ROOT / "README.md").read_text()
    start, end = headline_markers(profile)
    block = text.split(start, 1)[1].split(end, 1)[0].strip()
    expected, _ = evidence.headline(profile)
    assert block == expected.strip()


@pytest.mark.parametrize("profile", ["extended", "default"])
def test_no_attack_in_a_store_broke_an_image_its_exact_solver_certified_robust(profile):
    """An attack's adversarial is a misclassified point inside the ball; an image the solver certifies has
    none, by the boundary rule both share (genrob.models.exact). Every exact row is on the images of a worst
    case of the store."""
    from genrob import exactness

    exact = evidence.stored_exact(profile)
    if exact is None:
        pytest.skip(f"the {profile} store holds no exact rows yet (python -m genrob exact --profile {profile})")
    bracket = exactness.bracket(evidence.load(profile), exact)
    assert len(bracket) == len(exact)
    assert (bracket["contradicted"] == 0).all(), bracket[bracket["contradicted"] > 0]
    # so every certified image survived the attacks, and where none is undecided the exact value is below theirs
    assert ((bracket["lower"] <= bracket["attacked"] + 1e-12) & ((bracket["undecided"] > 0)
                                                                | (bracket["upper"] <= bracket["attacked"] + 1e-12))).all()


def test_a_store_whose_run_goes_on_shows_its_complete_families_and_names_the_others(tmp_path, monkeypatch):
    monkeypatch.setattr(evidence, "EVIDENCE_DIR", tmp_path)
    evidence.write([_synthetic_family()], profile="smoke", date="2026-11-26")
    block, verdicts = evidence.headline("smoke")
    assert set(verdicts["model"]) == {"gaussian_nb", "logistic_regression"}
    assert block.startswith("The `smoke` store holds the complete evidence of 1 of the 6 families (`naive_bayes`); "
                            "`mixture`, `markov_random_field`, `vae`, `conv_vae`, `reference` are still being "
                            "computed by `python -m genrob evidence --profile smoke`")
    assert block.endswith("](docs/headline-smoke.png)")
    store = json.loads((tmp_path / "smoke" / "store.json").read_text())
    (tmp_path / "smoke" / "store.json").write_text(json.dumps({**store, "complete_families": []}))
    block, verdicts = evidence.headline("smoke")  # nothing complete yet: the note alone
    assert verdicts.empty and block.startswith("The `smoke` store holds the complete evidence of 0 of the 6")
    assert "|" not in block


def test_the_readme_headline_is_written_between_its_markers_and_nowhere_else():
    verdicts = pd.DataFrame([{"model": "gmm", "kind": "generative", "n": 1000, "clean": 0.9612, "paper": 0.667,
                              "ours_paper_attacks": 0.742, "worst_case": 0.0, "worst_ci_low": 0.0,
                              "worst_ci_high": 0.004, "verdict": "overturned", "n_to_decide": None},
                             {"model": "cnn_vae_binary", "kind": "generative", "n": 30, "clean": 1.0, "paper": 0.96,
                              "ours_paper_attacks": 0.67, "worst_case": 0.4, "worst_ci_low": 0.246,
                              "worst_ci_high": 0.577, "verdict": "undecided at this n", "n_to_decide": 155},
                             {"model": "mlp", "kind": "discriminative", "n": 100, "clean": 0.98,
                              "paper": float("nan"), "ours_paper_attacks": 0.0, "worst_case": 0.0,
                              "worst_ci_low": 0.0, "worst_ci_high": 0.037, "verdict": "not in the paper",
                              "n_to_decide": None}])
    claims = pd.DataFrame({"claim": ["A", "A", "A", "B"], "model": "gmm", "than": "cnn", "expected": "more robust",
                           "norm": ["linf", "linf", "l2", "linf"], "eps": [0.1, 0.3, 2.0, 0.3],
                           "finding": ["stands", "equal", "undecided at this n", "stands"],
                           "n_to_decide": [None, None, 4321, None], "model_only": [5, 0, 2, 6], "than_only": [0, 0, 1, 0],
                           "both": [0, 0, 0, 0]})
    block = headline_markdown(verdicts, profile="default", claims=claims, code_version="abc123", date="2026-11-26")
    assert "| **gmm** | 1000 | 0.96 | 0.67 | 0.74 | 0.00 [0.00, 0.00] | - | overturned |" in block
    assert "| 0.40 [0.25, 0.58] | - | undecided at this n (about 160 images would decide) |" in block
    assert "| mlp | 100 | 0.98 | - |" in block
    # the counts are the code's, from the rows above: nothing typed by hand
    assert "Of the paper's 2 numbers here: 1 overturned, 1 undecided at this n." in block
    assert ("Of its 2 comparative claims, each judged in both norms at every eps (l_inf eps 0.1, 0.3; l_2 eps 2) on "
            "the images both models saw") in block
    assert ": 2 stands, 1 undecided at this n." in block
    assert "| A | stands at 0.1; equal at 0.3 (both at 0) | undecided at 2 (about 4 300 shared images would decide) |" \
        in block
    assert "no n would decide" not in block
    assert "code version `abc123`, 2026-11-26" in block
    start, end = headline_markers("default")
    other = "\n".join(headline_markers("extended"))
    readme = f"# title\n\nintro\n{other}\n{start}\nold table\n{end}\n\n## Two commands\n"
    updated = replace_headline(readme, block, profile="default")
    assert updated.startswith(f"# title\n\nintro\n{other}\n{start}\nRobust accuracy")
    assert updated.endswith(f"{end}\n\n## Two commands\n")
    assert "old table" not in updated and replace_headline(updated, block, profile="default") == updated
    with pytest.raises(ValueError, match="default evidence: start"):
        replace_headline("# a README without markers", block, profile="default")


def test_the_readme_has_the_markers_of_the_evidence_and_of_the_books_profile():
    text = (REPO_ROOT / "README.md").read_text()
    for profile in ("extended", "default"):
        assert replace_headline(text, "x", profile=profile).count("\nx\n") == 1
        assert all(marker in text for marker in headline_markers(profile))
