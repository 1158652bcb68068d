"""Mini-batch training with Adam, keeping the epoch that scores best on validation.

A training run inside :func:`resumable` survives being cut off: after each epoch :func:`fit` keeps
what the next epoch needs (the weights, Adam's moments, the shuffling and global random states, the
loss's own state, the best epoch so far) in an npz and a JSON file, and a run started again goes on
from the last epoch kept, to the same weights as a run never cut off. The evidence run publishes these
files when it stops (:func:`genrob.evidence.keep_training`), so that an hour of training is not lost
with the session that ran it.
"""

from __future__ import annotations

import contextlib
import contextvars
import copy
import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
import torch
from torch import nn

from genrob.contract import accuracy, model_device
from genrob.data import Split
from genrob.environment import atomic_write, progress

#: The loss of one batch: (model, images, labels) -> scalar to minimise.
BatchLoss = Callable[[nn.Module, torch.Tensor, torch.Tensor], torch.Tensor]
#: A model's score on the validation split: higher is better.
Score = Callable[[nn.Module, Split], float]


@dataclass
class Resumption:
    """Where the training runs of one model keep their state (``<stem>-<k>.npz`` and ``.json`` for its
    k-th :func:`fit`), and what the resumed ones had done before."""

    stem: Path
    earlier_seconds: float = 0.0  # training time of the epochs kept by runs cut off before this one
    resumed_at: list[int] = field(default_factory=list)  # the epochs each resumption went on after
    fits: int = 0  # the fits begun so far in this run: the k of the next one's files is fits + 1

    def files(self, fit: int) -> tuple[Path, Path]:
        name = f"{self.stem.name}-{fit}"
        return self.stem.with_name(name + ".npz"), self.stem.with_name(name + ".json")

    def discard(self) -> None:
        """Remove every state kept (the model is saved)."""
        for path in self.stem.parent.glob(f"{self.stem.name}-*.*"):
            path.unlink()


_RESUMPTION: contextvars.ContextVar[Resumption | None] = contextvars.ContextVar("resumption", default=None)


@contextlib.contextmanager
def resumable(stem: Path) -> Iterator[Resumption]:
    """Every :func:`fit` in the block keeps its state after each epoch in files named from ``stem``, and
    goes on from them where an earlier run left them; the caller discards them once the model is saved."""
    resumption = Resumption(stem)
    token = _RESUMPTION.set(resumption)
    try:
        yield resumption
    finally:
        _RESUMPTION.reset(token)


def _save_state(paths: tuple[Path, Path], model: nn.Module, optimiser: torch.optim.Optimizer,
                generator: torch.Generator, loss: object, *, best_state: dict | None, best_score: float,
                history: list[float], seconds: float, resumed_at: list[int],
                finished: dict | None = None) -> None:
    """The state after an epoch, in open formats: tensors in the npz, the rest in the JSON (with the epochs
    after which this fit was resumed so far, so that a fit cut off several times reports every resumption)."""
    arrays = {f"model/{k}": v.detach().cpu().numpy() for k, v in model.state_dict().items()}
    arrays |= {f"best/{k}": v.detach().cpu().numpy() for k, v in (best_state or {}).items()}
    scalars: dict[str, dict] = {}
    for index, moments in optimiser.state_dict()["state"].items():
        for name, value in moments.items():
            if isinstance(value, torch.Tensor):
                arrays[f"optimiser/{index}/{name}"] = value.detach().cpu().numpy()
            else:
                scalars.setdefault(str(index), {})[name] = value
    arrays["generator"] = generator.get_state().numpy()
    arrays["global_rng"] = torch.get_rng_state().numpy()
    if torch.cuda.is_available():  # a GPU draws the attacks' random starts from its own generator
        arrays["cuda_rng"] = torch.cuda.get_rng_state().numpy()
    document = {"epochs_done": len(history), "history": history, "best_score": best_score,
                "seconds": round(seconds, 2), "resumed_at": resumed_at, "optimiser_scalars": scalars,
                "loss": loss.state_dict() if hasattr(loss, "state_dict") else None, "finished": finished}
    def write_arrays(tmp: Path) -> None:
        with open(tmp, "wb") as handle:
            np.savez(handle, **arrays)

    npz, meta = paths
    atomic_write(npz, write_arrays)
    atomic_write(meta, lambda tmp: tmp.write_text(json.dumps(document)))


def _load_state(paths: tuple[Path, Path], model: nn.Module, optimiser: torch.optim.Optimizer,
                generator: torch.Generator, loss: object) -> tuple[dict, dict | None]:
    """Put a kept state back; returns its JSON document and the best epoch's weights."""
    npz, meta = paths
    document = json.loads(meta.read_text())
    with np.load(npz) as archive:
        tensors = {key: torch.from_numpy(archive[key].copy()) for key in archive.files}
    model.load_state_dict({k.split("/", 1)[1]: v for k, v in tensors.items() if k.startswith("model/")})
    best = {k.split("/", 1)[1]: v for k, v in tensors.items() if k.startswith("best/")} or None
    state: dict[int, dict] = {}
    for key, value in tensors.items():
        if key.startswith("optimiser/"):
            _, index, name = key.split("/")
            state.setdefault(int(index), {})[name] = value
    for index, values in document["optimiser_scalars"].items():
        state.setdefault(int(index), {}).update(values)
    # the parameter groups are the ones this optimiser was built with: no schedule changes them
    optimiser.load_state_dict({"state": state, "param_groups": optimiser.state_dict()["param_groups"]})
    generator.set_state(tensors["generator"])
    torch.set_rng_state(tensors["global_rng"])
    if "cuda_rng" in tensors and torch.cuda.is_available():
        torch.cuda.set_rng_state(tensors["cuda_rng"])
    if document["loss"] is not None:
        loss.load_state_dict(document["loss"])
    return document, best


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
    resumption = _RESUMPTION.get()
    paths, seconds_before, resumed_at = None, 0.0, []
    if resumption is not None:
        resumption.fits += 1
        paths = resumption.files(resumption.fits)
        if all(path.exists() for path in paths):
            document, best_state = _load_state(paths, model, optimiser, generator, loss)
            best_score, history, seconds_before = document["best_score"], document["history"], document["seconds"]
            resumption.earlier_seconds += seconds_before
            resumed_at = document.get("resumed_at", [])  # states kept before it was recorded: none known
            if document["finished"] is not None:  # a model trained in several fits, cut off in a later one
                resumption.resumed_at += resumed_at
                model.load_state_dict(best_state)
                model.eval()
                return document["finished"]
            resumed_at = resumed_at + [len(history)]
            resumption.resumed_at += resumed_at
    started = time.perf_counter()
    batches = math.ceil(len(train) / batch_size)
    bar = progress(total=epochs * batches, initial=len(history) * batches, desc=desc, unit="batch")
    for _ in range(len(history), epochs):
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
        if paths is not None:
            _save_state(paths, model, optimiser, generator, loss, best_state=best_state, best_score=best_score,
                        history=history, seconds=seconds_before + time.perf_counter() - started,
                        resumed_at=resumed_at)
    bar.close()
    model.load_state_dict(best_state)
    model.eval()
    report = {f"val_{score_name}_per_epoch": history, "best_epoch": history.index(max(history)) + 1,
              f"val_{score_name}": best_score}
    if paths is not None:  # kept finished until the model is saved: a later fit of the same model may be cut off
        _save_state(paths, model, optimiser, generator, loss, best_state=best_state, best_score=best_score,
                    history=history, seconds=seconds_before + time.perf_counter() - started, resumed_at=resumed_at,
                    finished=report)
    return report


def _cross_entropy(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return nn.functional.cross_entropy(model(x), y)


def fit_classifier(model: nn.Module, train: Split, val: Split, *, epochs: int, batch_size: int = 128,
                   lr: float = 1e-3, weight_decay: float = 0.0, seed: int = 0, desc: str = "training") -> dict:
    """Train ``model`` on cross-entropy; keep the epoch most accurate on ``val``."""
    return fit(model, train, val, loss=_cross_entropy, score=lambda m, split: accuracy(m, split.x, split.y),
               score_name="accuracy", epochs=epochs, batch_size=batch_size, lr=lr, weight_decay=weight_decay,
               seed=seed, desc=desc)
