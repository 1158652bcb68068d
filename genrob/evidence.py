"""The evidence store: what a profile's runs found, kept in the repository as small open files.

``evidence/<profile>/`` holds the results rows (``results.csv``, the results
table's columns plus ``family``), which test images each evaluation subset is
(``images.csv``), per row which images the model classified correctly, which the
attack fooled and by how much (``outcomes.csv``), and where, when and how far the
store was written (``store.json``). That is everything the worst case, the
rulings on the paper's numbers and the paired claims need: :func:`load` rebuilds
the adaptive evidence from it without a model, MNIST or the cache, so the
README's headline is recomputed from files in git (``evidence/README.md`` gives
the schema).

A store grows in two ways. :func:`write` replaces it with the adaptive evidence
of a finished run (``python -m genrob headline``); :func:`export` adds every row
of the cache's results table it does not hold yet, which is how the resumable
evidence run (:mod:`genrob.campaign`) publishes its cells as they finish, and
:func:`restore` puts the store's rows back into an empty cache, so that a run
resumed on another machine, or after the cache was lost, skips what is stored.
The trained weights of such a run are kept beside the store (``weights/``, npz):
training on another CPU gives other weights under the same configuration, and
every cell of a model must come from the same one. Once the store is complete,
:func:`archive_weights` leaves them to git's history, which keeps every committed
file anyway: the working tree keeps each model's fingerprint and the commit that
holds its npz, and :func:`restore_weights` reads them from there.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Iterable, Mapping

import numpy as np
import pandas as pd
import torch

from genrob import adaptive, claims as paper_claims, prose
from genrob.adaptive import FamilyEvidence
from genrob.data import load_mnist, stratified_indices
from genrob.environment import (
    REPO_ROOT, atomic_write, cache_dir, commit_holding, committed_bytes, cpu_kind, thread_count,
)
from genrob.evaluate import per_image_path
from genrob.models import checkpoint_path, get_spec, model_names
from genrob.models.registry import families, training_state_dir, training_state_stem
from genrob.profiles import get_profile
from genrob.results import (
    COLUMNS, EVERY_IMAGE, TEXT_COLUMNS, append_rows, attack_parts_dir, bench_path, exact_path, existing_keys,
    fingerprint, load_per_image, read_results, row_key, save_per_image, with_every_column,
)

EVIDENCE_DIR = REPO_ROOT / "evidence"
#: Beside the tables: the trained weights of a resumable run, the arrays its chapters memoised (clean
#: predictions, example adversarials) and its benchmark, which a book rendered from the store reads instead
#: of computing; and the state of a training the run was stopped in, which the next run goes on from.
WEIGHTS, MEMO, BENCHMARK, TRAINING, PARTS = "weights", "memo", "bench.csv", "training", "parts"
#: The exact table's name in the store (:mod:`genrob.exactness`).
EXACT = "exact.csv"
#: What identifies one attack run's per-image outcome within a profile's store.
OUTCOME_KEY = ["model", "attack", "eps", "n", "seed", "images"]
#: Version of the store's layout: 2 keeps every row of a run (not only the adaptive evaluation's), the
#: perturbation of each fooled image, and which families are complete.
STORE_FORMAT = 2
#: In a kept model's weights JSON: the commit whose tree holds its npz, once :func:`archive_weights` took
#: the npz out of the working tree.
ARCHIVED_AT = "npz_archived_at"


def store_dir(profile: str) -> Path:
    return EVIDENCE_DIR / get_profile(profile).name


def _bits(values: np.ndarray) -> str:
    """One character per image, ``1`` for True: a 1 000-image outcome is one short CSV cell."""
    return "".join("1" if v else "0" for v in np.asarray(values, bool))


def _unbits(text: str) -> np.ndarray:
    return np.frombuffer(str(text).encode(), dtype=np.uint8) == ord("1")


def _sizes(values: np.ndarray) -> str:
    """The perturbation sizes of the fooled images, to 5 significant digits, space-separated."""
    return " ".join(f"{float(v):.5g}" for v in values)


def _unsizes(text: object, fooled: np.ndarray) -> np.ndarray:
    """Per image, the stored perturbation size where the image was fooled, NaN elsewhere (everywhere, where
    the sizes do not match the fooled images: an edited store)."""
    sizes = np.full(len(fooled), np.nan)
    values = np.array(text.split(), dtype=float) if isinstance(text, str) else np.array([])
    if len(values) == fooled.sum():
        sizes[fooled] = values
    return sizes


def _outcome_line(row: Mapping, arrays: Mapping[str, np.ndarray]) -> dict:
    fooled = np.asarray(arrays["fooled"], bool)
    sizes = arrays.get("perturbation")
    return {"model": row["model"], "attack": row["attack"], "eps": row["eps"], "n": row["n"], "seed": row["seed"],
            "images": row.get("images", EVERY_IMAGE), "clean_correct": _bits(arrays["clean_correct"]),
            "fooled": _bits(fooled), "perturbation": _sizes(np.asarray(sizes)[fooled]) if sizes is not None else ""}


def outcome_key(row: Mapping) -> tuple:
    """What finds a row's per-image outcome among :func:`stored_tables`' (its :data:`OUTCOME_KEY`, eps rounded)."""
    return (row["model"], row["attack"], round(float(row["eps"]), 10), int(row["n"]), int(row["seed"]),
            str(row.get("images", EVERY_IMAGE)))


def _read_folder(folder: Path) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """The store's three tables as written (empty ones where there is no store yet)."""
    if not (folder / "results.csv").exists():
        return (pd.DataFrame(columns=[*COLUMNS, "family"]),
                pd.DataFrame(columns=["n", "seed", "position", "test_index"]),
                pd.DataFrame(columns=[*OUTCOME_KEY, "clean_correct", "fooled", "perturbation"]))
    results = with_every_column(pd.read_csv(folder / "results.csv", dtype=TEXT_COLUMNS))
    images = pd.read_csv(folder / "images.csv")
    outcomes = pd.read_csv(folder / "outcomes.csv", dtype={"clean_correct": str, "fooled": str, "images": str,
                                                            "perturbation": str})
    if "images" not in outcomes:  # a store written before the cascade: every row ran on every image
        outcomes["images"] = EVERY_IMAGE
    return results, images, outcomes


def _subsets(pairs: Iterable[tuple[int, int]]) -> pd.DataFrame:
    """The evaluation subsets of ``(n, seed)`` as ``images.csv`` rows (reads MNIST's test labels)."""
    pairs = sorted(set(pairs))
    if not pairs:
        return pd.DataFrame(columns=["n", "seed", "position", "test_index"])
    labels = load_mnist().test.y
    return pd.concat([pd.DataFrame({"n": n, "seed": seed, "position": np.arange(n),
                                    "test_index": stratified_indices(labels, n, seed=seed).numpy()})
                      for n, seed in pairs], ignore_index=True)


class MixedWeightsError(ValueError):
    """A store would hold rows of one model computed from differently trained weights."""


def models_of_mixed_weights(outcomes: pd.DataFrame) -> list[str]:
    """The models whose outcome lines (``outcomes.csv``'s) disagree on which images of one subset the model
    classifies correctly: rows computed from different trained weights. Attacks judged by the model
    sampling afresh are left aside, as their clean predictions sample too."""
    fixed = outcomes[~adaptive.judged_by_sampling(outcomes)]
    subsets = fixed.assign(n=fixed["n"].astype(int), seed=fixed["seed"].astype(int))
    versions = subsets.groupby(["model", "n", "seed"])["clean_correct"].nunique()
    return sorted(set(versions[versions > 1].index.get_level_values("model")))


def _save(folder: Path, results: pd.DataFrame, images: pd.DataFrame, outcomes: pd.DataFrame, *, profile: str,
          date: str, complete: Iterable[str] | None) -> None:
    """Write the three tables and ``store.json`` (each file swapped whole); refuse rows of one model from
    differently trained weights, whose worst case would be of no single model."""
    mixed = models_of_mixed_weights(outcomes)
    if mixed:
        raise MixedWeightsError(
            f"not written: the rows of {', '.join(mixed)} classify different images of one subset correctly, so "
            f"they come from differently trained weights (a store that keeps no weights of a model, `weights/`, "
            f"cannot take rows of the model trained again, on another CPU or by other code). Write it whole "
            f"from one run instead: in a cache that run filled from empty (`make book PROFILE={profile}`), "
            f"remove {folder} and run `python -m genrob headline --profile {profile}`")
    tables = {"results.csv": results[[*COLUMNS, "family"]], "images.csv": images,
              "outcomes.csv": outcomes[[*OUTCOME_KEY, "clean_correct", "fooled", "perturbation"]]}
    folder.mkdir(parents=True, exist_ok=True)
    for name, table in tables.items():
        atomic_write(folder / name, lambda tmp, table=table: table.to_csv(tmp, index=False))
    machines = results[["machine", "threads"]].dropna().drop_duplicates()
    written = {"format": STORE_FORMAT, "profile": get_profile(profile).name, "written": date,
               "code_versions": sorted({str(v) for v in results["code_version"]}),
               "machines": [f"{m} ({int(t)} threads)" for m, t in machines.itertuples(index=False)],
               "written_on": {"cpu": cpu_kind(), "threads": thread_count()},
               "attack_wall_time_s": round(float(results["wall_time_s"].sum()), 1),
               "complete_families": [f for f in families() if f in set(complete)] if complete is not None else None}
    weights = _weights_dir(profile)
    if weights.is_dir():
        written["weights"] = {p.stem: json.loads(p.read_text()).get("fingerprint")
                              for p in sorted(weights.glob("*.json"))}
    atomic_write(folder / "store.json", lambda tmp: tmp.write_text(json.dumps(written, indent=2) + "\n"))


def write(evidence: list[FamilyEvidence], *, profile: str, date: str) -> Path:
    """Write the store of ``profile`` from the adaptive ``evidence`` (each row's per-image outcome read
    where the evidence read it, the sweep's cache), replacing what was there; returns its folder."""
    folder = store_dir(profile)
    results, outcomes = [], []
    for family in evidence:
        config = family.config
        name = get_spec(config.models[0]).family  # the adaptive chapter evaluates each model in its own family
        results.append(family.results.assign(family=name)[[*COLUMNS, "family"]])
        for row in family.results.drop_duplicates(OUTCOME_KEY).to_dict("records"):
            outcomes.append(_outcome_line(row, family.outcome(row["model"], row["attack"], row["eps"])))
    images = pd.concat([pd.DataFrame({"n": f.config.n, "seed": f.config.seed, "position": np.arange(f.config.n),
                                      "test_index": next(iter(f.survivors.values())).index.to_numpy()})
                        if f.survivors else _subsets([(f.config.n, f.config.seed)]) for f in evidence],
                       ignore_index=True)
    _save(folder, pd.concat(results, ignore_index=True), images.drop_duplicates(["n", "seed", "position"]),
          pd.DataFrame(outcomes), profile=profile, date=date,
          complete=[get_spec(f.config.models[0]).family for f in evidence])
    return folder


def export(profile: str, *, date: str, complete: Iterable[str] = ()) -> int:
    """Add to the store of ``profile`` every row of the cache's results table it does not hold yet (with
    its per-image outcome) and mark the families ``complete`` as such; returns how many rows it added."""
    folder = store_dir(profile)
    results, images, outcomes = _read_folder(folder)
    stored = existing_keys(results)
    added, lines = [], []
    for row in read_results(profile).to_dict("records"):
        if row_key(row) in stored:
            continue
        arrays = load_per_image(per_image_path(row))
        if arrays is None:  # a row whose per-image file is gone can be recomputed, not published
            continue
        added.append({**row, "family": get_spec(row["model"]).family})
        lines.append(_outcome_line(row, arrays))
    have = set(zip(images["n"].astype(int), images["seed"].astype(int)))
    new_subsets = _subsets({(int(r["n"]), int(r["seed"])) for r in added} - have)
    was_complete = (provenance(profile).get("complete_families") or []) if (folder / "store.json").exists() else []
    complete = {*was_complete, *complete}
    if not added and complete == set(was_complete):
        return 0
    frames = [t for t in (results, pd.DataFrame(added)) if len(t)]
    _save(folder, pd.concat(frames, ignore_index=True) if frames else results,
          pd.concat([t for t in (images, new_subsets) if len(t)], ignore_index=True) if len(new_subsets) else images,
          pd.concat([t for t in (outcomes, pd.DataFrame(lines)) if len(t)], ignore_index=True) if lines else outcomes,
          profile=profile, date=date, complete=complete)
    return len(added)


def restore(profile: str) -> int:
    """Put the store's rows and per-image outcomes, and its kept weights, into the cache where the cache
    lacks them, so that a run resumed there computes only what the store does not hold; returns the rows
    restored."""
    folder = store_dir(profile)
    restore_weights(profile)
    restore_training(profile)
    restore_memo(profile)
    restore_parts(profile)
    for cached, stored in _side_tables(profile):
        if stored.exists() and not cached.exists():
            atomic_write(cached, lambda tmp, stored=stored: tmp.write_bytes(stored.read_bytes()))
    if not (folder / "results.csv").exists():
        return 0
    results, _, outcomes = _read_folder(folder)
    by_key = {outcome_key(r): r for r in outcomes.to_dict("records")}
    cached = existing_keys(read_results(profile))
    rows = []
    for row in results.drop(columns="family").to_dict("records"):
        if row_key(row) in cached:
            continue
        line = by_key[outcome_key(row)]
        fooled = _unbits(line["fooled"])
        save_per_image(per_image_path(row), clean_correct=_unbits(line["clean_correct"]), fooled=fooled,
                       perturbation=_unsizes(line["perturbation"], fooled))
        rows.append(row)
    append_rows(profile, rows)
    return len(rows)


def _weights_dir(profile: str) -> Path:
    return store_dir(profile) / WEIGHTS


def keep_weights(profile: str, models: Iterable[str] | None = None) -> list[str]:
    """Copy the cache's trained weights of ``models`` (default: every model trained for ``profile``) into
    the store as npz, with their training report and a fingerprint; returns the models newly kept (not
    those the store keeps already, in the tree or archived)."""
    kept = []
    for name in models if models is not None else model_names():
        source = checkpoint_path(name, profile)
        target = _weights_dir(profile) / source.with_suffix(".npz").name
        if _keeps_weights(profile, target.stem) or not (source.exists() and source.with_suffix(".json").exists()):
            continue
        state = torch.load(source, map_location="cpu", weights_only=True)
        arrays = {key: value.numpy() for key, value in state.items()}
        document = {**json.loads(source.with_suffix(".json").read_text()), "fingerprint": _weights_fingerprint(state)}
        atomic_write(target, lambda tmp, arrays=arrays: np.savez_compressed(open(tmp, "wb"), **arrays))
        atomic_write(target.with_suffix(".json"), lambda tmp, d=document: tmp.write_text(json.dumps(d, indent=1)))
        kept.append(name)
    return kept


def training_seconds(profile: str) -> dict[str, float]:
    """Seconds each model whose weights the store of ``profile`` keeps took to train (its training report), by
    checkpoint name (``<model>-<configuration hash>``)."""
    folder = _weights_dir(profile)
    return {p.stem: float(json.loads(p.read_text()).get("train_seconds", float("nan")))
            for p in sorted(folder.glob("*.json"))} if folder.is_dir() else {}


def _weights_fingerprint(state: Mapping[str, torch.Tensor]) -> str:
    return fingerprint(*(x for key in sorted(state) for x in (key, state[key].numpy())))


def _keeps_weights(profile: str, stem: str) -> bool:
    """Whether the store of ``profile`` keeps the weights of checkpoint ``stem``, in the tree or archived."""
    return (_weights_dir(profile) / f"{stem}.json").exists()


def restore_weights(profile: str) -> list[str]:
    """Put the store's kept weights into the cache's checkpoints where they are missing, reading an archived
    model's npz from the commit that holds it (:func:`archive_weights`); returns their names."""
    restored = []
    for document in sorted(_weights_dir(profile).glob("*.json")) if _weights_dir(profile).is_dir() else ():
        name = document.stem.rsplit("-", 1)[0]
        target = checkpoint_path(name, profile)
        if target.name != document.with_suffix(".pt").name:  # the current code configures this model otherwise
            continue
        if target.exists() and target.with_suffix(".json").exists():
            continue
        report = json.loads(document.read_text())
        archived = report.pop(ARCHIVED_AT, None)
        source = document.with_suffix(".npz")
        data = source.read_bytes() if source.exists() or archived is None else committed_bytes(archived, source)
        with np.load(io.BytesIO(data)) as arrays:
            state = {key: torch.from_numpy(arrays[key].copy()) for key in arrays.files}
        found = _weights_fingerprint(state)
        if report.get("fingerprint", found) != found:
            raise ValueError(f"the weights of {document.stem} read from {archived or source} are not the ones "
                             f"the store kept (fingerprint {found}, kept {report['fingerprint']})")
        atomic_write(target, lambda tmp, state=state: torch.save(state, tmp))
        atomic_write(target.with_suffix(".json"), lambda tmp, r=report: tmp.write_text(json.dumps(r, indent=1)))
        restored.append(name)
    return restored


def archive_weights(profile: str) -> list[str]:
    """Take the kept weights' npz files of ``profile`` out of the working tree, leaving them to git's history:
    each model's JSON names the commit that holds its npz (HEAD, where every one must be committed as it is),
    from which :func:`restore_weights` reads it. Returns the checkpoint names archived; commit the store next.

    Why: the weights are 46 of the complete extended store's 51 MB, which every checkout carries, while
    only a run that adds to the store, ``verify`` and :func:`restore` read them; git keeps every committed
    file in its history anyway, so a full clone still has them."""
    folder = _weights_dir(profile)
    files = sorted(folder.glob("*.npz")) if folder.is_dir() else []
    if not files:
        return []
    commit = commit_holding([*files, *(p.with_suffix(".json") for p in files)])
    for path in files:
        document = path.with_suffix(".json")
        report = {**json.loads(document.read_text()), ARCHIVED_AT: commit}
        atomic_write(document, lambda tmp, r=report: tmp.write_text(json.dumps(r, indent=1)))
        path.unlink()
    return [p.stem for p in files]


def _training_states(folder: Path, profile: str) -> dict[str, list[Path]]:
    """The training states (:func:`genrob.models.training.resumable`) under ``folder`` of the models of
    ``profile`` as the current code configures them, by checkpoint name."""
    states = {}
    for name in model_names():
        stem = training_state_stem(name, profile).name
        files = sorted(folder.glob(f"{stem}-*.*")) if folder.is_dir() else []
        if files:
            states[stem] = files
    return states


#: A training state goes into the store only once it holds this much training: a state is the weights twice
#: and Adam's moments (29 MB for a CNN-VAE), and git keeps every one committed, so a state is worth its
#: bytes only where it saves more than a few minutes of training.
KEEP_TRAINING_AFTER_S = 600.0


def _trained_seconds(files: list[Path]) -> float:
    return sum(json.loads(p.read_text())["seconds"] for p in files if p.suffix == ".json")


def keep_training(profile: str, *, unfinished: bool) -> list[str]:
    """Drop from the store the training states of the models whose weights it now keeps; with ``unfinished``
    (a run stopping), copy in the cache's states of the trainings still going that hold at least
    :data:`KEEP_TRAINING_AFTER_S` of training, so that the next run goes on from their last epoch on any
    machine. Returns the checkpoint names whose states changed."""
    folder = store_dir(profile) / TRAINING
    changed = []
    for stem, files in _training_states(folder, profile).items():
        if _keeps_weights(profile, stem):
            for path in files:
                path.unlink()
            changed.append(stem)
    if unfinished:
        for stem, files in _training_states(training_state_dir(), profile).items():
            if _keeps_weights(profile, stem) or _trained_seconds(files) < KEEP_TRAINING_AFTER_S:
                continue
            stored = {p.name: p for p in _training_states(folder, profile).get(stem, [])}
            if {p.name: p.read_bytes() for p in files} == {n: p.read_bytes() for n, p in stored.items()}:
                continue
            for path in stored.values():
                path.unlink()
            for path in files:
                atomic_write(folder / path.name, lambda tmp, path=path: tmp.write_bytes(path.read_bytes()))
            changed.append(stem)
    return changed


def restore_training(profile: str) -> list[str]:
    """Put the store's training states into the cache where it has none for that model; returns their names."""
    restored = []
    cache = training_state_dir()
    have = _training_states(cache, profile)
    for stem, files in _training_states(store_dir(profile) / TRAINING, profile).items():
        if stem in have:
            continue
        for path in files:
            atomic_write(cache / path.name, lambda tmp, path=path: tmp.write_bytes(path.read_bytes()))
        restored.append(stem)
    return restored


def _copy_missing(source: Path, target: Path) -> list[str]:
    """Copy each ``kind/key.npz`` under ``source`` that ``target`` lacks; returns their names (``kind/key``)."""
    copied = []
    for path in sorted(source.glob("*/*.npz")) if source.is_dir() else ():
        copy = target / path.relative_to(source)
        if not copy.exists():
            atomic_write(copy, lambda tmp, path=path: tmp.write_bytes(path.read_bytes()))
            copied.append(str(path.relative_to(source).with_suffix("")))
    return copied


def keep_parts(profile: str) -> list[str]:
    """Make the store's attack parts (:func:`genrob.evaluate.attack_in_parts`) those the cache holds now: the
    finished parts of the runs still going are copied in, those of runs written whole since are dropped.
    Returns the names (``folder/part``) added or dropped."""
    source, target = attack_parts_dir(profile), store_dir(profile) / PARTS
    have = {p.relative_to(source) for p in source.glob("*/*.npz")} if source.is_dir() else set()
    changed = _copy_missing(source, target)
    for path in sorted(target.glob("*/*.npz")) if target.is_dir() else ():
        if path.relative_to(target) not in have:
            path.unlink()
            changed.append(str(path.relative_to(target).with_suffix("")))
    return changed


def restore_parts(profile: str) -> list[str]:
    """Put the store's attack parts into the cache where it lacks them; returns their names."""
    return _copy_missing(store_dir(profile) / PARTS, attack_parts_dir(profile))


def keep_memo(profile: str) -> list[str]:
    """Copy the arrays the cache memoised (:func:`genrob.results.memoised`) into the store where it lacks
    them (a run's cache holds only its profile's); returns their names (``kind/key``)."""
    return _copy_missing(cache_dir() / "memo", store_dir(profile) / MEMO)


def _side_tables(profile: str) -> list[tuple[Path, Path]]:
    """The tables kept beside the results, as (the cache's file, the store's): the benchmark (what each model
    costs on the machine of the run, the summary chapter's Table 3) and the exact table."""
    folder = store_dir(profile)
    return [(bench_path(profile), folder / BENCHMARK), (exact_path(profile), folder / EXACT)]


def keep_side_tables(profile: str) -> bool:
    """Copy the cache's benchmark and exact tables of ``profile`` into the store where they differ; True
    where one did."""
    kept = False
    for source, target in _side_tables(profile):
        if not source.exists() or (target.exists() and target.read_bytes() == source.read_bytes()):
            continue
        atomic_write(target, lambda tmp, source=source: tmp.write_bytes(source.read_bytes()))
        kept = True
    return kept


def restore_memo(profile: str) -> list[str]:
    """Put the store's memoised arrays into the cache where it lacks them; returns their names."""
    return _copy_missing(store_dir(profile) / MEMO, cache_dir() / "memo")


def provenance(profile: str) -> dict:
    """The store's ``store.json``: profile, date written, code versions and machines of its rows, which
    families are complete (``None``: every family in it, as a store written by :func:`write`)."""
    path = store_dir(profile) / "store.json"
    if not path.exists():
        raise FileNotFoundError(f"no evidence store for the {profile!r} profile at {path.parent}; "
                                f"python -m genrob headline --profile {profile} writes it")
    return json.loads(path.read_text())


def stored_tables(profile: str) -> tuple[pd.DataFrame, pd.DataFrame, dict[tuple, dict[str, np.ndarray]]]:
    """The store of ``profile`` as written: its results rows, its images, and each row's per-image
    arrays (``clean_correct``, ``fooled``, ``perturbation``) by :data:`OUTCOME_KEY` (eps rounded to 10
    places)."""
    provenance(profile)  # a clear error where there is no store
    results, images, outcomes = _read_folder(store_dir(profile))
    by_key = {}
    for line in outcomes.to_dict("records"):
        fooled = _unbits(line["fooled"])
        by_key[outcome_key(line)] = {"clean_correct": _unbits(line["clean_correct"]), "fooled": fooled,
                                      "perturbation": _unsizes(line.get("perturbation"), fooled)}
    return results, images, by_key


def stored_clean_correct(profile: str, *, n: int, seed: int) -> dict[str, str]:
    """Per model of the store of ``profile``: which of its ``n`` evaluation images drawn with ``seed`` it
    classifies correctly, as its outcome lines say (one ``0``/``1`` per image; absent where it has none)."""
    _, _, outcomes = _read_folder(store_dir(profile))
    lines = outcomes[(outcomes["n"].astype(int) == n) & (outcomes["seed"].astype(int) == seed)
                     & (outcomes["images"] == EVERY_IMAGE)]
    return {model: group["clean_correct"].iloc[0] for model, group in lines.groupby("model")}


def stored_exact(profile: str) -> pd.DataFrame | None:
    """The store's exact table (:mod:`genrob.exactness`), or None where it has none."""
    path = store_dir(profile) / EXACT
    return pd.read_csv(path, dtype={"model_config": str, "statuses": str}) if path.exists() else None


def subset_images(images: pd.DataFrame, *, n: int, seed: int) -> np.ndarray:
    """The test-set indices of the store's evaluation subset of ``n`` images drawn with ``seed``, in order."""
    return images[(images["n"] == n) & (images["seed"] == seed)].sort_values("position")["test_index"].to_numpy()


def complete_families(profile: str) -> list[str]:
    """The families whose adaptive evaluation the store of ``profile`` holds whole."""
    results, _, _ = _read_folder(store_dir(profile))
    marked = provenance(profile).get("complete_families")
    present = list(dict.fromkeys(results["family"]))
    return [f for f in present if marked is None or f in marked]


def load(profile: str) -> list[FamilyEvidence]:
    """The adaptive evidence of ``profile``'s complete families rebuilt from its store alone: worst cases,
    checks and per-image survivors judged exactly as :func:`genrob.adaptive.evaluate_family` judges the
    cache, from the rows it reads."""
    results, images, by_key = stored_tables(profile)
    evidence = []
    for family in complete_families(profile):
        rows = results[results["family"] == family].drop(columns="family")
        margin = rows[rows["attack"].isin(adaptive.COMPLETE_ADAPTIVE)]
        n, seed = (int(v) for v in (margin if len(margin) else rows)[["n", "seed"]].mode().iloc[0])
        config = adaptive.family_config(family, profile=profile, n=n, seed=seed,
                                        models=list(dict.fromkeys(rows["model"])))
        rows = adaptive.evaluated_rows(config, rows)
        images_of = {(r.model, r.attack, round(float(r.eps), 10)): r.images for r in rows.itertuples()}

        def outcome(model: str, attack: str, eps: float, n: int = n, seed: int = seed,
                    images_of: dict = images_of) -> dict[str, np.ndarray]:
            eps = round(float(eps), 10)
            return by_key[(model, attack, eps, n, seed, images_of.get((model, attack, eps), EVERY_IMAGE))]

        evidence.append(adaptive.judge_family(config, rows, images=subset_images(images, n=n, seed=seed),
                                              outcome=outcome))
    return evidence


def headline(profile: str) -> tuple[str, pd.DataFrame]:
    """The README's block for the store of ``profile`` (:func:`headline_markdown`, with its figure
    :func:`headline_figure`) and the verdicts behind it, computed from the store alone: what
    ``python -m genrob headline`` writes and what the README's test recomputes. A store whose run is still
    going shows its complete families only, and says which are still being computed."""
    found = load(profile)
    name = provenance(profile)["profile"]
    done, every = complete_families(profile), families()
    results, _, _ = stored_tables(profile)
    rows = results[results["family"].isin(done)]
    going = [f for f in every if f not in done]
    note = (f"The `{name}` store holds the complete evidence of {len(done)} of the {len(every)} families"
            + (f" (`{'`, `'.join(done)}`)" if done else "") + f"; `{'`, `'.join(going)}` "
            + ("is" if len(going) == 1 else "are") + f" still being computed by `python -m genrob evidence "
            f"--profile {name}`, which adds each here when it is complete.") if going else ""
    if not found:
        return note, adaptive.verdicts([])
    verdicts = adaptive.verdicts(found, exact=stored_exact(profile))
    dates = rows["date"].dropna()
    block = headline_markdown(verdicts, profile=name,
                              claims=paper_claims.claims(found, exact=stored_exact(profile)),
                              code_version=", ".join(sorted({str(v) for v in rows["code_version"]})),
                              date=str(dates.max()) if len(dates) else provenance(profile)["written"],
                              source=f"the evidence store `evidence/{name}/`")
    figure = (f"![Robust accuracy at l_inf eps 0.3, {name} profile: the paper's, ours under its attacks, ours in "
              f"the worst case]({headline_figure(name)})")
    return "\n\n".join(part for part in (note, block, figure) if part), verdicts


def headline_figure(profile: str) -> str:
    """Where the README's figure for the store of ``profile`` lies, relative to the repository."""
    return f"docs/headline-{get_profile(profile).name}.png"


def headline_markers(profile: str) -> tuple[str, str]:
    """The two lines between which the README holds the block of the store of ``profile``."""
    name = get_profile(profile).name
    return (f"<!-- {name} evidence: start (written by python -m genrob headline --profile {name}) -->",
            f"<!-- {name} evidence: end -->")


def headline_markdown(verdicts: pd.DataFrame, *, profile: str, claims: pd.DataFrame | None = None,
                      code_version: str, date: str, source: str = "the results table") -> str:
    """The headline table (:func:`genrob.adaptive.verdicts`) as Markdown: per model at l_inf eps 0.3,
    the paper's number, ours under its attacks and our worst case over every attack with its 95% interval,
    the exact robust accuracy where a solver gives it, and the ruling with any failed check that bears on it;
    then the counts of rulings, the claims' findings over the curve (:func:`genrob.claims.claims`,
    :func:`genrob.claims.curves`),
    and the provenance (profile, ``source``, code version, date) the README's test checks."""
    lines = [f"Robust accuracy at l_inf eps 0.3 (`{profile}` profile; n test images per model; generative "
             "models in bold). `paper`: the lowest the paper reports for the model under any of its attacks; "
             "`exact`: the true robust accuracy on the same images, solved where a model admits it (a bracket "
             "where the solver leaves images undecided); the last column rules on the paper's number by the 95% "
             "interval of the exact value where there is one, else of our worst case (see the adaptive chapter):",
             "",
             "| model | n | clean | paper | ours, paper's attacks | ours, worst case [95% interval] "
             "| exact | the paper's number |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |"]
    for row in verdicts.itertuples():
        name = f"**{row.model}**" if row.kind == "generative" else row.model
        paper = "-" if pd.isna(row.paper) else f"{row.paper:.2f}"
        ruling = adaptive.ruling_text(row.verdict, row.n_to_decide, getattr(row, "failed_checks", ""))
        lines.append(f"| {name} | {row.n} | {row.clean:.2f} | {paper} | {row.ours_paper_attacks:.2f} "
                     f"| {row.worst_case:.2f} [{row.worst_ci_low:.2f}, {row.worst_ci_high:.2f}] "
                     f"| {adaptive.exact_text(getattr(row, 'exact_low', None), getattr(row, 'exact_high', None))} "
                     f"| {ruling} |")
    judged = verdicts[verdicts["verdict"].map(adaptive.is_ruling)]
    lines += ["", f"Of the paper's {len(judged)} numbers here: {prose.counts(judged['verdict'])}."]
    if claims is not None and len(claims):
        curves = paper_claims.curves(claims)
        grids = "; ".join(f"{'l_inf' if norm == 'linf' else 'l_2'} eps "
                          + ", ".join(f"{e:g}" for e in sorted(claims.loc[claims['norm'] == norm, 'eps'].unique()))
                          for norm in ("linf", "l2") if norm in set(claims["norm"]))
        lines += [f"Of its {curves['claim'].nunique()} comparative claims, each judged in both norms at every eps "
                  f"({grids}) on the images both models saw (paired tests against a margin of "
                  f"{paper_claims.MARGIN:g}, Holm over each claim's eps; see the methods chapter): "
                  f"{paper_claims.counts(curves)}.", "", prose.markdown_table(paper_claims.table(curves))]
    lines += ["", f"Written by `python -m genrob headline --profile {profile}` from {source} "
                  f"(results of code version `{code_version}`, {date})."]
    return "\n".join(lines)


def replace_headline(text: str, block: str, *, profile: str) -> str:
    """``text`` (the README) with the lines between :func:`headline_markers` of ``profile`` replaced by
    ``block``."""
    start, end = headline_markers(profile)
    if text.count(start) != 1 or text.count(end) != 1 or text.index(start) > text.index(end):
        raise ValueError(f"the README needs one {start!r} line and, after it, one {end!r} line")
    before, rest = text.split(start)
    return before + start + "\n" + block.strip() + "\n" + end + rest.split(end, 1)[1]
