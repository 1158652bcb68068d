"""How many pixels an l_inf budget lets the binary CNN see flip, and how far interval bounds get on it.

Run: GENROB_DATA=... GENROB_STORE_ONLY=1 python docs/measurements/exact-2026-12-07/binary_cnn_bounds.py
(the extended store's weights, restored from evidence/extended by `python -m genrob restore --profile extended`).
The interval-bound propagation is that of the attic branch `attic/binary-cnn-branch-and-bound`, inlined here.
"""

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from genrob.data import evaluation_subset, load_mnist
from genrob.environment import use_precision
from genrob.models import load_model
from genrob.profiles import get_profile


def interval_margin(layers, low, high, y):
    *hidden, head = layers
    for layer in hidden:
        if isinstance(layer, (nn.Conv2d, nn.Linear)):
            centre, radius = layer((high + low) / 2), (high - low) / 2
            radius = (F.conv2d(radius, layer.weight.abs(), None, layer.stride, layer.padding)
                      if isinstance(layer, nn.Conv2d) else F.linear(radius, layer.weight.abs()))
            low, high = centre - radius, centre + radius
        elif isinstance(layer, nn.ReLU):
            low, high = low.clamp_min(0), high.clamp_min(0)
        else:
            low, high = layer(low), layer(high)
    difference = head.weight[y][None, :] - head.weight
    margins = torch.minimum(low[:, None, :] * difference, high[:, None, :] * difference).sum(-1)
    margins = margins + head.bias[y] - head.bias
    margins[:, y] = torch.inf
    return float(margins.min())


profile = get_profile("extended")
use_precision(profile.torch_dtype)
data = load_mnist().to(profile.torch_dtype)
subset = evaluation_subset(data.test, 200, seed=0)
flat = subset.x.flatten(1)
print("flippable pixels over the 200 evaluation images of the convolutional family")
for eps in (0.1, 0.2, 0.3):
    down, up = (flat - eps).clamp(0, 1), (flat + eps).clamp(0, 1)
    free = torch.where(flat > 0.5, down <= 0.5, up > 0.5).sum(1).numpy()
    print(f"  eps {eps}: median {np.median(free):.0f}, mean {free.mean():.1f}, max {free.max()}")
model = load_model("cnn_binary", profile, data=data, device=torch.device("cpu")).cpu().double().eval()
layers = [*model.encoder.features, model.head]
print("interval bound on the margin with the first m flippable pixels (eps 0.1) left in [0, 1], m = 0, 1, 2, ...")
with torch.no_grad():
    for i in (1, 4, 5, 6):
        binary = (flat[i] > 0.5).double()[None]
        y = int(subset.y[i])
        free = torch.where(flat[i] > 0.5, (flat[i] - 0.1).clamp(0, 1) <= 0.5,
                           (flat[i] + 0.1).clamp(0, 1) > 0.5).nonzero().flatten()
        bounds = []
        for m in range(min(len(free), 6) + 1):
            low, high = binary.clone(), binary.clone()
            low[0, free[:m]], high[0, free[:m]] = 0, 1
            bounds.append(round(interval_margin(layers, low.view(1, 1, 28, 28), high.view(1, 1, 28, 28), y), 1))
        print(f"  image {i} ({len(free)} flippable): {bounds}")
