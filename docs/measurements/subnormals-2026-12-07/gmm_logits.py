"""The `extended` GMM's logits with its subnormal means read as 0 (the code since issue 51) against the same
logits computed from the means as stored, on the 10 000 test images: clean, with uniform noise of 0.3 and with
Gaussian noise of 0.05 (clipped to [0, 1]). Run from the repository root."""

import math

import torch

from genrob import evidence
from genrob.data import load_mnist
from genrob.models import load_model

evidence.restore_weights("extended")
model = load_model("gmm", "extended")
x = load_mnist().test.x
generator = torch.Generator().manual_seed(0)
images = {"clean": x, "uniform noise 0.3": (x + 0.3 * (2 * torch.rand(x.shape, generator=generator) - 1)).clamp(0, 1),
          "Gaussian noise 0.05": (x + 0.05 * torch.randn(x.shape, generator=generator)).clamp(0, 1)}


def as_stored(x: torch.Tensor) -> torch.Tensor:
    """The logits as the code before issue 51 computed them (the means unchanged)."""
    classes, components, features = model.means.shape
    precision = (1 / model.variances).view(classes * components, features)
    scaled_means = (model.means / model.variances).view(classes * components, features)
    mean_term = (model.means * scaled_means.view_as(model.means)).sum(-1).view(-1)
    log_norm = torch.log(2 * math.pi * model.variances).sum(-1).view(-1)
    flat = x.flatten(1)
    squared = (flat * flat) @ precision.T - 2 * flat @ scaled_means.T + mean_term
    densities = (-0.5 * (squared + log_norm)).view(len(x), classes, components)
    return torch.logsumexp(densities + model.log_weights, dim=2) + model.log_prior


tiny = torch.finfo(model.means.dtype).tiny
print(f"{int(((model.means.abs() > 0) & (model.means.abs() < tiny)).sum())} subnormal means")
with torch.no_grad():
    for name, batch in images.items():
        now, before = model(batch), as_stored(batch)
        print(f"{name}: {int((now != before).sum())} of {now.numel()} logits differ")
