"""The convolutional VAE family computes what its chapter says it computes."""

from __future__ import annotations

import math

import pytest
import torch

from genrob.contract import binarize, stochastic
from genrob.models import check_contract, get_spec, load_model, training_report
from genrob.models.conv_vae import BinaryCNN, ConvVAEClassifier, CRFPseudoLikelihood

LIKELIHOODS = ("gaussian", "bernoulli", "crf")


def _untrained(likelihood: str, seed: int = 0) -> ConvVAEClassifier:
    torch.manual_seed(seed)
    model = ConvVAEClassifier(likelihood, channels=8, samples=3).eval()
    if likelihood == "crf":
        with torch.no_grad():
            model.likelihood.couplings.copy_(torch.tensor([0.7, -0.4]))
    return model


@pytest.mark.parametrize("likelihood", LIKELIHOODS)
def test_the_batched_logits_match_a_loop_over_classes_and_samples(likelihood, few_images):
    model, x = _untrained(likelihood), few_images.x[:2]
    x_in = binarize(x) if likelihood != "gaussian" else x
    normal = torch.distributions.Normal(0.0, 1.0)
    expected = torch.empty(len(x), 10)
    with torch.no_grad():
        for i in range(len(x)):
            for y in range(10):
                label = torch.tensor([y])
                mean, log_var = model.encoder(x_in[i : i + 1], label)
                weights = []
                for noise in model.noise:
                    z = mean + (0.5 * log_var).exp() * noise
                    log_px = model.likelihood(x_in[i : i + 1], model.decoder(z, label))
                    log_py = model.label_model(z).log_softmax(-1)[0, y]
                    log_qz = torch.distributions.Normal(mean, (0.5 * log_var).exp()).log_prob(z).sum()
                    weights.append(log_px.squeeze() + log_py + normal.log_prob(z).sum() - log_qz)
                expected[i, y] = torch.stack(weights).logsumexp(0) - math.log(len(model.noise))
        assert torch.allclose(model(x), expected, rtol=1e-5, atol=1e-3)


def _energy(x: torch.Tensor, unary: torch.Tensor, horizontal: float, vertical: float) -> torch.Tensor:
    """sum_i u_i x_i + sum over neighbouring pairs of J x_i x_j, for one 28 x 28 binary image."""
    image, u = x.view(28, 28), unary.view(28, 28)
    return ((u * image).sum() + horizontal * (image[:, 1:] * image[:, :-1]).sum()
            + vertical * (image[1:, :] * image[:-1, :]).sum())


def test_the_crf_score_is_the_sum_of_each_pixels_conditional_given_the_rest(few_images):
    crf = CRFPseudoLikelihood()
    with torch.no_grad():
        crf.couplings.copy_(torch.tensor([0.9, -0.3]))
    x = binarize(few_images.x[:1])
    unary = torch.randn(1, 784, generator=torch.Generator().manual_seed(1))
    expected = 0.0
    for pixel in range(784):
        energies = []
        for value in (0.0, 1.0):
            flipped = x.clone().view(-1)
            flipped[pixel] = value
            energies.append(_energy(flipped, unary, 0.9, -0.3))
        expected += _energy(x, unary, 0.9, -0.3) - torch.stack(energies).logsumexp(0)
    with torch.no_grad():
        assert torch.allclose(crf(x, unary), expected.view(1), rtol=1e-5, atol=1e-3)


def test_without_couplings_the_crf_is_the_bernoulli_likelihood(few_images):
    x = binarize(few_images.x[:4])
    crf, bernoulli = _untrained("crf"), _untrained("bernoulli")
    with torch.no_grad():
        crf.likelihood.couplings.zero_()
        crf.load_state_dict({**bernoulli.state_dict(), "likelihood.couplings": torch.zeros(2)})
        assert torch.allclose(crf(x), bernoulli(x))


@pytest.mark.parametrize("likelihood", LIKELIHOODS)
def test_each_likelihood_keeps_the_contract_and_samples_only_inside_stochastic(likelihood, few_images):
    model, x = _untrained(likelihood), few_images.x[:4]
    check_contract(model, x)
    with torch.no_grad():
        fixed = model(x)
        with stochastic(model):
            draws = [model(x) for _ in range(2)]
        assert not torch.equal(draws[0], draws[1])
        assert torch.equal(model(x), fixed)


@pytest.mark.parametrize("build", [lambda: _untrained("bernoulli"), lambda: BinaryCNN().eval()])
def test_binary_models_see_only_the_threshold_but_pass_a_gradient(build, few_images):
    model, x = build(), few_images.x[:4]
    nudged = (x + 0.04 * torch.sign(x - 0.5)).clamp(0, 1)  # moves no pixel across 0.5
    with torch.no_grad():
        assert torch.equal(model(x), model(nudged))
    x = x.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(model(x)[:, 3].sum(), x)
    assert grad.abs().sum() > 0


def test_the_smoke_profile_shrinks_the_models_and_the_others_keep_lis_sizes():
    smoke, default, extended, full = (get_spec("cnn_vae").training_config(p)["architecture"]
                                      for p in ("smoke", "default", "extended", "full"))
    assert full == {"likelihood": "gaussian", "channels": 64, "samples": 10}
    assert default == extended == {**full, "samples": 2}  # fewer importance samples, the same network
    assert smoke["channels"] < 64 and smoke["samples"] < 10
    assert get_spec("cnn_vae").build_for("default").noise.shape == (2, 64)
    model = get_spec("cnn_vae_crf").build_for("full")
    assert model.noise.shape == (10, 64) and isinstance(model.likelihood, CRFPseudoLikelihood)
    assert model.encoder.features.features[0].out_channels == 64


def test_unknown_likelihood_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown likelihood"):
        ConvVAEClassifier("poisson")


def test_smoke_training_learns_to_classify(mnist):
    model = load_model("cnn_vae_crf", "smoke", data=mnist, device="cpu")
    report = training_report("cnn_vae_crf", "smoke")["report"]
    assert report["val_elbo_per_epoch"][-1] > report["val_elbo_per_epoch"][0]
    with torch.no_grad():
        accuracy = float((model(mnist.test.x[:300]).argmax(1) == mnist.test.y[:300]).double().mean())
    # chance is 0.1 (30 of 300, sd 5); two epochs on 6 000 images at Li's small learning rate reach 0.17 to 0.25
    assert accuracy > 0.15
