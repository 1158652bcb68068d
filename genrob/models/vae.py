"""The fully connected VAE family: a conditional VAE as a classifier, and its discriminative counterparts.

The generative model factorises as p(y) p(z) p(x | z, y), z ~ N(0, I) of
:data:`LATENT` dimensions, with a Gaussian decoder p(x | z, y) = N(mu(z, y), sigma^2 I)
whose scalar sigma is learned with the rest (so the Euclidean reconstruction loss
the paper trains on is a proper log-likelihood). The encoder q(z | x, y) is a
diagonal Gaussian. Both networks take the class as a one-hot input.

Two rules turn the trained CVAE into a classifier:

- :class:`CVAEClassifier`, the principled one: logit_y = log p(y) + an
  importance-weighted estimate of log p(x | y) with K samples from q(z | x, y)
  (Burda et al. 2016);
- :class:`CVAEPrototypes`, the paper's: decode a fixed set of prior samples per
  class once, and score x by its smallest squared distance to a class's decoded
  means, divided by 2 sigma^2. That is the largest term of an equal-weight
  mixture of Gaussians at those means, so it is still (an approximation of)
  log p(x | y).

The counterparts share the encoder architecture: :class:`VAEClassifier` (the
encoder q(z | x), a latent and a ReLU head, trained end to end on cross-entropy),
the same network on top of a frozen encoder pre-trained as an unconditional VAE,
and a plain MLP. Sampling makes these models stochastic; in eval mode they use a
fixed noise buffer (CVAE) or the posterior mean (VAE classifiers), and
:func:`genrob.contract.stochastic` switches the sampling back on for expectation over transformation.
"""

from __future__ import annotations

import math
from typing import Mapping

import torch
from torch import nn

from genrob.contract import N_CLASSES, PIXELS, in_chunks, model_device, once_per_state
from genrob.data import Split
from genrob.models.registry import ModelSpec, get_spec, load_model, register
from genrob.models.training import fit, fit_classifier

HIDDEN = 500
LATENT = 20
#: Importance samples per class for the CVAE's log p(x | y), fixed for evaluation.
IMPORTANCE_SAMPLES = 10
#: Images per chunk of the CVAE's logits: 5 000 decoder rows, whose intermediates fit the caches.
CHUNK_IMAGES = 50
#: Decoded prior samples per class for the paper's rule (the paper used 100).
PROTOTYPES = 100
LOG_2PI = math.log(2 * math.pi)


def log_standard_normal(z: torch.Tensor) -> torch.Tensor:
    """log N(z; 0, I), summed over the last dimension."""
    return -0.5 * (z.pow(2).sum(-1) + z.shape[-1] * LOG_2PI)


def posterior_samples(mean: torch.Tensor, log_var: torch.Tensor,
                      noise: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """z_k = mean + std * noise_k and log q(z_k) for K standard-normal ``noise`` rows (K, L).

    ``mean`` and ``log_var`` are (..., L); both results gain a sample axis before
    the last: z is (..., K, L), log q is (..., K).
    """
    z = mean[..., None, :] + (0.5 * log_var)[..., None, :].exp() * noise
    return z, log_standard_normal(noise) - 0.5 * log_var.sum(-1, keepdim=True)


def gaussian_log_likelihood(x_flat: torch.Tensor, mean: torch.Tensor, log_sigma: torch.Tensor) -> torch.Tensor:
    """log N(x; mean, sigma^2 I) summed over the last (pixel) dimension; broadcasts over leading dims."""
    return (-0.5 * ((x_flat - mean) / log_sigma.exp()).pow(2).sum(-1)
            - x_flat.shape[-1] * (log_sigma + 0.5 * LOG_2PI))


def importance_weighted(log_weights: torch.Tensor) -> torch.Tensor:
    """log (1/K) sum_k exp(log_weights_k) over the last (sample) axis."""
    return log_weights.logsumexp(-1) - math.log(log_weights.shape[-1])


class Encoder(nn.Module):
    """q(z | x) or q(z | x, y): two ReLU layers of :data:`HIDDEN` units to a diagonal Gaussian.

    The class enters the first layer additively (its one-hot times a weight matrix),
    so the image's share of that layer is computed once for all ten classes.
    """

    def __init__(self, *, conditional: bool) -> None:
        super().__init__()
        self.image = nn.Linear(PIXELS, HIDDEN)
        self.label = nn.Embedding(N_CLASSES, HIDDEN) if conditional else None
        self.body = nn.Sequential(nn.ReLU(), nn.Linear(HIDDEN, HIDDEN), nn.ReLU())
        self.mean = nn.Linear(HIDDEN, LATENT)
        self.log_var = nn.Linear(HIDDEN, LATENT)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean and log-variance for each image (and its class ``y``, if conditional)."""
        first = self.image(x.flatten(1))
        if self.label is not None:
            first = first + self.label(y)
        hidden = self.body(first)
        return self.mean(hidden), self.log_var(hidden)

    def every_class(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean and log-variance of q(z | x, y) for all ten y: (N, 10, LATENT) each."""
        first = self.image(x.flatten(1))[:, None, :] + self.label.weight[None, :, :]
        hidden = self.body(first)
        return self.mean(hidden), self.log_var(hidden)


class Decoder(nn.Module):
    """p(x | z[, y]) = N(mu, sigma^2 I): two ReLU layers to a sigmoid mean, one learned sigma."""

    def __init__(self, *, conditional: bool) -> None:
        super().__init__()
        self.latent = nn.Linear(LATENT, HIDDEN)
        self.label = nn.Embedding(N_CLASSES, HIDDEN) if conditional else None
        self.body = nn.Sequential(nn.ReLU(), nn.Linear(HIDDEN, HIDDEN), nn.ReLU(), nn.Linear(HIDDEN, PIXELS))
        self.log_sigma = nn.Parameter(torch.tensor(math.log(0.2)))

    def mean(self, z: torch.Tensor, label_term: torch.Tensor | None = None) -> torch.Tensor:
        """Decoded means (flattened); ``label_term`` is the class's row of the label layer."""
        first = self.latent(z)
        if label_term is not None:
            first = first + label_term
        return torch.sigmoid(self.body(first))

    def log_likelihood(self, x_flat: torch.Tensor, mean: torch.Tensor) -> torch.Tensor:
        """log N(x; mean, sigma^2 I), summed over pixels (broadcasts over leading dims)."""
        return gaussian_log_likelihood(x_flat, mean, self.log_sigma)


class VAE(nn.Module):
    """A VAE trained on its ELBO: conditional (the CVAE, which the classifiers below wrap) or not
    (pre-trained to give the pre-trained VAE classifier its encoder)."""

    def __init__(self, *, conditional: bool) -> None:
        super().__init__()
        self.encoder = Encoder(conditional=conditional)
        self.decoder = Decoder(conditional=conditional)

    def elbo(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """Per-image ELBO of log p(x | y) (or log p(x)) with one reparameterised sample."""
        conditional = self.decoder.label is not None
        mean, log_var = self.encoder(x, y if conditional else None)
        z = mean + (0.5 * log_var).exp() * torch.randn_like(mean)
        recon = self.decoder.mean(z, self.decoder.label(y) if conditional else None)
        kl = 0.5 * (mean.pow(2) + log_var.exp() - 1 - log_var).sum(1)
        return self.decoder.log_likelihood(x.flatten(1), recon) - kl


class CVAEClassifier(nn.Module):
    """logit_y = log p(y) + log (1/K) sum_k p(x | z_k, y) p(z_k) / q(z_k | x, y), z_k ~ q(z | x, y).

    In eval mode the K standard-normal draws behind z_k are a fixed buffer, shared by
    every image and class, so the logits are a deterministic function of x. All
    classes and samples go through the decoder in one batched pass.
    """

    def __init__(self, samples: int = IMPORTANCE_SAMPLES) -> None:
        super().__init__()
        self.cvae = VAE(conditional=True)
        self.register_buffer("noise", torch.randn(samples, LATENT, generator=torch.Generator().manual_seed(0)))
        self.register_buffer("log_prior", torch.full((N_CLASSES,), -math.log(N_CLASSES)))
        self.resample = False

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        noise = torch.randn_like(self.noise) if self.resample else self.noise  # (K, L), one draw per call
        return in_chunks(lambda part: self._logits(part, noise), x, CHUNK_IMAGES)

    def _logits(self, x: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        encoder, decoder = self.cvae.encoder, self.cvae.decoder
        mean, log_var = encoder.every_class(x)  # (N, 10, L)
        z, log_qz = posterior_samples(mean, log_var, noise)  # (N, 10, K, L), (N, 10, K)
        recon = decoder.mean(z, decoder.label.weight[None, :, None, :])  # (N, 10, K, 784)
        log_px = decoder.log_likelihood(x.flatten(1)[:, None, None, :], recon)
        log_px_given_y = importance_weighted(log_px + log_standard_normal(z) - log_qz)
        return log_px_given_y + self.log_prior


class CVAEPrototypes(nn.Module):
    """The paper's rule: logit_y = -min_k ||x - mu(z_k, y)||^2 / (2 sigma^2), z_k fixed prior draws.

    The decoded means depend on the class only, so they are computed once
    (:meth:`refresh`) and kept as a buffer; a prediction is a nearest-prototype search.
    """

    def __init__(self, prototypes: int = PROTOTYPES) -> None:
        super().__init__()
        self.register_buffer("prototypes", torch.zeros(N_CLASSES, prototypes, PIXELS))
        self.register_buffer("log_sigma", torch.tensor(0.0))

    @torch.no_grad()
    def refresh(self, cvae: VAE, *, seed: int = 0) -> None:
        """Decode ``prototypes`` prior draws for every class with ``cvae``."""
        count = self.prototypes.shape[1]
        z = torch.randn(count, LATENT, generator=torch.Generator().manual_seed(seed)).to(self.prototypes.device)
        decoder = cvae.decoder
        self.prototypes.copy_(decoder.mean(z[None], decoder.label.weight[:, None, :]))
        self.log_sigma.copy_(decoder.log_sigma)

    def _squared_norms(self) -> torch.Tensor:
        """||m||^2 of every prototype, once per state of the buffer."""
        return once_per_state(self, "_squared_norms_cache", (self.prototypes,),
                              lambda: self.prototypes.flatten(0, 1).pow(2).sum(1)[None, :])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        flat = x.flatten(1)
        # ||x - m||^2 = ||x||^2 - 2 x.m + ||m||^2, as one matrix product for all prototypes
        squared = (flat.pow(2).sum(1)[:, None] - 2 * flat @ self.prototypes.flatten(0, 1).T
                   + self._squared_norms())
        nearest = squared.clamp_min(0).view(len(x), N_CLASSES, -1).amin(-1)
        return -nearest / (2 * (2 * self.log_sigma).exp())


class VAEClassifier(nn.Module):
    """The encoder q(z | x), a latent z and a ReLU head to class logits (log-softmax up to a constant).

    Training samples z by the reparameterisation; eval mode uses the posterior mean.
    """

    def __init__(self) -> None:
        super().__init__()
        self.encoder = Encoder(conditional=False)
        self.head = nn.Sequential(nn.Linear(LATENT, HIDDEN), nn.ReLU(), nn.Linear(HIDDEN, N_CLASSES))
        self.resample = False

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mean, log_var = self.encoder(x)
        z = mean + (0.5 * log_var).exp() * torch.randn_like(mean) if self.training or self.resample else mean
        return self.head(z)


class MLP(nn.Module):
    """The paper's vanilla network: two ReLU layers of :data:`HIDDEN` units."""

    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(PIXELS, HIDDEN), nn.ReLU(),
                                 nn.Linear(HIDDEN, HIDDEN), nn.ReLU(), nn.Linear(HIDDEN, N_CLASSES))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def _negative_elbo(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return -model.elbo(x, y).mean()


@torch.no_grad()
def validation_elbo(model: nn.Module, val: Split, *, seed: int = 0) -> float:
    """Mean ELBO on ``val``, with the same draws every time it is called (so epochs compare fairly)."""
    device = model_device(model)
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        return float(torch.cat([model.elbo(val.x[i : i + 1000].to(device), val.y[i : i + 1000].to(device))
                                for i in range(0, len(val), 1000)]).mean())


def fit_elbo(model: nn.Module, train: Split, val: Split, *, epochs: int, batch_size: int, lr: float,
             seed: int, desc: str) -> dict:
    """Maximise the mean ``model.elbo(x, y)`` with Adam; keep the epoch with the best validation ELBO."""
    return fit(model, train, val, loss=_negative_elbo, score=lambda m, split: validation_elbo(m, split, seed=seed),
               score_name="elbo", epochs=epochs, batch_size=batch_size, lr=lr, seed=seed, desc=desc)


def _with_sigma(report: dict, decoder: Decoder) -> dict:
    return {**report, "sigma": round(decoder.log_sigma.exp().item(), 4)}


def _elbo_settings(config: Mapping) -> dict:
    return {"epochs": config["epochs"], "batch_size": config["batch_size"], "lr": config["lr"],
            "seed": config["seed"], "desc": config["model"]}


def train_cvae(model: CVAEClassifier, train: Split, val: Split, config: Mapping) -> dict:
    report = _with_sigma(fit_elbo(model.cvae, train, val, **_elbo_settings(config)), model.cvae.decoder)
    counts = torch.bincount(train.y, minlength=N_CLASSES).double()
    model.log_prior.copy_((counts / counts.sum()).log())
    return report


def train_prototypes(model: CVAEPrototypes, train: Split, val: Split, config: Mapping) -> dict:
    """No training of its own: decode prototypes with the trained CVAE of the same profile."""
    trained = load_model("cvae", config["profile"])
    model.refresh(trained.cvae.to(model.prototypes.device), seed=config["seed"])
    return {"from": "cvae", "prototypes_per_class": model.prototypes.shape[1]}


def train_vae_classifier(model: VAEClassifier, train: Split, val: Split, config: Mapping) -> dict:
    return fit_classifier(model, train, val, epochs=config["epochs"], batch_size=config["batch_size"],
                          lr=config["lr"], seed=config["seed"], desc=config["model"])


def train_pretrained_vae_classifier(model: VAEClassifier, train: Split, val: Split, config: Mapping) -> dict:
    """Fit an unconditional VAE on its ELBO, freeze its encoder, train only the head."""
    vae = VAE(conditional=False).to(model_device(model))
    pretraining = _with_sigma(fit_elbo(vae, train, val, **{**_elbo_settings(config), "desc": "vae (pre-training)"}),
                              vae.decoder)
    model.encoder.load_state_dict(vae.encoder.state_dict())
    model.encoder.requires_grad_(False)
    head = fit_classifier(model, train, val, epochs=config["head_epochs"], batch_size=config["batch_size"],
                          lr=config["lr"], seed=config["seed"], desc=config["model"])
    model.encoder.requires_grad_(True)
    return {"pretraining": pretraining, "head": head}


def _vae_training(profile) -> dict:
    return {"epochs": profile.epochs(30), "batch_size": 128, "lr": 1e-3, "hidden": HIDDEN, "latent": LATENT}


def _classifier_training(profile) -> dict:
    return {"epochs": profile.epochs(15), "batch_size": 128, "lr": 1e-3, "hidden": HIDDEN, "latent": LATENT}


COUNTERPARTS = ("vae_classifier", "vae_classifier_pretrained", "mlp")

# The paper's CVAE classifier scores a class by the nearest of 100 decoded prior draws (its Section 3), which
# is cvae_prototypes: that model answers the paper's CVAE numbers and its claims. The importance-weighted
# likelihood of the same CVAE is the generative classifier the paper's question is about, shown beside it.
register(ModelSpec(
    name="cvae", paper_name="CVAE", family="vae", kind="generative", counterparts=COUNTERPARTS,
    build=CVAEClassifier, train=train_cvae, rules_on_paper=False,
    training=lambda profile: {**_vae_training(profile), "importance_samples": IMPORTANCE_SAMPLES},
    description=f"conditional VAE; logit = log p(y) + importance-weighted log p(x | y), K = {IMPORTANCE_SAMPLES}",
))

register(ModelSpec(
    name="cvae_prototypes", paper_name="CVAE", family="vae", kind="generative", counterparts=COUNTERPARTS,
    build=CVAEPrototypes, train=train_prototypes,
    training=lambda profile: {"profile": profile.name, "cvae": get_spec("cvae").config_hash(profile),
                              "prototypes": PROTOTYPES},
    description=f"the same CVAE, scored by the paper's rule: nearest of {PROTOTYPES} decoded prior draws per class",
))

register(ModelSpec(
    name="vae_classifier", paper_name="VAE Classifier", family="vae", kind="discriminative", counterparts=(),
    build=VAEClassifier, train=train_vae_classifier, training=_classifier_training,
    description="encoder q(z | x), a latent, a ReLU head; trained end to end on cross-entropy",
))

register(ModelSpec(
    name="vae_classifier_pretrained", paper_name="VAE Classifier Pre-trained", family="vae",
    kind="discriminative", counterparts=(), build=VAEClassifier, train=train_pretrained_vae_classifier,
    training=lambda profile: {**_vae_training(profile), "head_epochs": profile.epochs(15)},
    description="the same network on the frozen encoder of a VAE pre-trained on its ELBO",
))

register(ModelSpec(
    name="mlp", paper_name="Vanilla NN", family="vae", kind="discriminative", counterparts=(),
    build=MLP, train=train_vae_classifier, training=_classifier_training,
    description=f"fully connected network, two ReLU layers of {HIDDEN} units",
))

#: Graphical models for the chapter's figure (see :func:`genrob.plots.graphical_models`).
GRAPHS = {
    "CVAE": {
        "nodes": {"y": (-0.6, 1.8, "$y$", False), "z": (0.6, 1.8, "$z$", False), "x": (0, 0, "$x$", True)},
        "edges": [("y", "x"), ("z", "x")],
    },
    "VAE classifier": {
        "nodes": {"x": (0, 2.4, "$x$", True), "z": (0, 1.2, "$z$", False), "y": (0, 0, "$y$", False)},
        "edges": [("x", "z"), ("z", "y")],
    },
    "MLP": {
        "nodes": {"x": (0, 2.4, "$x$", True), "y": (0, 0, "$y$", False)},
        "edges": [("x", "y")],
    },
}
