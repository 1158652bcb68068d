"""Every registered model keeps the contract; training is cached by configuration."""

from __future__ import annotations

import dataclasses
import importlib

import pytest
import torch

from genrob.models import check_contract, checkpoint_path, get_spec, load_model, model_names, registry


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


@pytest.mark.parametrize("name", model_names())
def test_training_is_repeatable(name, mnist, fresh_cache):
    """nbval compares a fresh run with stored outputs: the same data and seed must give the same weights."""
    first = load_model(name, "smoke", data=mnist, device="cpu", retrain=True).state_dict()
    second = load_model(name, "smoke", data=mnist, device="cpu", retrain=True).state_dict()
    assert all(torch.equal(first[k], second[k]) for k in first)


@pytest.mark.parametrize("name", ["cvae", "cnn_vae"])
def test_the_vaes_logits_in_chunks_are_those_of_one_batch_and_draw_noise_once(name, mnist, isolated_cache):
    from genrob.contract import stochastic

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
