"""Mini-batch training of a classifier by cross-entropy, model chosen on validation."""

from __future__ import annotations

import copy

import torch
from torch import nn

from genrob.data import Split
from genrob.models.base import accuracy, model_device
from genrob.runtime import progress


def fit_classifier(
    model: nn.Module,
    train: Split,
    val: Split,
    *,
    epochs: int,
    batch_size: int = 128,
    lr: float = 1e-3,
    weight_decay: float = 0.0,
    seed: int = 0,
    desc: str = "training",
) -> dict:
    """Train ``model`` with Adam on cross-entropy; keep the epoch best on ``val``.

    Returns a JSON-able report: validation accuracy per epoch and the epoch kept.
    """
    device = model_device(model)
    optimiser = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
    generator = torch.Generator().manual_seed(seed)
    loss_fn = nn.CrossEntropyLoss()
    best_state, best_acc, history = None, -1.0, []
    bar = progress(total=epochs * ((len(train) + batch_size - 1) // batch_size), desc=desc, unit="batch")
    for _ in range(epochs):
        model.train()
        order = torch.randperm(len(train), generator=generator)
        for start in range(0, len(train), batch_size):
            index = order[start : start + batch_size]
            x, y = train.x[index].to(device), train.y[index].to(device)
            optimiser.zero_grad(set_to_none=True)
            loss = loss_fn(model(x), y)
            loss.backward()
            optimiser.step()
            bar.update(1)
        val_acc = accuracy(model, val.x, val.y)
        history.append(round(val_acc, 6))
        bar.set_postfix(val_acc=f"{val_acc:.4f}", refresh=False)
        if val_acc > best_acc:
            best_acc, best_state = val_acc, copy.deepcopy(model.state_dict())
    bar.close()
    model.load_state_dict(best_state)
    model.eval()
    return {"val_accuracy_per_epoch": history, "best_epoch": history.index(max(history)) + 1,
            "val_accuracy": best_acc}
