"""Pieces several models share."""

from __future__ import annotations

import contextlib
from typing import Iterator

import torch
from torch import nn

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


class ConvEncoder(nn.Module):
    """Li et al.'s MNIST encoder: three 5x5 stride-2 convolutions of 64 channels, then 500 units.

    "Same" padding takes 28 x 28 to 14, 7 and 4.
    """

    def __init__(self, channels: int = 64, hidden: int = 500) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, channels, 5, stride=2, padding=2), nn.ReLU(),
            nn.Conv2d(channels, channels, 5, stride=2, padding=2), nn.ReLU(),
            nn.Conv2d(channels, channels, 5, stride=2, padding=2), nn.ReLU(),
            nn.Flatten(), nn.Linear(channels * 4 * 4, hidden), nn.ReLU(),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x)


class ChannelsLastUnflatten(nn.Unflatten):
    """:class:`torch.nn.Unflatten` to images stored channels-last (NHWC), for the transposed
    convolutions that follow: on this CPU PyTorch's kernels ran 1.4 to 1.7 times faster on
    that layout (64 channels, 4 -> 7 and 7 -> 14 pixels, with and without the gradient), with
    the same outputs. No parameters, so a decoder's state dict does not change."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x).contiguous(memory_format=torch.channels_last)


class ColumnConvTranspose2d(nn.ConvTranspose2d):
    """A transposed convolution as one matrix product and :func:`torch.nn.functional.fold`.

    Same parameters and output as :class:`torch.nn.ConvTranspose2d`. With one
    output channel (the decoders' last layer) PyTorch's CPU kernel runs at a few
    GFLOP/s; the product of the kernel with each image's columns, scattered back
    by ``fold``, takes its gradient about 1.7 times faster. With many output
    channels the built-in kernel is faster: use this for thin outputs only.
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if self.dilation != (1, 1) or self.groups != 1 or self.padding_mode != "zeros":
            raise ValueError("ColumnConvTranspose2d supports no dilation, groups or padding modes")

    def forward(self, x: torch.Tensor, output_size: list[int] | None = None) -> torch.Tensor:
        if output_size is not None:
            raise ValueError("ColumnConvTranspose2d takes its output size from output_padding")
        n, channels, height, width = x.shape
        columns = self.weight.reshape(channels, -1).t() @ x.reshape(n, channels, height * width)
        full = [(size - 1) * stride + kernel for size, stride, kernel in
                zip((height, width), self.stride, self.kernel_size)]
        out = nn.functional.fold(columns, full, self.kernel_size, stride=self.stride)
        # Crop the padding; output_padding may reach one row or column past the full output.
        wanted = [size - 2 * pad + extra for size, pad, extra in zip(full, self.padding, self.output_padding)]
        short = [max(0, pad + want - size) for size, pad, want in zip(full, self.padding, wanted)]
        out = nn.functional.pad(out, (0, short[1], 0, short[0]))
        out = out[..., self.padding[0]:self.padding[0] + wanted[0], self.padding[1]:self.padding[1] + wanted[1]]
        return out + self.bias.view(1, -1, 1, 1) if self.bias is not None else out
