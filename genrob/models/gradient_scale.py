"""Input gradients computed at a scale where they do not become subnormal floats.

A confident generative classifier's cross-entropy gradient is tiny: the probabilities of the other
classes are e^-90 and smaller, and a saturated pixel's Bernoulli term passes on sigmoid(v) < 2^-126.
In float32 such values are subnormal, and x86 cores multiply subnormals many times more slowly, so
the binary CNN-VAE's backward pass cost five times the Gaussian one's (issue 51). Flushing them to
zero would change what sign-gradient attacks see (their gradient is often nothing but such values).

Instead, :func:`scaled_input_gradient` wraps a model's forward pass between two identities whose
backward passes multiply each image's gradient by a power of two: at the logits, by the one that
brings the image's largest gradient entry to 2^:data:`TARGET_EXPONENT`; at the input, by its
inverse. A backward pass is linear in the gradient it receives, and multiplying a float by a power
of two is exact, so the input gradient is bit for bit the one computed without scaling wherever
that computation neither underflowed nor overflowed; where it underflowed, the scaled one is the
more accurate. An overflow would show as an infinite or undefined input gradient; the unscaling
step refuses it rather than return it.

Only the input's gradient is put back at its scale: a parameter's gradient through a scaled pass
would be wrong, so the scaling applies only to a model in eval mode with its parameters frozen
(:func:`applies`), which is how :func:`genrob.models.load_model` gives every model to the attacks.
"""

from __future__ import annotations

import functools
from typing import Callable

import torch
from torch import nn

#: Each image's largest logit gradient is brought to 2^TARGET_EXPONENT (at least 2^(TARGET_EXPONENT - 1)).
#: Float32 is normal from 2^-126 to 2^128: a gradient 2^-226 times the largest stays normal, and the largest
#: may still grow 2^27 times through the backward pass (on the `extended` weights it grows at most 2^7 in the
#: CNN-VAEs and 2^13 in the GMM).
TARGET_EXPONENT = 100


class GradientOverflow(ArithmeticError):
    """A scaled backward pass overflowed: its input gradient would not be the model's."""


class _Scale:
    """The power of two by which each image's gradient was multiplied, shared by one forward pass's two ends."""

    def __init__(self) -> None:
        self.exponents: torch.Tensor | None = None


class _AtLogits(torch.autograd.Function):
    @staticmethod
    def forward(ctx, logits: torch.Tensor, scale: _Scale) -> torch.Tensor:
        ctx.scale = scale
        return logits.view_as(logits)

    @staticmethod
    def backward(ctx, gradient: torch.Tensor) -> tuple[torch.Tensor, None]:
        largest = gradient.abs().flatten(1).amax(1)
        usable = torch.isfinite(largest) & (largest > 0)
        exponents = torch.where(usable, TARGET_EXPONENT - torch.frexp(largest)[1], 0)
        ctx.scale.exponents = exponents
        return _times_power_of_two(gradient, exponents), None


class _AtInput(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: torch.Tensor, scale: _Scale) -> torch.Tensor:
        ctx.scale = scale
        return x.view_as(x)

    @staticmethod
    def backward(ctx, gradient: torch.Tensor) -> tuple[torch.Tensor, None]:
        exponents = ctx.scale.exponents
        if exponents is None:  # the logits took no part in this backward pass
            return gradient, None
        finite = torch.isfinite(gradient).flatten(1).all(1) | (exponents == 0)
        if gradient.device.type != "meta" and not bool(finite.all()):  # a meta tensor has no values to check
            raise GradientOverflow(f"an input gradient scaled by up to 2^{int(exponents.max())} overflowed; "
                                   f"lower genrob.models.gradient_scale.TARGET_EXPONENT ({TARGET_EXPONENT})")
        return _times_power_of_two(gradient, -exponents), None


def _times_power_of_two(t: torch.Tensor, exponents: torch.Tensor) -> torch.Tensor:
    """Each row of ``t`` times 2^exponent, exactly where the result is normal.

    In two factors: torch.ldexp multiplies by 2^exponent as a float of ``t``'s dtype, which is infinite in
    float32 from 2^128, and the scale may reach 2^248 (a largest entry of 2^-149 brought to 2^100).
    """
    half = torch.div(exponents, 2, rounding_mode="floor")
    shape = (-1, *[1] * (t.dim() - 1))
    return t * torch.exp2(half.to(t.dtype)).view(shape) * torch.exp2((exponents - half).to(t.dtype)).view(shape)


def applies(model: nn.Module) -> bool:
    """Whether a forward pass of ``model`` may scale its gradients: in eval mode, no parameter trained."""
    return not model.training and not any(p.requires_grad for p in model.parameters())


def scaled_input_gradient(model: nn.Module, forward: Callable[[torch.Tensor], torch.Tensor],
                          x: torch.Tensor) -> torch.Tensor:
    """``forward(x)``, whose backward pass runs at a power-of-two scale per image (the module says why)
    where :func:`applies` to ``model`` and ``x`` needs a gradient; the logits are ``forward``'s, unchanged."""
    if not (x.requires_grad and torch.is_grad_enabled() and applies(model)):
        return forward(x)
    scale = _Scale()
    return _AtLogits.apply(forward(_AtInput.apply(x, scale)), scale)


def subnormal_gradients(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> int:
    """How many values of the gradients that autograd computes, from the cross-entropy at labels ``y`` back
    to the input ``x``, are subnormal floats: each node's gradient for each of its inputs, but the input's
    own gradient (a true gradient may be that small; only a pass that computes with such values is slow)."""
    batch = x.detach().clone().requires_grad_(True)
    logits = model(batch)
    leaf = torch.autograd.graph.get_gradient_edge(batch).node
    tiny = torch.finfo(x.dtype).tiny
    count = 0

    def inspect(node, gradients: tuple, _received: tuple) -> None:
        nonlocal count
        for gradient, (following, _) in zip(gradients, node.next_functions):
            if gradient is not None and following is not leaf and gradient.is_floating_point():
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
    try:
        torch.autograd.grad(nn.functional.cross_entropy(logits, y, reduction="sum"), batch)
    finally:
        for handle in handles:
            handle.remove()
    return count
