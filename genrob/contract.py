"""The classifier contract every model in genrob keeps.

A model is a ``torch.nn.Module`` mapping images ``x`` in ``[0, 1]^(N x 1 x 28 x 28)``
(float32; float64 throughout the smoke profile, see :class:`genrob.profiles.Profile`) to
``(N, 10)`` logits. A generative model's logit for class y is
``log p(x, y)``: never a probability, because saturated probabilities have no
gradient and fake robustness. Every model holds at least one parameter or buffer,
which is how attack libraries find its device.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Callable, Iterator, Literal, Sequence, TypeVar

import torch
from torch import nn

Kind = Literal["generative", "discriminative"]
IMAGE_SHAPE = (1, 28, 28)
PIXELS = 28 * 28
N_CLASSES = 10


class ContractError(AssertionError):
    """A model broke the classifier contract."""


def model_device(model: nn.Module) -> torch.device:
    """Device of a model's first parameter or buffer."""
    for tensor in (*model.parameters(), *model.buffers()):
        return tensor.device
    raise ContractError(f"{type(model).__name__} has neither parameters nor buffers")


def logit_margin(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Logit of the true class minus the best other logit: negative means misclassified."""
    true = logits.gather(1, y[:, None]).squeeze(1)
    other = logits.masked_fill(torch.nn.functional.one_hot(y, logits.shape[1]).bool(), -torch.inf).amax(1)
    return true - other


@torch.no_grad()
def logits_of(model: nn.Module, x: torch.Tensor, *, batch_size: int = 1000) -> torch.Tensor:
    """The model's logits for ``x``, in batches, on the CPU."""
    device = model_device(model)
    was_training = model.training
    model.eval()
    try:
        return torch.cat([model(x[i : i + batch_size].to(device)).cpu() for i in range(0, len(x), batch_size)])
    finally:
        model.train(was_training)


def predict(model: nn.Module, x: torch.Tensor, *, batch_size: int = 1000) -> torch.Tensor:
    """Predicted labels (argmax of the logits)."""
    return logits_of(model, x, batch_size=batch_size).argmax(dim=1)


def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor, *, batch_size: int = 1000) -> float:
    """Share of ``x`` the model labels as ``y``."""
    return float((predict(model, x, batch_size=batch_size) == y).double().mean())


def check_contract(model: nn.Module, x: torch.Tensor) -> None:
    """Raise :class:`ContractError` where ``model`` breaks the contract on images ``x``."""
    device = model_device(model)
    model.eval()
    x = x.detach().to(device).clone().requires_grad_(True)
    logits = model(x)
    if logits.shape != (len(x), N_CLASSES):
        raise ContractError(f"logits have shape {tuple(logits.shape)}, expected ({len(x)}, {N_CLASSES})")
    if not torch.isfinite(logits).all():
        raise ContractError("logits are not all finite")
    looks_like_probabilities = bool(
        (logits >= 0).all() and (logits <= 1).all() and torch.allclose(logits.sum(1), torch.ones(len(x), device=device))
    )
    if looks_like_probabilities:
        raise ContractError("the model returns probabilities; return logits (log p(x, y) for generative models)")
    (grad,) = torch.autograd.grad(logits.logsumexp(1).sum() - logits[:, 0].sum(), x)
    if not torch.isfinite(grad).all() or not grad.abs().sum() > 0:
        raise ContractError("the logits have no useful gradient with respect to the input")
    with torch.no_grad():
        again = model(x)
    if not torch.equal(again, logits.detach()):
        raise ContractError("the model is not deterministic in eval mode")


#: Images per chunk off the CPU (:func:`in_chunks`): bounded by memory only. The CNN-VAE with 10 importance
#: samples expands 100 images into 10 000 decoder passes, about 2 GB per 64-channel feature map.
ACCELERATOR_CHUNK_IMAGES = 100


def in_chunks(function: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, size: int) -> torch.Tensor:
    """``function`` of ``x`` computed ``size`` images at a time and concatenated (one autograd graph).

    For models that expand each image into many rows (a decoder pass per class and
    sample): their intermediates then fit the CPU's caches. Measured on 2 threads, the
    forward pass with the gradient took 2.0 instead of 3.2 ms per image for the CVAE
    (300 images, chunks of 50) and 19-22 instead of 24 ms for the CNN-VAE (30 images, chunks of 5).
    Off the CPU, chunks of at least :data:`ACCELERATOR_CHUNK_IMAGES`: there a chunk of 5 costs its
    kernel launches whatever its size (measured on an H200: the CNN-VAEs' forward pass took 0.3 to 0.4 ms per
    image at every batch from 30 to 5 000 images, in chunks of 5; the 2-core CPU's 1.2 ms).
    """
    if x.device.type != "cpu":
        size = max(size, ACCELERATOR_CHUNK_IMAGES)
    if len(x) <= size:
        return function(x)
    return torch.cat([function(part) for part in x.split(size)])


T = TypeVar("T")


def once_per_state(module: nn.Module, name: str, buffers: Sequence[torch.Tensor], compute: Callable[[], T]) -> T:
    """``compute()`` (without gradients), kept on ``module`` under ``name`` until one of ``buffers`` is
    changed in place or replaced: for terms that depend on fixed buffers only, which an attack's
    hundreds of calls would otherwise recompute each time."""
    state = tuple((b.data_ptr(), b._version) for b in buffers)
    cached = module.__dict__.get(name)
    if cached is None or cached[0] != state:
        with torch.no_grad():
            cached = (state, compute())
        module.__dict__[name] = cached
    return cached[1]


def samples_noise(model: nn.Module) -> bool:
    """Does ``model`` draw noise when used as intended (see :func:`stochastic`)?"""
    return any(hasattr(m, "resample") for m in model.modules())


@contextlib.contextmanager
def stochastic(model: nn.Module) -> Iterator[nn.Module]:
    """Within the block, every sampling layer of ``model`` draws fresh noise on each call.

    A layer that samples says so with a ``resample`` attribute; outside the block
    it is False and the layer uses its fixed evaluation noise (or the mean).
    """
    sampling = [m for m in model.modules() if hasattr(m, "resample")]  # see samples_noise
    for module in sampling:
        module.resample = True
    try:
        yield model
    finally:
        for module in sampling:
            module.resample = False


# Thresholded inputs. A model that binarises its input keeps the contract through a surrogate
# gradient (BPDA); an attack may choose which surrogate it sees, and nothing else of the model.

THRESHOLD = 0.5

#: Temperature of the sigmoid whose gradient :func:`binarize` passes back; None: the identity's.
_gradient_temperature: float | None = None


def binarize(x: torch.Tensor, threshold: float = THRESHOLD) -> torch.Tensor:
    """Threshold at ``threshold`` with a straight-through gradient.

    The forward value is 0 or 1; the backward pass treats the step as the
    identity, so gradient attacks see a useful gradient instead of zero (the BPDA
    of Athalye et al.), or, inside :func:`smooth_threshold_gradient`, as a steep
    sigmoid around the threshold.
    """
    hard = (x > threshold).to(x.dtype)
    if _gradient_temperature is None:
        return x + (hard - x).detach()
    soft = torch.sigmoid((x - threshold) / _gradient_temperature)
    return soft + (hard - soft).detach()


def input_threshold(model: nn.Module) -> float | None:
    """The threshold at which ``model`` binarises its input (its ``input_threshold``), or None.

    A model that sees its input only through :func:`binarize` says so, so that an attack can search the
    thresholded image directly: only pixels it moves across the threshold change what the model sees.
    """
    return getattr(model, "input_threshold", None)


def flip_targets(flat: torch.Tensor, threshold: float = THRESHOLD) -> tuple[torch.Tensor, torch.Tensor]:
    """Where each pixel of ``flat`` must move to read the other way through :func:`binarize`, and how far that
    is: a pixel above the threshold down to the threshold itself (which reads as 0), one at or below it up to
    the next float above it (which reads as 1), in the images' precision. The attacks on the threshold and
    the exact solvers take the same targets, so that they agree on which flips a budget affords."""
    above = flat > threshold
    at = torch.full_like(flat, threshold)
    target = torch.where(above, at, torch.nextafter(at, torch.ones_like(flat)))
    return target, (target - flat).abs()


@contextlib.contextmanager
def smooth_threshold_gradient(temperature: float) -> Iterator[None]:
    """Inside, :func:`binarize` passes back the gradient of sigmoid((x - threshold) / temperature).

    The identity's gradient is blind to what a pixel costs to flip: a pixel at 0.45
    flips for 0.05, one at 0 for 0.5, yet both get the same gradient, and an l_2
    attack spreads its budget over pixels that never cross. The sigmoid's gradient
    peaks at the threshold, so the attack spends where a flip is cheap.
    """
    global _gradient_temperature
    previous, _gradient_temperature = _gradient_temperature, temperature
    try:
        yield
    finally:
        _gradient_temperature = previous


# Purified inputs. A model that passes its input through a differentiable denoiser before it classifies
# (the CNN behind the MRF denoiser) says so, and an attack may see that denoiser's backward pass replaced by
# the identity (BPDA): an unrolled denoiser whose steps saturate can pass back a vanishing gradient.

#: Whether :func:`purify` passes the identity's gradient back instead of the denoiser's.
_identity_through_purifiers = False


def purify(x: torch.Tensor, denoiser: Callable[[torch.Tensor], torch.Tensor]) -> torch.Tensor:
    """``denoiser(x)``, with its own gradient, or inside :func:`identity_gradient_through_purifiers` the
    identity's: the forward value is always the denoised image (Athalye et al.'s BPDA)."""
    denoised = denoiser(x)
    if _identity_through_purifiers:
        return x + (denoised - x).detach()
    return denoised


def purifies_input(model: nn.Module) -> bool:
    """Whether ``model`` denoises its input through :func:`purify` before classifying it (its
    ``purifies_input``), so that an attack can approximate the denoiser's gradient by the identity's."""
    return bool(getattr(model, "purifies_input", False))


@contextlib.contextmanager
def identity_gradient_through_purifiers() -> Iterator[None]:
    """Inside, :func:`purify` passes the identity's gradient back through every denoiser."""
    global _identity_through_purifiers
    previous, _identity_through_purifiers = _identity_through_purifiers, True
    try:
        yield
    finally:
        _identity_through_purifiers = previous


@dataclass
class Evaluations:
    """How many images a model was evaluated on (forward passes) and differentiated through (backward
    passes), counted per image: what an attack cost, whatever the machine."""

    forward: int = 0
    gradient: int = 0


@contextlib.contextmanager
def counting_evaluations(model: nn.Module) -> Iterator[Evaluations]:
    """Count ``model``'s evaluations while the block runs: each call adds its batch's images to
    ``forward`` and, where a gradient flows back through its output, to ``gradient``."""
    count = Evaluations()

    def counted(module: nn.Module, inputs: tuple, output: torch.Tensor) -> None:
        images = len(inputs[0])
        count.forward += images
        if isinstance(output, torch.Tensor) and output.requires_grad:
            def backward(grad: torch.Tensor) -> None:
                count.gradient += images
            output.register_hook(backward)

    handle = model.register_forward_hook(counted)
    try:
        yield count
    finally:
        handle.remove()
