"""Issue 51's table: forward and forward-plus-input-gradient time per image, and how many gradient values
the backward pass computes as subnormal floats, on the `extended` weights restored from the store.

Run from the repository root (or with PYTHONPATH at another checkout, to measure that code)::

    GENROB_DATA=... GENROB_THREADS=1 GENROB_CACHE=/tmp/cache python docs/measurements/subnormals-2026-12-07/gradient_cost.py

100 evaluation images of the extended subset, the cross-entropy at their labels, best of 3; the subnormal
count is over every gradient autograd hands from node to node on 20 of them (the input's own excluded), the
way ``genrob.models.gradient_scale.subnormal_gradients`` counts, written out here so that code from before
issue 51 is measured the same way.
"""

from __future__ import annotations

import functools
import time

import torch
import torch.nn.functional as F

from genrob import evidence
from genrob.data import evaluation_subset, load_mnist
from genrob.environment import code_version, machine, thread_count
from genrob.models import load_model

MODELS = ["cnn_vae", "cnn_vae_binary", "cnn_vae_crf", "gmm", "cnn"]


def best_seconds(run, repeats: int = 3) -> float:
    run()
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - started)
    return best


def subnormal_gradients(model, x, y) -> int:
    batch = x.clone().requires_grad_(True)
    logits = model(batch)
    leaf = torch.autograd.graph.get_gradient_edge(batch).node
    tiny, count = torch.finfo(x.dtype).tiny, 0

    def inspect(node, gradients, _received):
        nonlocal count
        for gradient, (following, _) in zip(gradients, node.next_functions):
            if gradient is not None and following is not leaf:
                magnitude = gradient.detach().abs()
                count += int(((magnitude > 0) & (magnitude < tiny)).sum())

    handles, seen, pending = [], set(), [logits.grad_fn]
    while pending:
        node = pending.pop()
        if node is None or node in seen:
            continue
        seen.add(node)
        handles.append(node.register_hook(functools.partial(inspect, node)))
        pending.extend(following for following, _ in node.next_functions)
    torch.autograd.grad(F.cross_entropy(logits, y, reduction="sum"), batch)
    for handle in handles:
        handle.remove()
    return count


def main() -> None:
    evidence.restore_weights("extended")
    images = evaluation_subset(load_mnist().test, 200, seed=0)
    x, y = images.x[:100], images.y[:100]
    print(f"code {code_version()}, {machine()}, {thread_count()} thread(s), {len(x)} images")
    print("| model | forward, ms per image | forward + gradient, ms per image | gradient / forward "
          "| subnormal gradient values (20 images) |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for name in MODELS:
        model = load_model(name, "extended")

        def forward():
            with torch.no_grad():
                model(x)

        def with_gradient():
            batch = x.clone().requires_grad_(True)
            torch.autograd.grad(F.cross_entropy(model(batch), y, reduction="sum"), batch)

        seconds, gradient_seconds = best_seconds(forward), best_seconds(with_gradient)
        print(f"| {name} | {1e3 * seconds / len(x):.2f} | {1e3 * gradient_seconds / len(x):.2f} "
              f"| {gradient_seconds / seconds:.2f} | {subnormal_gradients(model, x[:20], y[:20])} |", flush=True)


if __name__ == "__main__":
    main()
