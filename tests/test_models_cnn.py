"""genrob.models.cnn: the MRF denoiser in front of the CNN."""

from __future__ import annotations

import torch

from genrob.models.cnn import MeanFieldDenoiser, salt_and_pepper


def test_the_denoiser_removes_noise_and_passes_gradients(mnist):
    clean = (mnist.test.x[:50] > 0.5).to(mnist.test.x.dtype)
    noisy = salt_and_pepper(clean, 0.05, seed=0)
    denoised = MeanFieldDenoiser()(noisy)
    errors_before = (noisy != clean).sum()
    errors_after = ((denoised > 0.5).to(clean.dtype) != clean).sum()
    assert errors_after < errors_before / 2
    x = noisy.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(MeanFieldDenoiser()(x).sum(), x)
    assert grad.abs().sum() > 0
