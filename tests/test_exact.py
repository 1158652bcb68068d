"""genrob.models.exact: the exact minimum of a model's margin within the eps ball, against brute force."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from genrob.contract import flip_targets
from genrob.models.exact import BREAKABLE, ROBUST, ising, separable_l2, separable_linf
from genrob.models.mrf import IsingClassifier
from genrob.models.naive_bayes import GaussianNaiveBayes, LogisticRegression

PIXELS, CLASSES = 3, 3


def _models(seed: int = 0) -> dict[str, torch.nn.Module]:
    generator = torch.Generator().manual_seed(seed)
    linear = LogisticRegression(n_features=PIXELS, n_classes=CLASSES).double()
    with torch.no_grad():
        linear.linear.weight.copy_(torch.randn(CLASSES, PIXELS, generator=generator, dtype=torch.float64) * 3)
        linear.linear.bias.copy_(torch.randn(CLASSES, generator=generator, dtype=torch.float64))
    bayes = GaussianNaiveBayes(n_features=PIXELS, n_classes=CLASSES).double()
    bayes.mean.copy_(torch.rand(CLASSES, PIXELS, generator=generator, dtype=torch.float64))
    bayes.variance.copy_(0.01 + 0.2 * torch.rand(CLASSES, PIXELS, generator=generator, dtype=torch.float64))
    bayes.variance_floor.fill_(0.001)
    return {"logistic regression": linear, "naive Bayes": bayes}


@torch.no_grad()
def _grid_minimum(model, x, y, points) -> float:
    """The smallest margin logit_y - max_j logit_j over ``points`` (rows of candidate images)."""
    logits = model(points)
    others = logits.clone()
    others[:, y] = -torch.inf
    return float((logits[:, y] - others.max(1).values).min())


def _box_points(x: torch.Tensor, eps: float, steps: int = 41) -> torch.Tensor:
    axes = [torch.linspace(float((v - eps).clamp(0, 1)), float((v + eps).clamp(0, 1)), steps, dtype=torch.float64)
            for v in x]
    return torch.tensor(list(itertools.product(*[a.tolist() for a in axes])), dtype=torch.float64)


@pytest.mark.parametrize("name", ["logistic regression", "naive Bayes"])
def test_the_separable_minimum_over_the_box_is_a_fine_grid_searchs_and_below_it(name):
    model = _models()[name]
    rng = torch.Generator().manual_seed(1)
    x = torch.rand(12, PIXELS, generator=rng, dtype=torch.float64)
    y = model(x).argmax(1)  # every image correctly classified
    answer = separable_linf(model, x, y, 0.3)
    for n in range(len(y)):
        grid = _grid_minimum(model, x[n], int(y[n]), _box_points(x[n], 0.3))
        assert answer.exact[n] and answer.lower[n] <= grid + 1e-9  # nothing in the box goes lower ...
        assert answer.lower[n] == pytest.approx(grid, abs=2e-2)  # ... and the grid comes close to it
        adversarial = answer.adversarial[n]
        assert float((adversarial - x[n]).abs().max()) <= 0.3 + 1e-12 and 0 <= float(adversarial.min())
        # the minimiser attains the margin the solver reports
        assert _grid_minimum(model, x[n], int(y[n]), adversarial[None]) == pytest.approx(answer.attained[n], abs=1e-9)
    status = answer.status()
    assert set(status) <= {ROBUST, BREAKABLE}
    # every breakable image is confirmed by the model's own forward pass on the adversarial
    broken = status == BREAKABLE
    assert (model(answer.adversarial[broken]).argmax(1) != y[broken]).all()


@pytest.mark.parametrize("name", ["logistic regression", "naive Bayes"])
def test_the_l2_minimum_is_exact_for_the_linear_model_and_a_bound_that_closes_or_says_so(name):
    model = _models()[name]
    rng = torch.Generator().manual_seed(2)
    x = torch.rand(12, PIXELS, generator=rng, dtype=torch.float64)
    y = model(x).argmax(1)
    eps = 0.4
    answer = separable_l2(model, x, y, eps)
    for n in range(len(y)):
        box = _box_points(x[n], eps, steps=61)
        ball = box[(box - x[n]).norm(dim=1) <= eps]
        grid = _grid_minimum(model, x[n], int(y[n]), ball)
        assert answer.lower[n] <= grid + 1e-9  # no point of the ball goes lower
        assert _grid_minimum(model, x[n], int(y[n]), answer.adversarial[n][None]) == pytest.approx(
            answer.attained[n], abs=1e-9)  # the point found has the margin reported
        if name == "logistic regression":  # convex: the bound is the minimum
            assert answer.exact[n] and answer.lower[n] == pytest.approx(grid, abs=2e-2)
        assert float((answer.adversarial[n] - x[n]).norm()) <= eps * (1 + 1e-9)
    broken = answer.status() == BREAKABLE
    assert (model(answer.adversarial[broken]).argmax(1) != y[broken]).all()
    assert (answer.status() != "undecided").mean() > 0.8


def _tiny_ising(seed: int = 0) -> IsingClassifier:
    generator = torch.Generator().manual_seed(seed)
    model = IsingClassifier(height=3, width=3, n_classes=2).double()
    with torch.no_grad():
        for parameter in (model.unary, model.horizontal, model.vertical):
            parameter.copy_(torch.randn(parameter.shape, generator=generator, dtype=torch.float64))
        model.log_partition.copy_(torch.randn(2, generator=generator, dtype=torch.float64))
    return model


def _brute_force_minima(model, x, y, eps, norm) -> list[float]:
    """Per image, the smallest margin over every set of affordable flips, each pixel moved to its target."""
    flat = x.flatten(1)
    target, cost = flip_targets(flat, 0.5)
    minima = []
    for n in range(len(y)):
        free = np.flatnonzero((cost[n] <= eps).numpy() if norm == "linf" else (cost[n] ** 2 <= eps ** 2).numpy())
        best = np.inf
        for size in range(len(free) + 1):
            for flips in itertools.combinations(free, size):
                flips = list(flips)
                if norm == "l2" and float((cost[n, flips] ** 2).sum()) > eps * eps:
                    continue
                image = flat[n].clone()
                image[flips] = target[n, flips]
                best = min(best, _grid_minimum(model, None, int(y[n]), image.view(1, 1, 3, 3)))
        minima.append(best)
    return minima


ISING_CASES = [("linf", 0.3), ("linf", 0.15), ("l2", 0.4), ("l2", 0.25)]


def _tiny_ising_images() -> tuple[IsingClassifier, torch.Tensor, torch.Tensor]:
    model = _tiny_ising()
    rng = torch.Generator().manual_seed(3)
    x = torch.rand(16, 9, generator=rng, dtype=torch.float64).view(16, 1, 3, 3)
    return model, x, model(x).argmax(1)


@pytest.mark.parametrize("norm, eps", ISING_CASES)
def test_the_ising_milp_is_brute_force_over_every_reachable_binary_image(norm, eps):
    """A 3 x 3 Ising model with 2 classes: every set of affordable flips enumerated."""
    model, x, y = _tiny_ising_images()
    answer = ising(model, x, y, eps, norm)
    for n, best in enumerate(_brute_force_minima(model, x, y, eps, norm)):
        assert answer.exact[n] and answer.attained[n] == pytest.approx(best, abs=1e-7)
    broken = answer.status() == BREAKABLE
    assert broken.any() and (~broken).any()  # both kinds of image occur
    assert (model(answer.adversarial[broken]).argmax(1) != y[broken]).all()
    delta = (answer.adversarial - x).flatten(1)
    sizes = delta.abs().amax(1) if norm == "linf" else delta.norm(dim=1)
    assert (sizes <= eps * (1 + 1e-12)).all()


@pytest.mark.parametrize("norm, eps", ISING_CASES)
def test_the_ising_decision_settles_the_same_images_as_brute_force(norm, eps):
    """Asked only whether the margin exceeds a level, the MILP certifies exactly the images whose smallest
    margin lies above twice it, and breaks the others with a point the model misclassifies."""
    model, x, y = _tiny_ising_images()
    level = 1e-4
    answer = ising(model, x, y, eps, norm, certify_above=level)
    minima = np.array(_brute_force_minima(model, x, y, eps, norm))
    status = answer.status()
    assert (status[minima > 2 * level] == ROBUST).all()
    assert (status[minima <= 0] == BREAKABLE).all()
    assert (answer.lower[minima > 2 * level] >= 2 * level).all()  # exactly the margin where nothing can flip
    broken = status == BREAKABLE
    assert broken.any() and (status == ROBUST).any()
    assert (model(answer.adversarial[broken]).argmax(1) != y[broken]).all()


def test_the_nearest_prototype_lp_is_a_fine_grid_searchs_minimum_and_below_it():
    """Ten classes of two prototypes each in two pixels: the LPs' minimum of the margin over the l_inf box
    against a 201 x 201 grid of the box."""
    from genrob.models.exact import prototypes_linf
    from genrob.models.vae import CVAEPrototypes

    generator = torch.Generator().manual_seed(0)
    model = CVAEPrototypes(prototypes=2).double()
    model.prototypes = torch.rand(10, 2, 2, generator=generator, dtype=torch.float64)
    x = torch.rand(24, 2, generator=generator, dtype=torch.float64)
    y = model(x).argmax(1)
    answer = prototypes_linf(model, x, y, 0.1, certify_above=1e-9)
    for n in range(len(y)):
        axes = [torch.linspace(float((v - 0.1).clamp(0, 1)), float((v + 0.1).clamp(0, 1)), 201,
                               dtype=torch.float64) for v in x[n]]
        grid = torch.cartesian_prod(*axes)
        smallest = _grid_minimum(model, None, int(y[n]), grid)
        assert answer.attained[n] <= smallest + 1e-9 or answer.lower[n] <= smallest + 1e-9
        if answer.status()[n] == ROBUST:
            assert answer.lower[n] == pytest.approx(smallest, abs=1e-2) and smallest > 0
        else:
            assert smallest <= 1e-2  # the grid comes close to a misclassified point
    status = answer.status()
    assert (status == BREAKABLE).any() and (status == ROBUST).any()
    broken = status == BREAKABLE
    assert (model(answer.adversarial[broken]).argmax(1) != y[broken]).all()
    assert float((answer.adversarial - x).abs().max()) <= 0.1 + 1e-12
