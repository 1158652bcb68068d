"""Input gradients at a power-of-two scale: the model's own gradient, without subnormal floats (issue 51)."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from genrob.models import load_model
from genrob.models.conv_vae import ConvVAEClassifier
from genrob.models import gradient_scale
from genrob.models.gradient_scale import GradientOverflow, applies, scaled_input_gradient, subnormal_gradients
from genrob.models.mixture import GaussianMixtureClassifier

#: Below the smallest normal float32 (2^-126 ~ 1.2e-38) as a factor of the gradient: e^-95 ~ 5.5e-42.
SATURATED = -95.0


def _conv_vae(likelihood: str, *, saturated: bool) -> ConvVAEClassifier:
    """A small float32 CNN-VAE classifier as attacks see it (eval mode, frozen); ``saturated``: its decoder
    puts every pixel's logit near -95, where a trained binary decoder puts the background's (near -47.5 for
    the Gaussian likelihood, whose gradient there is sigmoid(v)^2: e^-95 again)."""
    torch.manual_seed(0)
    model = ConvVAEClassifier(likelihood, channels=8, samples=2).float().eval()
    if saturated:
        with torch.no_grad():
            model.decoder.body[-2].bias.fill_(SATURATED / 2 if likelihood == "gaussian" else SATURATED)
    return model.requires_grad_(False)


def _far_components_gmm() -> GaussianMixtureClassifier:
    """A float32 mixture whose second component per class weighs e^-95 against its first: the gradient
    through it is that small a share of the class's."""
    torch.manual_seed(0)
    model = GaussianMixtureClassifier(components=2).float().eval()
    base = torch.rand(1, 1, model.means.shape[-1])
    with torch.no_grad():
        model.means.copy_((base + 0.01 * torch.rand_like(model.means)).clamp(0, 1))  # classes alike: no class's
        model.variances.fill_(0.5)                                                   # gradient underflows
        model.log_weights.copy_(torch.tensor([0.0, SATURATED]).expand_as(model.log_weights))
    return model


def _images(mnist, n: int = 4) -> tuple[torch.Tensor, torch.Tensor]:
    return mnist.test.x[:n].float(), mnist.test.y[:n]


def _input_gradient(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    batch = x.clone().requires_grad_(True)
    return torch.autograd.grad(F.cross_entropy(model(batch), y, reduction="sum"), batch)[0]


SATURATED_MODELS = {
    "cnn_vae": lambda: _conv_vae("gaussian", saturated=True),
    "cnn_vae_binary": lambda: _conv_vae("bernoulli", saturated=True),
    "cnn_vae_crf": lambda: _conv_vae("crf", saturated=True),
    "gmm": _far_components_gmm,
}


def _unscaled(monkeypatch) -> None:
    """Compute as before issue 51: no model scales its gradients."""
    monkeypatch.setattr(gradient_scale, "applies", lambda model: False)


@pytest.mark.parametrize("name", SATURATED_MODELS)
def test_a_saturated_model_computes_its_input_gradient_without_a_subnormal_float(name, mnist, monkeypatch):
    model, (x, y) = SATURATED_MODELS[name](), _images(mnist)
    assert applies(model)
    assert subnormal_gradients(model, x, y) == 0
    # The same pass unscaled computes with subnormals: the count above is what catches the penalty coming back.
    _unscaled(monkeypatch)
    assert subnormal_gradients(model, x, y) > 0


@pytest.mark.parametrize("likelihood", ["gaussian", "bernoulli", "crf"])
def test_the_scaled_gradient_is_the_unscaled_one_bit_for_bit_where_nothing_underflowed(likelihood, mnist,
                                                                                       monkeypatch):
    model, (x, y) = _conv_vae(likelihood, saturated=False), _images(mnist)
    scaled = _input_gradient(model, x, y)
    _unscaled(monkeypatch)
    assert subnormal_gradients(model, x, y) == 0  # the unscaled pass neither underflowed ...
    unscaled = _input_gradient(model, x, y)
    assert torch.isfinite(unscaled).all()  # ... nor overflowed
    assert torch.equal(scaled, unscaled)


class _Shrinking(nn.Module):
    """Logits offsets + 2^-90 (2^90 x W): the gradient at the logits is e^-50 ~ 2^-72 (one class is e^50 more
    likely than the others), times 2^-90 on its way back it underflows, though the input's, 2^-72 W, does not."""

    def __init__(self) -> None:
        super().__init__()
        self.weights = torch.linspace(-1, 1, 784 * 10, dtype=torch.float32).view(784, 10)
        self.offsets = torch.tensor([0.0] + [-50.0] * 9, dtype=torch.float32)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return scaled_input_gradient(self, lambda x: self.offsets + math.ldexp(1.0, -90) * (
            math.ldexp(1.0, 90) * (x.flatten(1) @ self.weights)), x)


def test_where_the_unscaled_gradient_underflowed_the_scaled_one_is_the_true_gradient(mnist, monkeypatch):
    model, (x, _) = _Shrinking().eval(), _images(mnist)
    y = torch.zeros(len(x), dtype=torch.long)
    logits = (model.offsets.double() + x.flatten(1).double() @ model.weights.double())
    truth = ((logits.softmax(1) - F.one_hot(y, 10).double()) @ model.weights.double().T).view_as(x)
    assert truth.abs().max() > 1e3 * torch.finfo(torch.float32).tiny  # a normal float32 gradient
    assert torch.allclose(_input_gradient(model, x, y).double(), truth, rtol=1e-4, atol=0)
    _unscaled(monkeypatch)
    assert (_input_gradient(model, x, y) == 0).all()


class _Steep(nn.Module):
    """Logits 2^40 times the image's pixel sum: its input gradient, scaled to 2^100 at the logits, is 2^140."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return scaled_input_gradient(self, lambda x: math.ldexp(1.0, 40) * x.flatten(1).sum(1, keepdim=True)
                                     * torch.linspace(-1, 1, 10, dtype=torch.float32), x)


def test_an_overflowing_scaled_gradient_is_refused_not_returned(mnist):
    x, y = _images(mnist)
    with pytest.raises(GradientOverflow, match="TARGET_EXPONENT"):
        _input_gradient(_Steep().eval(), x, y)


def test_the_scaling_leaves_the_logits_and_a_model_in_training_alone(mnist):
    x, y = _images(mnist)
    model = _conv_vae("bernoulli", saturated=True)
    with torch.no_grad():
        plain = model._logits(x, model.noise)
    assert torch.equal(model(x.clone().requires_grad_(True)), plain)
    assert not applies(model.train())
    assert not applies(model.eval().requires_grad_(True))  # a parameter's gradient would come out scaled


def test_a_loaded_model_is_frozen_for_attacks(mnist, models):
    assert all(applies(model) for model in models.values())
