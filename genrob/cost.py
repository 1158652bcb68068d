"""What one forward pass of a model costs: counted FLOPs and measured time per image."""

from __future__ import annotations

import time

import pandas as pd
import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from genrob.models.base import model_device
from genrob.runtime import thread_count


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


def seconds_per_image(model: nn.Module, x: torch.Tensor, *, gradient: bool = False, repeats: int = 3) -> float:
    """Best-of-``repeats`` wall time of a forward pass (with the input gradient, if asked), per image."""
    model.eval()
    x = x.to(model_device(model))

    def forward():
        with torch.no_grad():
            model(x)

    def forward_and_gradient():
        batch = x.clone().requires_grad_(True)
        torch.autograd.grad(model(batch).logsumexp(1).sum(), batch)

    return _seconds(forward_and_gradient if gradient else forward, repeats) / len(x)


def forward_cost(models: dict[str, nn.Module], x: torch.Tensor, *, reference: str | None = None,
                 repeats: int = 3) -> pd.DataFrame:
    """Per model: MFLOPs and milliseconds per image for a forward pass, and with the input gradient.

    ``relative_time`` and ``relative_flops`` divide by the ``reference`` model's
    (the first one by default). Times are for a batch of ``len(x)`` images on
    :func:`genrob.runtime.thread_count` threads.
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
