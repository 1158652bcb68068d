"""The fully connected VAE family computes what its chapter says it computes."""

from __future__ import annotations

import math

import pytest
import torch

from genrob.attacks import make_attack
from genrob.contract import stochastic
from genrob.data import Split
from genrob.models import load_model, training_report
from genrob.models import vae as vae_module
from genrob.models.registry import training_subset
from genrob.models.vae import CVAEClassifier, CVAEPrototypes, VAEClassifier
from genrob.profiles import get_profile


def _untrained_cvae(seed: int = 0) -> CVAEClassifier:
    torch.manual_seed(seed)
    return CVAEClassifier(samples=4).eval()


def test_the_batched_cvae_logits_match_a_loop_over_classes_and_samples(few_images):
    model, x = _untrained_cvae(), few_images.x[:3]
    encoder, decoder = model.cvae.encoder, model.cvae.decoder
    expected = torch.empty(len(x), 10)
    for i in range(len(x)):
        for y in range(10):
            label = torch.tensor([y])
            mean, log_var = encoder(x[i : i + 1], label)
            weights = []
            for noise in model.noise:
                z = mean + (0.5 * log_var).exp() * noise
                log_px = decoder.log_likelihood(x[i].flatten()[None], decoder.mean(z, decoder.label(label)))
                log_pz = torch.distributions.Normal(0.0, 1.0).log_prob(z).sum()
                log_qz = torch.distributions.Normal(mean, (0.5 * log_var).exp()).log_prob(z).sum()
                weights.append(log_px + log_pz - log_qz)
            expected[i, y] = torch.stack(weights).logsumexp(0).squeeze() - math.log(len(model.noise)) + math.log(0.1)
    with torch.no_grad():
        assert torch.allclose(model(x), expected, rtol=1e-5, atol=1e-3)


def test_with_the_prior_as_proposal_the_estimate_is_the_mean_likelihood_of_prior_draws(few_images):
    model, x = _untrained_cvae(), few_images.x[:2]
    encoder, decoder = model.cvae.encoder, model.cvae.decoder
    for layer in (encoder.mean, encoder.log_var):  # q(z | x, y) = N(0, I) = p(z)
        torch.nn.init.zeros_(layer.weight)
        torch.nn.init.zeros_(layer.bias)
    with torch.no_grad():
        means = decoder.mean(model.noise[None, :, :], decoder.label.weight[:, None, :])  # (10, K, 784)
        log_px = decoder.log_likelihood(x.flatten(1)[:, None, None, :], means[None])
        expected = log_px.logsumexp(-1) - math.log(len(model.noise)) + math.log(0.1)
        assert torch.allclose(model(x), expected, rtol=1e-6, atol=1e-3)


def test_the_papers_rule_picks_the_class_of_the_nearest_decoded_prototype(few_images):
    prototypes = CVAEPrototypes(prototypes=7)
    prototypes.refresh(_untrained_cvae().cvae, seed=3)
    x = few_images.x
    distances = torch.cdist(x.flatten(1), prototypes.prototypes.flatten(0, 1))  # (N, 70)
    nearest_class = distances.argmin(1) // 7
    with torch.no_grad():
        logits = prototypes(x)
    assert torch.equal(logits.argmax(1), nearest_class)
    sigma = prototypes.log_sigma.exp()
    assert torch.allclose(-logits.amax(1), distances.amin(1).pow(2) / (2 * sigma**2), rtol=1e-4, atol=1e-2)


@pytest.mark.parametrize("build", [lambda: _untrained_cvae(), lambda: VAEClassifier().eval()])
def test_sampling_is_fixed_in_eval_and_fresh_inside_stochastic(build, few_images):
    model, x = build(), few_images.x[:5]
    with torch.no_grad():
        fixed = model(x)
        with stochastic(model):
            draws = [model(x) for _ in range(2)]
        assert not torch.equal(draws[0], draws[1])
        assert torch.equal(model(x), fixed)


def test_the_vae_classifier_uses_the_posterior_mean_in_eval(few_images):
    model, x = VAEClassifier().eval(), few_images.x[:5]
    with torch.no_grad():
        mean, _ = model.encoder(x)
        assert torch.equal(model(x), model.head(mean))


def test_pretraining_freezes_the_encoder_while_the_head_learns(mnist, monkeypatch):
    """Only the head changes once the encoder is pre-trained; the encoder is the VAE's."""
    snapshots = {}
    real_fit = vae_module.fit_classifier

    def watched_fit(model, *args, **kwargs):
        snapshots["encoder"] = {k: v.clone() for k, v in model.encoder.state_dict().items()}
        snapshots["head"] = {k: v.clone() for k, v in model.head.state_dict().items()}
        return real_fit(model, *args, **kwargs)

    monkeypatch.setattr(vae_module, "fit_classifier", watched_fit)
    torch.manual_seed(0)
    model = VAEClassifier()
    before = {k: v.clone() for k, v in model.encoder.state_dict().items()}
    train, val = Split(mnist.train.x[:600], mnist.train.y[:600]), Split(mnist.val.x[:200], mnist.val.y[:200])
    config = {"epochs": 1, "head_epochs": 1, "batch_size": 100, "lr": 1e-3, "seed": 0,
              "model": "vae_classifier_pretrained"}
    vae_module.train_pretrained_vae_classifier(model, train, val, config)
    encoder, head = model.encoder.state_dict(), model.head.state_dict()
    assert any(not torch.equal(before[k], snapshots["encoder"][k]) for k in before)  # pre-training moved it
    assert all(torch.equal(encoder[k], snapshots["encoder"][k]) for k in encoder)  # the head's training did not
    assert any(not torch.equal(head[k], snapshots["head"][k]) for k in head)
    assert all(p.requires_grad for p in model.parameters())


def test_the_smoke_cvae_classifies_and_both_rules_share_its_weights(mnist):
    cvae = load_model("cvae", "smoke", data=mnist)
    prototypes = load_model("cvae_prototypes", "smoke", data=mnist)
    test = Split(mnist.test.x[:500], mnist.test.y[:500])
    with torch.no_grad():
        accuracy = float((cvae(test.x).argmax(1) == test.y).double().mean())
        reference = CVAEPrototypes()
        reference.refresh(cvae.cvae)
        assert torch.equal(reference.prototypes, prototypes.prototypes)
    assert accuracy > 0.75
    report = training_report("cvae", "smoke")["report"]
    assert report["val_elbo"] == pytest.approx(max(report["val_elbo_per_epoch"]), abs=0.01)
    counts = torch.bincount(training_subset(mnist, get_profile("smoke")).y, minlength=10).to(cvae.log_prior.dtype)
    assert torch.allclose(cvae.log_prior.exp(), counts / counts.sum())  # p(y): the training frequencies


def test_eot_pgd_with_one_draw_is_pgd_on_a_deterministic_model(models, few_images):
    model, x, y = models["logistic_regression"], few_images.x[:20], few_images.y[:20]
    pgd = make_attack("pgd_linf", "smoke")
    eot = make_attack("eot_pgd_linf", "smoke", draws=1)
    torch.manual_seed(0)
    expected = pgd.generate(model, x, y, eps=0.1, device=torch.device("cpu"))
    torch.manual_seed(0)
    assert torch.allclose(eot.generate(model, x, y, eps=0.1, device=torch.device("cpu")), expected)


def test_eot_attacks_the_sampling_model_and_leaves_it_deterministic(few_images):
    torch.manual_seed(0)
    model = VAEClassifier().eval()
    calls = []
    model.head.register_forward_hook(lambda module, args, out: calls.append(model.resample))
    outcome = make_attack("eot_pgd_linf", "smoke", steps=2, draws=3).run(
        model, few_images.x[:10], few_images.y[:10], [0.1], device=torch.device("cpu"), seed=0)
    assert calls and all(calls) and not model.resample
    assert outcome.fooled.shape == (1, 10)


def test_the_eot_check_attacks_only_sampling_models_both_ways_on_the_same_images():
    from genrob.params import eot_config, sweep_config

    config = eot_config(sweep_config(profile="extended", family="vae"))
    assert config.models == ("cvae", "vae_classifier", "vae_classifier_pretrained")
    assert config.attacks == ("pgd_linf", "eot_pgd_linf") and config.n == 100
    assert eot_config(sweep_config(profile="smoke", family="vae")).n == 10
    assert eot_config(sweep_config(profile="default", family="vae")).n == 50  # the chapter's, below the cap
    assert config.linf_eps == (0.1, 0.2, 0.3)
    assert eot_config(sweep_config(profile="default", family="vae", linf_eps=[0.4, 0.5])).linf_eps == (0.4,)


def test_the_prototypes_squared_norms_are_computed_once_per_state_of_the_buffer():
    model = CVAEPrototypes(prototypes=3)
    x = torch.rand(2, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    before, norms = model(x), model._squared_norms()
    assert model._squared_norms() is norms  # an attack's every call reuses them
    with torch.no_grad():
        model.prototypes.add_(0.5)  # as refresh() changes them in place: recomputed
    assert model._squared_norms() is not norms and not torch.equal(model(x), before)
