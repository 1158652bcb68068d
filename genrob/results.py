"""The tidy results table: one row per (model, attack, eps), written atomically.

Each profile has its own table, ``<cache>/results/<profile>.csv``. A row is
identified by :data:`KEY`; a sweep skips every key already in the table, so a
sweep that was killed resumes where it stopped and ends with the same table.
Per-image outcomes live beside it (``<profile>/``), one ``.npz`` per attack run,
so the worst case over attacks can be taken image by image.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import math
from pathlib import Path
from typing import Callable, Iterable

import numpy as np
import pandas as pd

from genrob.environment import atomic_write, cache_dir, refuse_computing
from genrob.profiles import Profile, get_profile

COLUMNS: tuple[str, ...] = (
    "profile", "model", "model_config", "kind", "attack", "attack_config", "norm", "eps",
    "n", "seed", "images", "attacked", "clean_correct", "clean_accuracy", "robust_correct", "robust_accuracy",
    "robust_ci_low", "robust_ci_high", "median_perturbation", "forward_evals", "gradient_evals",
    "wall_time_s", "code_version", "machine", "threads", "date",
)
#: Where and when a row was computed (:func:`genrob.environment.machine`, threads, ISO date): a row written
#: before they were recorded reads them as unknown (empty).
PROVENANCE: tuple[str, ...] = ("machine", "threads", "date")
#: ``images`` of a row whose attack ran on every correctly classified image of its n. A row of the adaptive
#: evaluation's cascade ran on the images no earlier attack broke: its ``images`` names them
#: (``cascade-<hash>``), ``attacked`` counts them, and its robust accuracy is what survived this attack
#: and every one before it.
EVERY_IMAGE = "all"

#: Columns read as text, whatever their values look like.
TEXT_COLUMNS = {"model_config": str, "attack_config": str, "code_version": str, "images": str, "machine": str,
                "date": str}


#: What identifies a row: the same key means the same computation.
KEY: tuple[str, ...] = ("profile", "model", "model_config", "attack", "attack_config", "n", "seed", "images", "eps")


def wilson_interval(successes: int, n: int, *, z: float = 1.959964) -> tuple[float, float]:
    """95% Wilson score interval for a binomial proportion."""
    if n == 0:
        return (math.nan, math.nan)
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return (max(0.0, centre - half), min(1.0, centre + half))


def share_text(kept: int, n: int) -> str:
    """``0.43 [0.36, 0.50]``: a share of ``n`` images, as every table and sentence of the book writes it,
    with its 95% Wilson interval."""
    return interval_text(kept / n, *wilson_interval(kept, n))


def interval_text(value: float, low: float, high: float) -> str:
    """``0.43 [0.36, 0.50]``: an estimate and its interval, as the book writes them."""
    return f"{value:.2f} [{low:.2f}, {high:.2f}]"


def fraction_text(accuracy: float, n: int) -> str:
    """:func:`share_text` for a share given as a fraction of ``n`` images (a results row's accuracy)."""
    return share_text(round(accuracy * n), int(n))


def results_path(profile: Profile | str) -> Path:
    return cache_dir() / "results" / f"{get_profile(profile).name}.csv"


def per_image_dir(profile: Profile | str) -> Path:
    return cache_dir() / "results" / get_profile(profile).name


def attack_parts_dir(profile: Profile | str) -> Path:
    """Where the finished parts of the attack runs still going are kept (:data:`Profile.attack_part_images`)."""
    return cache_dir() / "parts" / get_profile(profile).name


def bench_path(profile: Profile | str) -> Path:
    """Where the benchmark table of ``profile`` is written (beside the results table; :mod:`genrob.cost`)."""
    name = get_profile(profile).name
    return cache_dir() / "results" / f"bench-{name}.csv"


def exact_path(profile: Profile | str) -> Path:
    """Where the exact table of ``profile`` is written (beside the results table; :mod:`genrob.exactness`)."""
    return cache_dir() / "results" / f"exact-{get_profile(profile).name}.csv"


def read_results(profile: Profile | str) -> pd.DataFrame:
    """The whole results table of ``profile`` (empty, with its columns, if none yet)."""
    path = results_path(profile)
    if not path.exists():
        return pd.DataFrame(columns=list(COLUMNS))
    table = pd.read_csv(path, dtype=TEXT_COLUMNS)
    return with_every_column(table)


def with_every_column(table: pd.DataFrame) -> pd.DataFrame:
    """``table`` with the columns of rows written before they existed: ``images`` as :data:`EVERY_IMAGE`
    (every row ran on every image before the cascade), :data:`PROVENANCE` as unknown."""
    table = table.fillna({"images": EVERY_IMAGE}) if "images" in table else table.assign(images=EVERY_IMAGE)
    for column in PROVENANCE:
        if column not in table:
            table[column] = pd.NA
    return table


def row_key(row: dict) -> tuple:
    return tuple(round(float(row[k]), 10) if k == "eps" else str(row[k]) for k in KEY)


def existing_keys(table: pd.DataFrame) -> set[tuple]:
    return {row_key(r) for r in table.to_dict("records")}


@contextlib.contextmanager
def _table_lock(path: Path):
    """Hold an exclusive lock on ``path``'s lock file: sweeps running side by side never lose a row."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(f".{path.name}.lock"), "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def append_rows(profile: Profile | str, rows: Iterable[dict]) -> None:
    """Add rows to the table, replacing any with the same key; the file is swapped whole."""
    rows = list(rows)
    if not rows:
        return
    path = results_path(profile)
    with _table_lock(path):  # read, merge and replace as one step
        table = read_results(profile)
        new = pd.DataFrame(rows, columns=list(COLUMNS))
        keys = {row_key(r) for r in rows}
        keep = [row_key(r) not in keys for r in table.to_dict("records")]
        merged = pd.concat([table[keep], new], ignore_index=True) if len(table) else new
        atomic_write(path, lambda tmp: merged.to_csv(tmp, index=False))


def save_per_image(path: Path, **arrays: np.ndarray) -> None:
    """Write one attack run's per-image arrays atomically."""
    def write(tmp: Path) -> None:
        with open(tmp, "wb") as handle:
            np.savez_compressed(handle, **arrays)

    atomic_write(path, write)


def load_per_image(path: Path) -> dict[str, np.ndarray] | None:
    if not path.exists():
        return None
    with np.load(path) as archive:
        return {k: archive[k] for k in archive.files}


def fingerprint(*parts: object) -> str:
    """A short sha256 of tensors, arrays, modules (their weights and buffers) and plain values.

    Two computations with the same fingerprint had the same inputs, so one's result
    can stand for the other's (see :func:`memoised`).
    """
    import torch

    digest = hashlib.sha256()
    for part in parts:
        if isinstance(part, torch.nn.Module):
            digest.update(type(part).__qualname__.encode())
            for name, value in part.state_dict().items():
                digest.update(name.encode())
                digest.update(value.detach().cpu().contiguous().numpy().tobytes())
        elif isinstance(part, torch.Tensor):
            digest.update(part.detach().cpu().contiguous().numpy().tobytes())
        elif isinstance(part, np.ndarray):
            digest.update(np.ascontiguousarray(part).tobytes())
        else:
            digest.update(json.dumps(part, sort_keys=True, default=str).encode())
        digest.update(b"|")
    return digest.hexdigest()[:16]


def memoised(kind: str, key: str, compute: Callable[[], dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """``compute()``'s arrays, kept under the cache's ``memo/kind/key``: a rerun of a chapter with
    nothing changed reads them instead of recomputing (clean predictions, example adversarials)."""
    path = cache_dir() / "memo" / kind / f"{key}.npz"
    cached = load_per_image(path)
    if cached is not None:
        return cached
    refuse_computing(f"the {kind.replace('_', ' ')} {key}")
    arrays = compute()
    save_per_image(path, **arrays)
    return arrays
