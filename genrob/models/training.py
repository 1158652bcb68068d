"""Mini-batch training with Adam, keeping the epoch that scores best on validation."""

from __future__ import annotations

import copy
import math
from typing import Callable

import torch
from torch import nn

from genrob.contract import accuracy, model_device
from genrob.data import Split
from genrob.environment import progress

#: The loss of one batch: (model, images, labels) -> scalar to minimise.
BatchLoss = Callable[[nn.Module, torch.Tensor, torch.Tensor], torch.Tensor]
#: A model's score on the validation split: higher is better.
Score = Callable[[nn.Module, Split], float]


def fit(
    model: nn.Module,
    train: Split,
    val: Split,
    *,
    loss: BatchLoss,
    score: Score,
    score_name: str,
    epochs: int,
    batch_size: int = 128,
    lr: float = 1e-3,
    weight_decay: float = 0.0,
    seed: int = 0,
    desc: str = "training",
) -> dict:
    """Minimise ``loss`` with Adam; keep the epoch with the best ``score`` on ``val``.

    Returns a JSON-able report: the score per epoch (``val_<score_name>_per_epoch``),
    the epoch kept and its score.
    """
    device = model_device(model)
    optimiser = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
    generator = torch.Generator().manual_seed(seed)
    best_state, best_score, history = None, -math.inf, []
    bar = progress(total=epochs * math.ceil(len(train) / batch_size), desc=desc, unit="batch")
    for _ in range(epochs):
        model.train()
        order = torch.randperm(len(train), generator=generator)
        for start in range(0, len(train), batch_size):
            index = order[start : start + batch_size]
            optimiser.zero_grad(set_to_none=True)
            loss(model, train.x[index].to(device), train.y[index].to(device)).backward()
            optimiser.step()
            bar.update(1)
        model.eval()
        value = score(model, val)
        history.append(round(value, 6))
        bar.set_postfix({f"val_{score_name}": f"{value:.4f}"}, refresh=False)
        if value > best_score:
            best_score, best_state = value, copy.deepcopy(model.state_dict())
    bar.close()
    model.load_state_dict(best_state)
    model.eval()
    return {f"val_{score_name}_per_epoch": history, "best_epoch": history.index(max(history)) + 1,
            f"val_{score_name}": best_score}


def _cross_entropy(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return nn.functional.cross_entropy(model(x), y)


def fit_classifier(model: nn.Module, train: Split, val: Split, *, epochs: int, batch_size: int = 128,
                   lr: float = 1e-3, weight_decay: float = 0.0, seed: int = 0, desc: str = "training") -> dict:
    """Train ``model`` on cross-entropy; keep the epoch most accurate on ``val``."""
    return fit(model, train, val, loss=_cross_entropy, score=lambda m, split: accuracy(m, split.x, split.y),
               score_name="accuracy", epochs=epochs, batch_size=batch_size, lr=lr, weight_decay=weight_decay,
               seed=seed, desc=desc)
