"""Verify an evidence store cell by cell, by recomputing it (as anyone can re-run a RobustBench entry).

A *cell* is one results row of the store: a model, an attack and an eps on its
evaluation subset. :func:`verify` recomputes cells chosen at random on some of
their images, with the current code in the cache it runs in (the command line
gives it an empty one), on the models the cells were computed on: the store's
weights, put into the cache first, or where the store keeps none, a model
trained again. It compares each image's outcome with the stored one:

- **exactly**, where the row was computed by this code version on this kind of
  machine (:func:`~genrob.environment.machine`: a CPU's name alone does not make
  a kind) and every image of the cell is recomputed. Attacks draw their random
  starts per batch, so a part of the images meets other random numbers, and
  another CPU or a GPU rounds differently: there only the share can agree;
- otherwise **paired, image by image**: the recomputed and the stored outcomes
  of the same images must not differ by McNemar's exact test at 5% (the images
  robust only as recomputed against those robust only as stored). Comparing the stored share with the recomputed
  share's Wilson interval instead would ignore the pairing and is lopsided at 0
  and 1: stored 0 of 100 against 2 of 100 recomputed would fail, the reverse pass.

A cell whose model or attack the current code configures differently (another
hash) is not the computation the store recorded: it disagrees, named as such.

Before any cell is recomputed, what the store publishes is checked as it stands:
every number of ``results.csv`` against what its outcome line gives
(:func:`published_numbers`), and the README's block for the store against what
the code writes from it (:func:`published_block`). The default number of images
per cell gives the paired comparison a power of at least :data:`POWER` to fail a
cell that overstates robustness by :data:`OVERSTATED` (:func:`images_for_power`).

Which images a row of the adaptive cascade met is not stored, only which it
broke; it certainly met those and the images that survived the whole worst case
at its eps (the cascade offers every attack each image that is still unbroken),
so a cascade cell is recomputed on those. Those images were chosen by the
stored model's earlier attacks (the survivors of everything read as robust), so
a cascade cell compares only on the same model: a model trained again (with
``retrain``, or where the store keeps no weights) is another model wherever
another CPU trains it, and of such a model only rows that met every image of
their subset are drawn.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from genrob import evidence
from genrob.paired import ALPHA, Paired
from genrob.attacks import attack_config_hash, make_attack
from genrob.data import MNIST, load_mnist
from genrob.environment import code_version, machine, progress, seed_everything, thread_count, torch_device
from genrob.evaluate import load_surrogate
from genrob.models import checkpoint_path, get_spec, load_model, model_names
from genrob.params import ParameterError
from genrob.profiles import get_profile
from genrob.results import EVERY_IMAGE, wilson_interval

#: How :func:`verify` compared a cell's recomputed outcomes with the stored ones.
EXACT, PAIRED = "every image the same", "no difference by McNemar's test at 5%"

#: What a default verification is sized to catch: a cell whose stored robust accuracy overstates the truth by
#: this much (that share of its images stored as robust, which an attack breaks), with at least this power.
OVERSTATED, POWER = 0.05, 0.8


def power_to_catch(images: int, *, overstated: float = OVERSTATED) -> float:
    """The chance that the paired comparison of ``images`` recomputed images fails a cell whose stored robust
    accuracy overstates the truth by ``overstated``: each image is robust only as stored with that
    probability, and none the other way (a faithful recomputation), and McNemar's exact test at
    :data:`~genrob.paired.ALPHA` must reject. (The exact comparison, on the machine kind that computed the
    cell, fails it at one differing image.)"""
    from scipy.stats import binom

    needed = next(k for k in range(1, images + 2) if k > images or Paired(images, 0, k).p_value < ALPHA)
    return float(binom.sf(needed - 1, images, overstated)) if needed <= images else 0.0


def images_for_power(*, overstated: float = OVERSTATED, power: float = POWER) -> int:
    """The fewest images per cell at which :func:`power_to_catch` reaches ``power``."""
    images = 1
    while power_to_catch(images, overstated=overstated) < power:
        images += 1
    return images


#: The default number of images recomputed per cell (:func:`images_for_power`).
DEFAULT_IMAGES = images_for_power()


@dataclass(frozen=True)
class Cell:
    """One stored row to recompute, and the images of its subset it is recomputed on."""

    model: str
    attack: str
    eps: float
    row: pd.Series
    test_index: np.ndarray  # the images recomputed, by their index in MNIST's test set
    clean_correct: np.ndarray  # stored, on those images
    fooled: np.ndarray  # stored, on those images


def chosen_cells(profile: str, *, cells: int, images: int | None, seed: int = 0,
                 cascade_models: Collection[str] | None = None) -> list[Cell]:
    """``cells`` rows of the store of ``profile`` drawn at random (``seed``) among those with an image to
    recompute (and where ``cascade_models`` is given, cascade rows of those models only), each with
    ``images`` of the images it met (all where ``None`` or more than it met) drawn at random."""
    if cells < 1:
        raise ParameterError(f"cells must be at least 1, got {cells}")
    if images is not None and images < 1:
        raise ParameterError(f"images must be at least 1, got {images}")
    results, subsets, outcomes = evidence.stored_tables(profile)
    survivors = {key: alive for family in evidence.load(profile) for key, alive in family.survivors.items()}
    rows = results.drop_duplicates(evidence.OUTCOME_KEY)
    if cascade_models is not None:
        rows = rows[(rows["images"] == EVERY_IMAGE) | rows["model"].isin(list(cascade_models))]
    rows = rows.reset_index(drop=True)
    rng = np.random.default_rng(seed)
    picked = []
    for position in rng.permutation(len(rows)):  # until ``cells`` are found with an image to recompute
        if len(picked) == cells:
            break
        row = rows.iloc[int(position)]
        n, row_seed, eps = int(row["n"]), int(row["seed"]), float(row["eps"])
        stored = outcomes[evidence.outcome_key(row)]
        subset = evidence.subset_images(subsets, n=n, seed=row_seed)
        met = np.ones(n, bool)
        if row["images"] != EVERY_IMAGE:  # a cascade row: what it broke, and what survived everything
            alive = survivors.get((row["model"], row["norm"], eps))
            met = stored["fooled"] | (alive.reindex(subset).fillna(False).to_numpy(bool) if alive is not None
                                      else np.zeros(n, bool))
        where = np.flatnonzero(met)
        if len(where) == 0:  # a cascade row at an eps where earlier attacks broke everything
            continue
        if images is not None and images < len(where):
            where = np.sort(rng.choice(where, size=images, replace=False))
        picked.append(Cell(model=row["model"], attack=row["attack"], eps=eps, row=row, test_index=subset[where],
                           clean_correct=stored["clean_correct"][where], fooled=stored["fooled"][where]))
    return picked


def published_numbers(profile: str) -> pd.DataFrame:
    """Every number of the store's ``results.csv`` that its outcome line determines, recomputed from that line:
    one row per results row and column that differs (empty where all agree). A row of the cascade ran on the
    images it ``attacked``; its robust count is those minus the ones it broke."""
    results, _, outcomes = evidence.stored_tables(profile)
    wrong = []
    for row in results.to_dict("records"):
        line = outcomes.get(evidence.outcome_key(row))
        if line is None:
            wrong.append({**_where(row), "column": "outcome line", "stored": "", "from outcomes": "missing"})
            continue
        clean, fooled, sizes = line["clean_correct"], line["fooled"], line["perturbation"]
        n = len(clean)
        cascade = row["images"] != EVERY_IMAGE
        attacked = int(row["attacked"]) if cascade else int(clean.sum())
        robust = attacked - int(fooled.sum()) if cascade else int((clean & ~fooled).sum())
        low, high = wilson_interval(robust, n) if 0 <= robust <= n else (np.nan, np.nan)
        found = {"n": n, "clean_correct": int(clean.sum()), "clean_accuracy": clean.sum() / n, "attacked": attacked,
                 "robust_correct": robust, "robust_accuracy": robust / n, "robust_ci_low": low, "robust_ci_high": high,
                 "median_perturbation": float(np.median(sizes[fooled])) if fooled.any() else np.nan}
        for column, value in found.items():
            stored = float(row[column])
            # the stored perturbation sizes keep 5 significant digits; counts and shares are exact
            tolerance = 1e-4 * abs(value) if column == "median_perturbation" else 1e-9
            same = (np.isnan(stored) and np.isnan(value)) or abs(stored - value) <= tolerance
            if not same:
                wrong.append({**_where(row), "column": column, "stored": stored, "from outcomes": value})
        if (fooled & ~clean).any():
            wrong.append({**_where(row), "column": "fooled", "stored": int((fooled & ~clean).sum()),
                          "from outcomes": "images fooled that were wrong before any attack"})
    return pd.DataFrame(wrong, columns=["model", "attack", "eps", "images", "column", "stored", "from outcomes"])


def _where(row: dict) -> dict:
    return {"model": row["model"], "attack": row["attack"], "eps": row["eps"], "images": row["images"]}


def published_block(profile: str, readme: str) -> str | None:
    """Where the README's block for the store of ``profile`` (its worst cases, rulings and claims) differs
    from what the code writes from that store now: a unified diff, empty where they agree; None where the
    README shows no block for that store."""
    import difflib

    start, end = evidence.headline_markers(profile)
    if start not in readme or end not in readme:
        return None
    shown = readme.split(start, 1)[1].split(end, 1)[0].strip()
    written = evidence.headline(profile)[0].strip()
    return "\n".join(difflib.unified_diff(shown.splitlines(), written.splitlines(), "README.md",
                                          f"written from evidence/{profile}/", lineterm=""))


def _recomputed(cell: Cell, profile: str, data: MNIST, device: torch.device) -> tuple[np.ndarray, np.ndarray]:
    """The cell's attack rerun on its images: per image, classified correctly, and fooled within eps."""
    model = load_model(cell.model, profile, data=data, device=device)
    attack = load_surrogate(make_attack(cell.attack, profile), device)
    images = data.test.take(cell.test_index)
    seed_everything(int(cell.row["seed"]))
    out = attack.run(model, images.x, images.y, [cell.eps], device=device, seed=int(cell.row["seed"]))
    return out.clean_correct, out.fooled[0]


def verify(profile: str, *, cells: int = 10, images: int | None = None, seed: int = 0, retrain: bool = False,
           data: MNIST | None = None, device: torch.device | str | None = None) -> pd.DataFrame:
    """Recompute ``cells`` random cells of the store of ``profile`` on ``images`` of their images each and
    compare them with the store (see the module's text): one row per cell, ``agrees`` True or False."""
    return pd.DataFrame(list(verified_cells(profile, cells=cells, images=images, seed=seed, retrain=retrain,
                                            data=data, device=device)))


def verified_cells(profile: str, *, cells: int = 10, images: int | None = None, seed: int = 0,
                   from_cell: int = 1, retrain: bool = False, data: MNIST | None = None,
                   device: torch.device | str | None = None) -> Iterator[dict]:
    """:func:`verify`'s report row by row, each as soon as its cell is recomputed (a verification of hours
    that is stopped keeps what it compared), from the ``from_cell``-th cell of the draw (1: all of them; a
    stopped verification goes on from the cell it was in, each cell being recomputed on its own).
    ``retrain``: every model trained again in the cache (which should then be empty), not taken from the
    store's weights; cascade rows are drawn only of models on the store's weights (see the module's text)."""
    if not 1 <= from_cell <= cells:
        raise ParameterError(f"from_cell must be between 1 and cells ({cells}), got {from_cell}")
    profile = get_profile(profile).name
    device = torch.device(device) if device is not None else torch_device()
    data = (data if data is not None else load_mnist()).to(get_profile(profile).torch_dtype)
    here, version = machine(device), code_version()
    if not retrain:
        evidence.restore_weights(profile)
    stored_weights = set() if retrain else set(evidence.training_seconds(profile))  # by checkpoint name
    on_stored_weights = [name for name in model_names() if checkpoint_path(name, profile).stem in stored_weights]
    chosen = chosen_cells(profile, cells=cells, images=images, seed=seed,
                          cascade_models=on_stored_weights)[from_cell - 1:]
    for cell in progress(chosen, desc="verify", unit="cell"):
        row = cell.row
        same_configuration = (row["model_config"] == get_spec(cell.model).config_hash(profile)
                              and row["attack_config"] == attack_config_hash(make_attack(cell.attack, profile)))
        stored_robust = cell.clean_correct & ~cell.fooled
        record = {"model": cell.model, "attack": cell.attack, "eps": cell.eps, "ran_on": row["images"],
                  "images": len(cell.test_index),
                  "stored": stored_robust.mean() if len(stored_robust) else np.nan,
                  "stored_on": f"{row['machine']}, code {row['code_version']}" if pd.notna(row["machine"])
                  else f"unknown machine, code {row['code_version']}",
                  "weights": "the store's" if cell.model in on_stored_weights else "trained again"}
        if not same_configuration:
            yield {**record, "recomputed": np.nan, "interval": "", "differ": np.nan, "p_value": np.nan,
                   "compared": "", "agrees": False,
                   "why": "the current code configures this model or attack differently"}
            continue
        clean, fooled = _recomputed(cell, profile, data, device)
        robust = clean & ~fooled
        kept, n = int(robust.sum()), len(robust)
        low, high = wilson_interval(kept, n)
        pair = recomputed_against_stored(robust, stored_robust)
        # the same random numbers only for the same images in the same batches, the same rounding only
        # with the same code, machine kind and thread count
        exact = (row["images"] == EVERY_IMAGE and n == int(row["n"]) and row["machine"] == here
                 and row["code_version"] == version and pd.notna(row["threads"])
                 and int(row["threads"]) == thread_count())
        if exact:
            agrees = bool(np.array_equal(clean, cell.clean_correct) and np.array_equal(fooled, cell.fooled))
            why = "" if agrees else f"{pair.model_only + pair.than_only} of {n} images differ"
        else:
            agrees = pair.p_value >= ALPHA
            why = "" if agrees else (f"{pair.model_only + pair.than_only} of {n} images differ, {pair.model_only} "
                                     f"robust only as recomputed and {pair.than_only} only as stored (McNemar "
                                     f"p = {pair.p_value:.2g})")
        yield {**record, "recomputed": kept / n, "interval": f"[{low:.2f}, {high:.2f}]",
               "differ": pair.model_only + pair.than_only, "p_value": pair.p_value,
               "compared": EXACT if exact else PAIRED, "agrees": agrees, "why": why}


def recomputed_against_stored(recomputed: np.ndarray, stored: np.ndarray) -> Paired:
    """Per image robust as recomputed and as stored, paired (``model_only``: robust only as recomputed);
    they agree where ``p_value`` is at least :data:`~genrob.paired.ALPHA`."""
    return Paired(len(recomputed), model_only=int((recomputed & ~stored).sum()),
                  than_only=int((stored & ~recomputed).sum()), both=int((recomputed & stored).sum()))


def cell_line(row: dict) -> str:
    """One row of :func:`verify`'s report in a line: the cell, the shares compared, and the verdict."""
    verdict = "agrees" if row["agrees"] else f"DISAGREES: {row['why']}"
    return (f"{row['model']} x {row['attack']} at eps {row['eps']:g} on {row['images']} images: stored "
            f"{row['stored']:.2f} ({row['stored_on']}), recomputed {row['recomputed']:.2f} {row['interval']} "
            f"(weights {row['weights']}; {row['differ']:g} images differ): {verdict}")


def disagreements(report: pd.DataFrame) -> str:
    """The cells of a :func:`verify` report that disagree, one line each (empty where none does)."""
    return "\n".join(f"- {r.model} x {r.attack} at eps {r.eps:g} ({r.images} images): {r.why}"
                     for r in report[~report["agrees"]].itertuples())
