"""Every registered model keeps the contract; training is cached by configuration."""

from __future__ import annotations

import copy
import importlib
import dataclasses

import pytest
import torch
from scipy.stats import norm as gaussian
from torch import nn

from genrob.models import (
    ContractError, check_contract, checkpoint_path, get_spec, load_model, model_names, training_report,
)
from genrob.models import registry
from genrob.models.naive_bayes import GaussianNaiveBayes


@pytest.mark.parametrize("name", model_names())
def test_every_registered_model_keeps_the_contract(name, mnist, few_images):
    model = load_model(name, "smoke", data=mnist, device="cpu")
    check_contract(model, few_images.x)
    spec = get_spec(name)
    assert spec.kind in ("generative", "discriminative")
    assert all(get_spec(c).kind != spec.kind for c in spec.counterparts)
    assert all(get_spec(b).kind == spec.kind for b in spec.baselines)


@pytest.mark.parametrize("name", model_names())
def test_a_prediction_does_not_depend_on_its_batch(name, mnist, few_images):
    model = load_model(name, "smoke", data=mnist, device="cpu")
    x = few_images.x
    together = model(x).argmax(1)
    order = torch.randperm(len(x), generator=torch.Generator().manual_seed(0))
    shuffled = torch.cat([model(x[order][:7]), model(x[order][7:])]).argmax(1)
    assert torch.equal(shuffled, together[order])
    single = torch.cat([model(x[i : i + 1]) for i in range(len(x))]).argmax(1)
    assert torch.equal(single, together)


def test_naive_bayes_logits_are_the_gaussian_log_joint(models, few_images):
    nb = models["gaussian_nb"]
    x = few_images.x[:3].flatten(1).double().numpy()
    std = (nb.variance + nb.variance_floor).sqrt().double().numpy()
    expected = [[gaussian.logpdf(xi, nb.mean[c].double().numpy(), std[c]).sum() + float(nb.log_prior[c])
                 for c in range(10)] for xi in x]
    assert torch.allclose(nb(few_images.x[:3]).double(), torch.tensor(expected), rtol=1e-4)


def test_naive_bayes_floor_is_chosen_on_validation(models):
    report = training_report("gaussian_nb", "smoke")["report"]
    best = report["variance_floors"][report["val_accuracy"].index(max(report["val_accuracy"]))]
    assert report["variance_floor"] == best == pytest.approx(float(models["gaussian_nb"].variance_floor))


def test_trained_models_learn(models, mnist):
    for name, model in models.items():
        accuracy = float((model(mnist.test.x[:2000]).argmax(1) == mnist.test.y[:2000]).double().mean())
        assert accuracy > 0.75, (name, accuracy)


def test_a_cached_model_is_loaded_not_retrained(models, mnist, monkeypatch):
    spec = get_spec("logistic_regression")
    path = checkpoint_path("logistic_regression", "smoke")
    assert path.exists() and spec.config_hash("smoke") in path.name
    state = torch.load(path, weights_only=True)
    def refuse(*args):
        pytest.fail("retrained a cached model")

    monkeypatch.setitem(registry._REGISTRY, "logistic_regression", dataclasses.replace(spec, train=refuse))
    again = load_model("logistic_regression", "smoke", data=mnist)
    assert all(torch.equal(again.state_dict()[k], v) for k, v in state.items())


def test_the_checkpoint_key_follows_the_configuration():
    spec = get_spec("logistic_regression")
    assert spec.config_hash("smoke") != spec.config_hash("default") != spec.config_hash("extended")
    assert spec.config_hash("extended") == spec.config_hash("full")  # same training, same checkpoint


def test_unknown_model_names_are_refused_clearly():
    with pytest.raises(ValueError, match="known models"):
        get_spec("gaussian_bn")


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


def test_zero_variance_pixels_need_the_floor():
    nb = GaussianNaiveBayes()
    nb.variance.zero_()  # every pixel constant within its class, as the border is
    x = torch.full((1, 1, 28, 28), 0.5)
    assert not torch.isfinite(nb(x)).any()
    nb.variance_floor.fill_(0.01)
    assert torch.isfinite(nb(x)).all()


@pytest.mark.parametrize("name", model_names())
def test_training_is_repeatable(name, mnist, fresh_cache):
    """nbval compares a fresh run with stored outputs: the same data and seed must give the same weights."""
    first = load_model(name, "smoke", data=mnist, device="cpu", retrain=True).state_dict()
    second = load_model(name, "smoke", data=mnist, device="cpu", retrain=True).state_dict()
    assert all(torch.equal(first[k], second[k]) for k in first)


@pytest.mark.parametrize("in_channels, out_channels, size, kernel, stride, padding, output_padding",
                         [(64, 1, 14, 5, 2, 2, 1), (8, 3, 4, 3, 2, 1, 1), (4, 2, 5, 4, 2, 1, 0),
                          (4, 1, 5, 3, 3, 0, 0), (3, 2, 4, 6, 2, 2, 0)])
def test_the_sub_pixel_transposed_convolution_is_pytorchs_with_the_same_weights(
        in_channels, out_channels, size, kernel, stride, padding, output_padding):
    from genrob.models.layers import SubPixelConvTranspose2d

    torch.manual_seed(0)
    builtin = nn.ConvTranspose2d(in_channels, out_channels, kernel, stride=stride, padding=padding,
                                 output_padding=output_padding)
    sub_pixel = SubPixelConvTranspose2d(in_channels, out_channels, kernel, stride=stride, padding=padding,
                                        output_padding=output_padding)
    sub_pixel.load_state_dict(builtin.state_dict())  # same parameters: checkpoints load either way
    for layout in (torch.contiguous_format, torch.channels_last):
        x = torch.randn(3, in_channels, size, size).contiguous(memory_format=layout).requires_grad_(True)
        expected, got = builtin(x), sub_pixel(x)
        assert got.shape == expected.shape == (3, out_channels, stride * size, stride * size)
        torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)
        for mine, theirs in zip(torch.autograd.grad(got.square().sum(), [x, sub_pixel.weight, sub_pixel.bias]),
                                torch.autograd.grad(expected.square().sum(), [x, builtin.weight, builtin.bias])):
            torch.testing.assert_close(mine, theirs, rtol=1e-4, atol=1e-3)


def test_the_sub_pixel_transposed_convolution_refuses_what_it_cannot_compute():
    from genrob.models.layers import SubPixelConvTranspose2d

    with pytest.raises(ValueError, match="exactly stride times"):
        SubPixelConvTranspose2d(4, 1, 5, stride=2, padding=2, output_padding=0)  # 2 * size - 1 pixels
    with pytest.raises(ValueError, match="square"):
        SubPixelConvTranspose2d(4, 1, (5, 3), stride=2, padding=2, output_padding=1)


def test_the_fast_decoder_computes_what_pytorchs_plain_layers_do():
    from genrob.models.conv_vae import ConvDecoder
    from genrob.models.layers import ChannelsLastUnflatten, SubPixelConvTranspose2d

    torch.manual_seed(0)
    decoder = ConvDecoder(channels=8)
    assert isinstance(decoder.body[3], ChannelsLastUnflatten)
    assert isinstance(decoder.body[8], SubPixelConvTranspose2d)
    plain = copy.deepcopy(decoder)
    plain.body[3] = nn.Unflatten(1, (8, 4, 4))
    plain.body[8] = nn.ConvTranspose2d(8, 1, 5, stride=2, padding=2, output_padding=1)
    for i, layer in enumerate(plain.body):
        if isinstance(layer, nn.ReLU):
            plain.body[i] = nn.ReLU()
    plain.load_state_dict(decoder.state_dict())  # checkpoints load either way
    assert decoder.body[:4](torch.randn(2, 500)).is_contiguous(memory_format=torch.channels_last)
    z = torch.randn(3, 2, 64, requires_grad=True)
    y = torch.tensor([[1, 7], [0, 3], [9, 9]])
    got, expected = decoder(z, y), plain(z, y)
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(torch.autograd.grad(got.square().sum(), z)[0],
                               torch.autograd.grad(expected.square().sum(), z)[0], rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("name", ["cvae", "cnn_vae"])
def test_the_vaes_logits_in_chunks_are_those_of_one_batch_and_draw_noise_once(name, mnist, isolated_cache):
    from genrob.models.base import stochastic

    model = load_model(name, "smoke", data=mnist, device="cpu")
    module = importlib.import_module(type(model).__module__)
    x = mnist.test.x[:2 * module.CHUNK_IMAGES + 3]
    with torch.no_grad():
        torch.testing.assert_close(model(x), model._logits(x, model.noise), rtol=1e-5, atol=1e-4)
        with stochastic(model):
            torch.manual_seed(1)
            sampled = model(x)
            torch.manual_seed(1)
            expected = model._logits(x, torch.randn_like(model.noise))
        torch.testing.assert_close(sampled, expected, rtol=1e-5, atol=1e-4)
