"""How far from the truth: each model's exact robust accuracy where it admits one, image by image, stored.

Every robustness number an attack gives is an upper bound: the images it failed
to break. For logistic regression, Gaussian naive Bayes, the Ising MRF and the
CVAE's prototype rule the smallest margin over the eps ball is computed instead
(:mod:`genrob.models.exact`), so each test image is one of

- ``R``, *certified robust*: no point of the ball is misclassified (the
  solver's lower bound on the margin exceeds :data:`ROUNDING`);
- ``B``, *exactly breakable*: the solver's point lies inside the ball, and the
  model's own forward pass, in the precision it is evaluated in, misclassifies it;
- ``U``, *undecided*: neither (a bound that does not close, a solver stopped at
  its time limit, or a margin within :data:`ROUNDING` of zero whose point the
  forward pass still classifies correctly);
- ``-``, misclassified before any perturbation.

The boundary rule is the attacks': a pixel moves as their clipping moves it, a
flip across the threshold costs what :func:`genrob.contract.flip_targets` says,
a tie between two logits goes as the model's argmax sends it. The share of
``R`` is a lower bound on the robust accuracy, the share not ``B`` an upper one;
where no image is ``U`` they meet: the exact robust accuracy.

The rows live in their own table beside the results (:func:`genrob.results.exact_path`),
one per (model, norm, eps), written as each finishes, so a run stopped and
started again computes only what is missing.
"""

from __future__ import annotations

import datetime
import time
from typing import Iterable

import numpy as np
import pandas as pd
import torch

from genrob.attacks.base import TOLERANCE, perturbation_norm
from genrob.contract import predict
from genrob.data import MNIST, evaluation_subset, load_mnist
from genrob.environment import (
    atomic_write, code_version, machine, progress, thread_count, torch_device, use_precision,
)
from genrob.models import get_spec, load_model
from genrob.models.exact import admits, solve, solver_of
from genrob.profiles import get_profile
from genrob.results import exact_path, wilson_interval

ROBUST, BREAKABLE, UNDECIDED, MISCLASSIFIED = "R", "B", "U", "-"
#: Margins (logit differences) within this of zero are not certified: the solvers compute in float64, the
#: models may evaluate in float32, whose rounding of logits of a few hundred is about 1e-5.
ROUNDING = 1e-4
#: Seconds one solver call (one image, one other class) may take before the image is left undecided.
TIME_LIMIT_S = 20.0
KEY = ["profile", "model", "model_config", "norm", "eps", "n", "seed"]
COLUMNS = KEY + ["clean_correct", "robust", "breakable", "undecided", "lower_accuracy", "upper_accuracy",
                 "lower_ci_low", "upper_ci_high", "time_limit_s", "time_limit_hits", "solver_seconds",
                 "statuses", "code_version", "machine", "threads", "date"]


def statuses(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, *, eps: float, norm: str,
             time_limit: float = TIME_LIMIT_S) -> tuple[np.ndarray, np.ndarray]:
    """Per image of ``x``: its status (``R``, ``B``, ``U`` or ``-``, see the module) and whether a solver hit
    its time limit on it."""
    correct = (predict(model, x) == y).numpy()
    status = np.full(len(y), MISCLASSIFIED)
    hits = np.zeros(len(y), bool)
    index = np.flatnonzero(correct)
    if not len(index):
        return status, hits
    xs, ys = x[index], y[index]
    answer = solve(model, xs, ys, eps=eps, norm=norm, time_limit=time_limit, certify_above=ROUNDING)
    inside = (perturbation_norm(answer.adversarial - xs, norm) <= eps * (1 + TOLERANCE) + TOLERANCE).numpy()
    inside &= ((answer.adversarial >= 0) & (answer.adversarial <= 1)).flatten(1).all(1).numpy()
    wrong = (predict(model, answer.adversarial) != ys).numpy()
    status[index] = np.where(inside & wrong, BREAKABLE, np.where(answer.lower > ROUNDING, ROBUST, UNDECIDED))
    hits[index] = answer.unfinished
    return status, hits


def read_exact(profile: str) -> pd.DataFrame:
    """The exact table of ``profile`` (empty, with its columns, if none yet)."""
    path = exact_path(profile)
    if not path.exists():
        return pd.DataFrame(columns=COLUMNS)
    return pd.read_csv(path, dtype={"model_config": str, "statuses": str, "code_version": str})


def _key(row: dict) -> tuple:
    return tuple(round(float(row[k]), 10) if k == "eps" else str(row[k]) for k in KEY)


def _append(profile: str, row: dict) -> None:
    table = read_exact(profile)
    keep = [_key(r) != _key(row) for r in table.to_dict("records")]
    merged = pd.concat([table[keep], pd.DataFrame([row], columns=COLUMNS)], ignore_index=True) if len(table) \
        else pd.DataFrame([row], columns=COLUMNS)
    atomic_write(exact_path(profile), lambda tmp: merged.to_csv(tmp, index=False))


def row_of(base: dict, status: np.ndarray, hits: np.ndarray, seconds: float, *, time_limit: float,
           device: torch.device) -> dict:
    """A row of the exact table: the counts of each status, the bracket's ends with their 95% Wilson
    intervals, what the solver cost, and the statuses themselves, one character per image."""
    n = len(status)
    robust, breakable = int((status == ROBUST).sum()), int((status == BREAKABLE).sum())
    clean = int((status != MISCLASSIFIED).sum())
    upper = clean - breakable
    return {**base, "clean_correct": clean, "robust": robust, "breakable": breakable,
            "undecided": int((status == UNDECIDED).sum()), "lower_accuracy": robust / n,
            "upper_accuracy": upper / n, "lower_ci_low": wilson_interval(robust, n)[0],
            "upper_ci_high": wilson_interval(upper, n)[1], "time_limit_s": time_limit,
            "time_limit_hits": int(hits.sum()), "solver_seconds": round(seconds, 3), "statuses": "".join(status),
            "code_version": code_version(), "machine": machine(device), "threads": thread_count(),
            "date": datetime.date.today().isoformat()}


def coverage(models: Iterable[str], profile: str) -> pd.DataFrame:
    """Per model (by code name), at l_inf and at l_2: how its exact robust accuracy is solved, or why it is not
    (:func:`genrob.models.exact.solver_of`; an untrained model is built to ask)."""
    built = {name: get_spec(name).build_for(profile) for name in models}
    return pd.DataFrame({norm: [solver_of(model, norm) for model in built.values()] for norm in ("linf", "l2")},
                        index=pd.Index(list(built), name="model"))


def admitting(models: Iterable[str], profile: str) -> list[str]:
    """Those of ``models`` whose margin over the ball a solver computes (an untrained one is built to ask)."""
    return [name for name in models if admits(get_spec(name).build_for(profile))]


class NotTheStoresModel(ValueError):
    """A model classifies the evaluation images otherwise than the store says: its exact rows would describe
    another model than the attacks' (weights trained again on another CPU, say)."""


def run(profile: str, *, models: Iterable[str], n: int, seed: int = 0, linf_eps: Iterable[float] = (),
        l2_eps: Iterable[float] = (), time_limit: float = TIME_LIMIT_S, data: MNIST | None = None,
        clean_correct: dict[str, str] | None = None) -> pd.DataFrame:
    """The exact rows of ``models`` (those :func:`admitting` a solver; the others are skipped) on the evaluation
    subset of ``n`` images drawn with ``seed``, at every eps of both grids, computing only the rows the
    table lacks. Returns the table's rows for what was asked.

    ``clean_correct`` (per model, ``0``/``1`` per image, as the evidence store's outcome lines say): a model
    that classifies the images otherwise is refused with :class:`NotTheStoresModel` before any solving."""
    chosen = get_profile(profile)
    device = torch.device("cpu")  # the solvers are HiGHS and closed forms, on the CPU
    use_precision(chosen.torch_dtype)
    data = (data if data is not None else load_mnist()).to(chosen.torch_dtype)
    subset = evaluation_subset(data.test, n, seed=seed)
    wanted = []
    for name in admitting(models, profile):
        spec = get_spec(name)
        model, untrained = None, spec.build_for(profile)
        for norm, grid in (("linf", tuple(linf_eps)), ("l2", tuple(l2_eps))):
            if not admits(untrained, norm):
                continue
            for eps in grid:
                base = {"profile": chosen.name, "model": name, "model_config": spec.config_hash(chosen),
                        "norm": norm, "eps": float(eps), "n": n, "seed": seed}
                done = {_key(r) for r in read_exact(profile).to_dict("records")}
                if _key(base) in done:
                    wanted.append(_key(base))
                    continue
                if model is None:
                    model = load_model(name, chosen, data=data, device=torch_device()).cpu().eval()
                    expected = (clean_correct or {}).get(name)
                    found = "".join("1" if c else "0" for c in (predict(model, subset.x) == subset.y).tolist())
                    if expected is not None and expected != found:
                        raise NotTheStoresModel(
                            f"{name} classifies {sum(a != b for a, b in zip(expected, found))} of the {n} images "
                            "otherwise than the store's outcome lines: its weights are not the store's (trained "
                            "again elsewhere?), so its exact rows would describe another model")
                wanted.append(_key(base))
                started = time.perf_counter()
                status, hits = np.full(n, MISCLASSIFIED), np.zeros(n, bool)
                with progress(total=n, desc=f"{name} exact {norm} {eps:g}", unit="img") as bar:
                    for start in range(0, n, 50):  # in pieces, so that the bar moves
                        part = slice(start, min(start + 50, n))
                        status[part], hits[part] = statuses(model, subset.x[part], subset.y[part], eps=float(eps),
                                                            norm=norm, time_limit=time_limit)
                        bar.update(part.stop - part.start)
                _append(profile, row_of(base, status, hits, time.perf_counter() - started,
                                        time_limit=time_limit, device=device))
    table = read_exact(profile)
    return table[[_key(r) in set(wanted) for r in table.to_dict("records")]].reset_index(drop=True)


def survivor_ends(survivors: dict, exact: pd.DataFrame | None) -> dict:
    """Per (model, norm, eps) of ``survivors`` (per-image survival under every attack, Series indexed by test
    image, in the order of the evaluation subset): the bracket of each image's robustness, a pair of Series,
    (certified robust, neither shown breakable nor broken by an attack). Where the exact table holds the key
    on the same images with nothing undecided, both are the exact robustness; where it holds no row, both
    are the attacks' survivors (an upper bound that no verifier tightened)."""
    rows = {} if exact is None else {(r.model, r.norm, round(float(r.eps), 10)): r.statuses
                                     for r in exact.itertuples()}
    ends = {}
    for (model, norm, eps), alive in survivors.items():
        status = rows.get((model, norm, round(float(eps), 10)))
        if status is None or len(status) != len(alive):
            ends[(model, norm, eps)] = (alive, alive)
            continue
        status = np.array(list(status))
        certified = pd.Series(status == ROBUST, index=alive.index)
        ends[(model, norm, eps)] = (certified, alive & (status != BREAKABLE))
    return ends


def bracket(evidence: Iterable, exact: pd.DataFrame) -> pd.DataFrame:
    """Per model, norm and eps with an exact row and a worst case on the same images: the bracket of its
    robust accuracy, [certified, not breakable] from the solver (one value where nothing is undecided)
    beside the attacks' worst case, the images the attacks missed (exactly breakable, yet they survived
    every attack; ``missed_images``: their test-set indices) and any image an attack broke that the solver
    certified robust (none may exist: each would be an attack's adversarial the solver's boundary rule calls
    robust). ``attacked_ci_low`` is the
    worst case's 95% Wilson interval's lower end (an exact value below it: the attacks fall short by more than
    their interval), ``strongest_attack`` the single attack that came closest, with its ``strongest_accuracy``.

    ``evidence`` holds :class:`genrob.adaptive.FamilyEvidence`; its survivors are in the order of the
    evaluation subset, as the statuses are."""
    evidence = list(evidence)
    survivors = {(model, norm, round(float(eps), 10)): alive
                 for family in evidence for (model, norm, eps), alive in family.survivors.items()}
    runs = pd.concat([family.results for family in evidence if len(family.results)], ignore_index=True) \
        if any(len(family.results) for family in evidence) else pd.DataFrame(columns=["model", "norm", "eps", "n"])
    rows = []
    for row in exact.itertuples():
        alive = survivors.get((row.model, row.norm, round(float(row.eps), 10)))
        status = np.array(list(row.statuses))
        if alive is None or len(alive) != len(status):
            continue
        images = alive.index.to_numpy() if hasattr(alive, "index") else np.arange(len(alive))
        alive = np.asarray(alive, dtype=bool)
        same = runs[(runs["model"] == row.model) & (runs["norm"] == row.norm)
                    & np.isclose(runs["eps"].astype(float), float(row.eps)) & (runs["n"] == len(status))]
        strongest = same.loc[same["robust_accuracy"].idxmin()] if len(same) else None
        rows.append({"model": row.model, "norm": row.norm, "eps": float(row.eps), "n": len(status),
                     "lower": row.lower_accuracy, "upper": row.upper_accuracy, "exact": row.undecided == 0,
                     "undecided": int(row.undecided), "attacked": float(alive.mean()),
                     "missed": int(((status == BREAKABLE) & alive).sum()),
                     "missed_images": images[(status == BREAKABLE) & alive].tolist(),
                     "contradicted": int(((status == ROBUST) & ~alive).sum()),
                     "solver_seconds": float(row.solver_seconds), "time_limit_hits": int(row.time_limit_hits),
                     "attacked_ci_low": wilson_interval(int(alive.sum()), len(alive))[0],
                     "strongest_attack": None if strongest is None else strongest["attack"],
                     "strongest_accuracy": np.nan if strongest is None else float(strongest["robust_accuracy"])})
    return pd.DataFrame(rows, columns=["model", "norm", "eps", "n", "lower", "upper", "exact", "undecided",
                                       "attacked", "missed", "missed_images", "contradicted", "solver_seconds",
                                       "time_limit_hits", "attacked_ci_low", "strongest_attack",
                                       "strongest_accuracy"])
