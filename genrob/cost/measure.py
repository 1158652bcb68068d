"""What evaluating each model costs on this machine, against what its arithmetic demands.

Forward FLOPs per image (torch's flop counter); images per second for a forward pass
and for one with the input gradient of the cross-entropy (what gradient attacks
differentiate), at the sweeps' batch size, and the ratio of the two times against the
Gaussian CNN-VAE's (subnormal floats had made the binary CNN-VAE's five times the
Gaussian's, issue 51); the GFLOP/s that achieves beside this machine's own
matrix-multiply rate measured in the same run; seconds per image of PGD-40; and each
model's PGD time relative to the reference CNN's beside its FLOP ratio. ``python -m
genrob bench`` writes the table to ``<cache>/results/bench-<profile>.csv`` (the thread
count is fixed and recorded).
"""

from __future__ import annotations

import time
from typing import Sequence

import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from genrob.attacks import make_attack
from genrob.contract import model_device
from genrob.data import evaluation_subset, load_mnist
from genrob.environment import refuse_computing, report, seed_everything, thread_count, use_precision
from genrob.evaluate import DEFAULT_BATCH_SIZE
from genrob.models import get_spec, load_model, model_names
from genrob.models.registry import chapter_models, families
from genrob.profiles import get_profile
from genrob.results import bench_path

#: Every model's cost is also given relative to this one's (the paper's Table 3 compares with the CNN).
REFERENCE = "cnn"
#: Every model's gradient over forward time is also given relative to this one's: the three CNN-VAEs share
#: its decoder and FLOPs, so theirs should be about the same.
GRADIENT_REFERENCE = "cnn_vae"
PGD_STEPS = 40


def flops_per_image(model: nn.Module, x: torch.Tensor) -> float:
    """Floating-point operations of one forward pass, per image (torch's flop counter)."""
    model.eval()
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(x.to(model_device(model)))
    return counter.get_total_flops() / len(x)


def _seconds(run, repeats: int) -> float:
    run()  # warm-up: first calls allocate
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - started)
    return best


def seconds_per_image(model: nn.Module, x: torch.Tensor, y: torch.Tensor | None = None, *, gradient: bool = False,
                      repeats: int = 3) -> float:
    """Best-of-``repeats`` wall time of a forward pass, per image; with ``gradient``, of a forward pass and the
    input gradient of the cross-entropy at labels ``y`` (of the log-sum-exp of the logits where none are given)."""
    model.eval()
    x = x.to(model_device(model))
    y = y.to(model_device(model)) if y is not None else None

    def forward():
        with torch.no_grad():
            model(x)

    def forward_and_gradient():
        batch = x.clone().requires_grad_(True)
        logits = model(batch)
        loss = F.cross_entropy(logits, y, reduction="sum") if y is not None else logits.logsumexp(1).sum()
        torch.autograd.grad(loss, batch)

    return _seconds(forward_and_gradient if gradient else forward, repeats) / len(x)


def forward_cost(models: dict[str, nn.Module], x: torch.Tensor, *, reference: str | None = None,
                 repeats: int = 3) -> pd.DataFrame:
    """Per model: MFLOPs and milliseconds per image for a forward pass, and with the input gradient.

    ``relative_time`` and ``relative_flops`` divide by the ``reference`` model's
    (the first one by default). Times are for a batch of ``len(x)`` images on
    :func:`genrob.environment.thread_count` threads.
    """
    rows = []
    for name, model in models.items():
        rows.append({"model": name, "mflops_per_image": flops_per_image(model, x) / 1e6,
                     "forward_ms": 1e3 * seconds_per_image(model, x, repeats=repeats),
                     "forward_and_gradient_ms": 1e3 * seconds_per_image(model, x, gradient=True, repeats=repeats)})
    table = pd.DataFrame(rows).set_index("model")
    base = table.loc[reference if reference is not None else table.index[0]]
    table["relative_flops"] = table["mflops_per_image"] / base["mflops_per_image"]
    table["relative_time"] = table["forward_and_gradient_ms"] / base["forward_and_gradient_ms"]
    table.attrs["threads"], table.attrs["batch"] = thread_count(), len(x)
    return table


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
    use_precision(get_profile(profile).torch_dtype)
    seed_everything(0)
    data = load_mnist()
    images = evaluation_subset(data.test, max(batch, pgd_images or 0), seed=0)
    peak = matmul_gflops()
    rows = []
    for name in models:
        model = load_model(name, profile, data=data)
        size = sweep_batch(name, profile, batch)
        x, y = images.x[:size], images.y[:size]
        flops = flops_per_image(model, x)
        forward = seconds_per_image(model, x)
        with_gradient = seconds_per_image(model, x, y, gradient=True)
        timed = pgd_images or pgd_image_count(with_gradient, most=len(x))
        rows.append({"model": name, "kind": get_spec(name).kind, "batch": len(x), "mflops_per_image": flops / 1e6,
                     "forward_images_per_s": 1 / forward, "gradient_images_per_s": 1 / with_gradient,
                     "gradient_over_forward": with_gradient / forward,
                     "forward_gflops_per_s": flops / forward / 1e9, "matmul_gflops_per_s": peak,
                     "pgd_images": timed,
                     "pgd40_s_per_image": pgd_seconds_per_image(model, images.x[:timed], images.y[:timed])})
        report(f"bench {name}: {rows[-1]['forward_images_per_s']:.1f} images/s forward, "
               f"{rows[-1]['pgd40_s_per_image']:.3f} s per image of PGD-40")
    table = pd.DataFrame(rows).set_index("model")
    if REFERENCE in table.index:
        table["flop_ratio_to_cnn"] = table["mflops_per_image"] / table.loc[REFERENCE, "mflops_per_image"]
        table["pgd_ratio_to_cnn"] = table["pgd40_s_per_image"] / table.loc[REFERENCE, "pgd40_s_per_image"]
    if GRADIENT_REFERENCE in table.index:
        table["gradient_over_forward_vs_cnn_vae"] = (table["gradient_over_forward"]
                                                     / table.loc[GRADIENT_REFERENCE, "gradient_over_forward"])
    table["threads"] = thread_count()
    return table


def benchmark_table(profile: str, *, models: Sequence[str] | None = None, refresh: bool = False,
                    batch: int = DEFAULT_BATCH_SIZE) -> pd.DataFrame:
    """The benchmark table of ``profile``: read from its file, or measured (and written) when the file is
    missing, lacks one of ``models`` (default: every registered one), or ``refresh`` asks for it."""
    models = list(models or model_names())
    path = bench_path(profile)
    if path.exists() and not refresh:
        table = pd.read_csv(path, index_col="model")
        if set(models) <= set(table.index) and "kind" in table:
            return table.loc[models]
    refuse_computing(f"the benchmark of the {get_profile(profile).name} profile")
    table = benchmark(models, profile=profile, batch=batch)
    path.parent.mkdir(parents=True, exist_ok=True)
    table.round(4).to_csv(path)
    return table
