"""Models by name: what each is, what it is compared with, and how it is trained.

Trained weights are cached under ``<cache>/checkpoints`` keyed by a hash of the
model's training configuration, so a model is trained once per configuration
and loaded with ``torch.load(..., weights_only=True)`` afterwards.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Mapping

import torch
from torch import nn

from genrob.contract import Kind
from genrob.data import MNIST, Split, load_mnist
from genrob.environment import (
    atomic_write, cache_dir, refuse_computing, report, seed_everything, torch_device, use_precision,
)
from genrob.models.training import resumable
from genrob.profiles import Profile, get_profile

#: Bump when a change to training code should invalidate every cached checkpoint.
CHECKPOINT_FORMAT = 1

Trainer = Callable[[nn.Module, Split, Split, Mapping], dict]


@dataclass(frozen=True)
class ModelSpec:
    """A registered model: its place in the study and how to build and train it."""

    name: str
    paper_name: str  # the name in the paper's tables
    family: str  # the notebook it belongs to
    kind: Kind
    counterparts: tuple[str, ...]  # models of the other kind it is compared with
    build: Callable[..., nn.Module]  # called with the keyword arguments of ``architecture``
    train: Trainer  # trains the built model in place, returns a JSON-able report
    training: Callable[[Profile], dict] = field(default=lambda profile: {})
    description: str = ""
    baselines: tuple[str, ...] = ()  # models of the same kind its chapter shows beside it
    #: Size settings under a profile (smoke shrinks the costliest models); passed to ``build``.
    architecture: Callable[[Profile], dict] = field(default=lambda profile: {})
    #: Whether the paper's numbers for ``paper_name`` are ruled on by this model's evidence. Where two of our
    #: models share a paper name (the CVAE with the paper's decision rule and with its likelihood), one
    #: answers the paper's numbers and the other is shown beside them without a ruling of its own.
    rules_on_paper: bool = True

    def build_for(self, profile: Profile | str) -> nn.Module:
        """An untrained model, sized for ``profile``."""
        return self.build(**self.architecture(get_profile(profile)))

    def training_config(self, profile: Profile | str) -> dict:
        """The training configuration under ``profile`` (what the checkpoint hash covers)."""
        profile = get_profile(profile)
        architecture = self.architecture(profile)
        return {"model": self.name, "format": CHECKPOINT_FORMAT, "max_train": profile.max_train,
                "dtype": profile.dtype, "seed": 0, **self.training(profile),
                **({"architecture": architecture} if architecture else {})}

    def config_hash(self, profile: Profile | str) -> str:
        blob = json.dumps(self.training_config(profile), sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:12]


_REGISTRY: dict[str, ModelSpec] = {}


def register(spec: ModelSpec) -> ModelSpec:
    if spec.name in _REGISTRY:
        raise ValueError(f"model {spec.name!r} is registered twice")
    _REGISTRY[spec.name] = spec
    return spec


def get_spec(name: str) -> ModelSpec:
    """The registered model ``name``; a clear error listing the known ones."""
    try:
        return _REGISTRY[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown model {name!r}; known models: {sorted(_REGISTRY)}") from None


def model_names(*, family: str | None = None, kind: Kind | None = None) -> list[str]:
    """Registered model names, in registration order, optionally of one family or kind."""
    return [s.name for s in _REGISTRY.values()
            if (family is None or s.family == family) and (kind is None or s.kind == kind)]


def chapter_models(family: str) -> list[str]:
    """The models a family's chapter attacks: its own, the counterparts of its
    generative models (which may live in another family) and its models' baselines."""
    names = model_names(family=family)
    related = [r for name in names for r in
               (*(_REGISTRY[name].counterparts if _REGISTRY[name].kind == "generative" else ()),
                *_REGISTRY[name].baselines)]
    return list(dict.fromkeys([*names, *related]))


#: Families outside the paper's study: the adversarially trained reference (the adaptive chapter's yardstick).
OUTSIDE_STUDY = ("reference",)


def families(*, study_only: bool = False) -> list[str]:
    """Every model family in registration order (the book's), or only those of the paper's study."""
    every = dict.fromkeys(s.family for s in _REGISTRY.values())
    return [f for f in every if not (study_only and f in OUTSIDE_STUDY)]


def checkpoint_path(name: str, profile: Profile | str) -> Path:
    spec = get_spec(name)
    return cache_dir() / "checkpoints" / f"{name}-{spec.config_hash(profile)}.pt"


def training_state_dir() -> Path:
    """The cache's folder of training states (:func:`genrob.models.training.resumable`)."""
    return cache_dir() / "training"


def training_state_stem(name: str, profile: Profile | str) -> Path:
    """Where a training of ``name`` under ``profile`` keeps its state after each epoch until the model is saved:
    ``<name>-<configuration hash>-<k>.npz`` and ``.json`` in :func:`training_state_dir`, for its k-th fit."""
    return training_state_dir() / checkpoint_path(name, profile).stem


def training_subset(data: MNIST, profile: Profile) -> Split:
    """The training images a profile fits on (the split is already shuffled)."""
    if profile.max_train is None:
        return data.train
    return data.train.take(torch.arange(min(profile.max_train, len(data.train))))


def load_model(
    name: str,
    profile: Profile | str = "default",
    *,
    data: MNIST | None = None,
    device: torch.device | str | None = None,
    retrain: bool = False,
) -> nn.Module:
    """The trained model ``name`` for ``profile``: from the cache, or trained and cached; in eval mode with
    its parameters frozen, as attacks use it (their gradients are the input's)."""
    spec, profile = get_spec(name), get_profile(profile)
    use_precision(profile.torch_dtype)
    device = torch.device(device) if device is not None else torch_device()
    path = checkpoint_path(name, profile)
    report_path = path.with_suffix(".json")
    model = spec.build_for(profile)
    if path.exists() and report_path.exists() and not retrain:
        model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
        return model.to(device).eval().requires_grad_(False)
    refuse_computing(f"training {name} ({profile.name} profile)")
    data = (data if data is not None else load_mnist()).to(profile.torch_dtype)
    config = spec.training_config(profile)
    seed_everything(config["seed"])
    model = spec.build_for(profile).to(device)
    started = time.perf_counter()
    with resumable(training_state_stem(name, profile)) as resumption:  # goes on where a cut-off run stopped
        fit_report = spec.train(model, training_subset(data, profile), data.val, config)
    seconds = time.perf_counter() - started + resumption.earlier_seconds
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    atomic_write(path, lambda tmp: torch.save(state, tmp))
    document = {"config": config, "train_seconds": round(seconds, 2), "report": fit_report,
                **({"resumed_after_epochs": resumption.resumed_at} if resumption.resumed_at else {})}
    atomic_write(report_path, lambda tmp: tmp.write_text(json.dumps(document, indent=1)))
    resumption.discard()
    report(f"trained {name} ({profile.name}) in {seconds:.1f}s -> {path.name}")
    return model.eval().requires_grad_(False)


def training_report(name: str, profile: Profile | str = "default") -> dict:
    """What training ``name`` under ``profile`` reported (train it first with load_model)."""
    path = checkpoint_path(name, profile).with_suffix(".json")
    if not path.exists():
        raise FileNotFoundError(f"{name} is not trained for profile {get_profile(profile).name}; call load_model first")
    return json.loads(path.read_text())
