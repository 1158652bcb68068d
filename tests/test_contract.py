"""genrob.contract: the checks every model must pass, and the threshold's surrogate gradients."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from genrob.contract import binarize
from genrob.models import ContractError, check_contract


def test_the_smooth_threshold_gradient_peaks_at_the_threshold_and_leaves_the_forward_value():
    from genrob.contract import binarize, smooth_threshold_gradient

    x = torch.tensor([0.0, 0.45, 0.5, 0.9], requires_grad=True)
    (straight,) = torch.autograd.grad(binarize(x).sum(), x)
    with smooth_threshold_gradient(0.1):
        value = binarize(x)
        (smooth,) = torch.autograd.grad(value.sum(), x)
    assert torch.equal(straight, torch.ones(4)) and torch.equal(value, torch.tensor([0.0, 0.0, 0.0, 1.0]))
    assert smooth.argmax() == 2 and smooth[1] > 10 * smooth[0]
    (after,) = torch.autograd.grad(binarize(x).sum(), x)
    assert torch.equal(after, straight)  # the context restores the identity


def test_binarize_thresholds_forward_and_passes_gradients_straight_through():
    x = torch.tensor([0.2, 0.5, 0.7], requires_grad=True)
    out = binarize(x)
    assert out.tolist() == [0.0, 0.0, 1.0]
    (grad,) = torch.autograd.grad((out * torch.tensor([1.0, 2.0, 3.0])).sum(), x)
    assert grad.tolist() == [1.0, 2.0, 3.0]


class _Probabilities(nn.Module):
    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(784, 10)

    def forward(self, x):
        return self.linear(x.flatten(1)).softmax(1)


class _NoState(nn.Module):
    def forward(self, x):
        return x.flatten(1)[:, :10]


def test_the_contract_check_catches_probabilities_and_stateless_models(few_images):
    with pytest.raises(ContractError, match="probabilities"):
        check_contract(_Probabilities(), few_images.x)
    with pytest.raises(ContractError, match="neither parameters nor buffers"):
        check_contract(_NoState(), few_images.x)


def test_evaluations_are_counted_per_image_forward_and_backward():
    from genrob.contract import counting_evaluations

    model = torch.nn.Linear(4, 3)
    x = torch.rand(5, 4, requires_grad=True)
    with counting_evaluations(model) as count:
        with torch.no_grad():
            model(torch.rand(7, 4))
        model(x).sum().backward()
        model(x[:2])  # a forward pass whose gradient is never taken
    assert (count.forward, count.gradient) == (14, 5)
    model(x).sum().backward()  # outside the block: not counted
    assert (count.forward, count.gradient) == (14, 5)
