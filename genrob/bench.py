"""Benchmark: what evaluating each model costs on this machine, against what its arithmetic demands.

    python -m genrob.bench [--profile default] [--models cnn cnn_vae ...] [--batch 500]

For every model: forward FLOPs per image (torch's flop counter); images per
second for a forward pass and for a forward pass with the input gradient, at
the sweeps' batch size; the GFLOP/s that achieves beside this machine's own
matrix-multiply GFLOP/s measured in the same run; seconds per image of PGD-40;
and each model's PGD time relative to the CNN beside its FLOP ratio. The table
is written to ``<cache>/results/bench-<profile>.csv``; the thread count is fixed
and printed. Beside it, from the results table, the seconds per image each of
the paper's ten attacks took in the sweeps (the book's Table 3,
:func:`genrob.summary.runtime_table`), in ``bench-<profile>-attacks.csv``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Sequence

import pandas as pd
import torch

from genrob.attacks import make_attack
from genrob.cost import flops_per_image, seconds_per_image
from genrob.data import evaluation_subset, load_mnist
from genrob.evaluate import DEFAULT_BATCH_SIZE
from genrob.models import load_model, model_names
from genrob.models.registry import chapter_models, families
from genrob.models.base import model_device
from genrob.profiles import get_profile
from genrob.results import per_image_dir
from genrob.runtime import report, seed_everything, thread_count
from genrob.summary import runtime_table, study_results

REFERENCE = "cnn"
PGD_STEPS = 40


def matmul_gflops(size: int = 1024, repeats: int = 5) -> float:
    """This machine's float32 matrix-multiply rate on the current thread count (best of ``repeats``)."""
    a, b = torch.randn(size, size), torch.randn(size, size)
    a @ b
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - started)
    return 2 * size**3 / best / 1e9


def pgd_seconds_per_image(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, *, repeats: int = 3) -> float:
    """Wall time of PGD-40 l_inf at eps 0.3 per image (every image attacked, the paper's settings),
    best of ``repeats`` runs (a first run pays for memory allocation: the CNN's varied by a third)."""
    attack = make_attack("pgd_linf", "default")
    device = model_device(model)
    x, y = x.to(device), y.to(device)
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        attack.generate(model, x, y, eps=0.3, device=device)
        best = min(best, time.perf_counter() - started)
    return best / len(x)


def pgd_image_count(gradient_seconds: float, *, budget_seconds: float = 20.0, least: int = 5,
                    most: int = 100) -> int:
    """How many images PGD-40 is timed on: what its 40 gradient steps fit in ``budget_seconds``."""
    return int(min(most, max(least, budget_seconds // (PGD_STEPS * gradient_seconds))))


def sweep_batch(name: str, profile: str, batch: int) -> int:
    """The largest batch a sweep of model ``name`` runs at: the n of the chapters that attack it
    (a counterpart is attacked in another family's chapter too), at most ``batch``."""
    chosen = get_profile(profile)
    return min(batch, max(chosen.n_eval_for(family) for family in families() if name in chapter_models(family)))


def benchmark(models: Sequence[str], *, profile: str = "default", batch: int = DEFAULT_BATCH_SIZE,
              pgd_images: int | None = None) -> pd.DataFrame:
    """The benchmark table, one row per model (trains what is not cached).

    ``pgd_images``: images PGD-40 is timed on (default: :func:`pgd_image_count`).
    """
    seed_everything(0)
    data = load_mnist()
    images = evaluation_subset(data.test, max(batch, pgd_images or 0), seed=0)
    peak = matmul_gflops()
    rows = []
    for name in models:
        model = load_model(name, profile, data=data)
        x = images.x[:sweep_batch(name, profile, batch)]
        flops = flops_per_image(model, x)
        forward = seconds_per_image(model, x)
        with_gradient = seconds_per_image(model, x, gradient=True)
        timed = pgd_images or pgd_image_count(with_gradient, most=len(x))
        rows.append({"model": name, "batch": len(x), "mflops_per_image": flops / 1e6,
                     "forward_images_per_s": 1 / forward, "gradient_images_per_s": 1 / with_gradient,
                     "forward_gflops_per_s": flops / forward / 1e9, "matmul_gflops_per_s": peak,
                     "pgd_images": timed,
                     "pgd40_s_per_image": pgd_seconds_per_image(model, images.x[:timed], images.y[:timed])})
        report(f"bench {name}: {rows[-1]['forward_images_per_s']:.1f} images/s forward, "
               f"{rows[-1]['pgd40_s_per_image']:.3f} s per image of PGD-40")
    table = pd.DataFrame(rows).set_index("model")
    if REFERENCE in table.index:
        table["flop_ratio_to_cnn"] = table["mflops_per_image"] / table.loc[REFERENCE, "mflops_per_image"]
        table["pgd_ratio_to_cnn"] = table["pgd40_s_per_image"] / table.loc[REFERENCE, "pgd40_s_per_image"]
    table["threads"] = thread_count()
    return table


def bench_path(profile: str) -> Path:
    """Where the benchmark table of ``profile`` is written (beside the results table)."""
    name = get_profile(profile).name
    return per_image_dir(name).parent / f"bench-{name}.csv"


def benchmark_table(profile: str, *, models: Sequence[str] | None = None, refresh: bool = False,
                    batch: int = DEFAULT_BATCH_SIZE) -> pd.DataFrame:
    """The benchmark table of ``profile``: read from its file, or measured (and written) when the file is
    missing, lacks one of ``models`` (default: every registered one), or ``refresh`` asks for it."""
    models = list(models or model_names())
    path = bench_path(profile)
    if path.exists() and not refresh:
        table = pd.read_csv(path, index_col="model")
        if set(models) <= set(table.index):
            return table.loc[models]
    table = benchmark(models, profile=profile, batch=batch)
    path.parent.mkdir(parents=True, exist_ok=True)
    table.round(4).to_csv(path)
    return table


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m genrob.bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--profile", default="default")
    parser.add_argument("--models", nargs="+", default=None, help="default: every registered model")
    parser.add_argument("--batch", type=int, default=DEFAULT_BATCH_SIZE)
    args = parser.parse_args(argv)
    models = args.models or model_names()
    unknown = [m for m in models if m not in model_names()]
    if unknown:
        print(f"error: unknown models {unknown}; known: {model_names()}", file=sys.stderr)
        return 2
    print(f"threads: {thread_count()}, batch {args.batch}, profile {get_profile(args.profile).name}", flush=True)
    table = benchmark_table(args.profile, models=models, refresh=True, batch=args.batch)
    path = bench_path(args.profile)
    print(table.round(3).to_string())
    print(f"written to {path}")
    # The paper's ten attacks as the sweeps timed them at the profile's n (the book's Table 3).
    swept = study_results(args.profile)
    if len(swept):
        attacks = runtime_table(swept, mflops=table["mflops_per_image"])
        attacks_path = path.with_name(f"bench-{get_profile(args.profile).name}-attacks.csv")
        attacks.round(5).to_csv(attacks_path)
        print("seconds per image of each of the paper's attacks, from the sweeps:")
        print(attacks.round(3).to_string())
        print(f"written to {attacks_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
