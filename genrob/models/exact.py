"""Exact robustness where a model admits it: the smallest margin within the eps ball, solved, not searched.

An attack's robust accuracy is an upper bound: the images it failed to break.
For some of the study's models the minimum of the true logit minus the best
other one over the whole ball can be computed:

- **logistic regression and Gaussian naive Bayes** (:func:`separable_linf`):
  ``logit_y - logit_j`` is a sum over pixels of a linear (resp. quadratic)
  function of each pixel, so its minimum over the l_inf box ``[x - eps, x + eps]
  ∩ [0, 1]`` is the sum of one-dimensional minima, in closed form. At l_2, the
  linear model's minimum over the ball within the box is a small convex problem
  solved by its dual's one multiplier (:func:`linear_l2`); naive Bayes' quadratic
  may be concave in some pixels, and the same dual gives a lower bound that is
  exact wherever a point of the ball attains it (:func:`separable_l2`), and
  otherwise leaves the image undecided;
- **the Ising MRF** (:func:`ising`) sees the image only thresholded at 0.5: only
  pixels that the budget can carry across the threshold can change what it sees,
  and ``logit_j - logit_y`` is a quadratic function of those binary pixels over
  the grid, a small integer programme that HiGHS (``scipy.optimize.milp``) solves
  to optimality once each product of two binaries is linearised (exact for
  binaries); at l_2, with one knapsack constraint on the flips' squared costs;
- **the CVAE's prototype rule** (:func:`prototypes_linf`), a nearest-prototype
  classifier: a difference of two squared distances is linear in the image, so
  at l_inf the margin against one prototype is a linear programme (HiGHS).

Every other model has a stated reason instead (:func:`solver_of`).

Each solver answers per image: *robust* (no point of the ball is misclassified),
*breakable*, with the minimiser as the adversarial, or *undecided* (a bound that
does not close, a solver out of time). The boundary rule is the attacks': a
pixel is moved as their clipping moves it (at l_inf to x -+ eps, rounded in the
images' precision, so that a pixel whose distance to the threshold exceeds eps
by less than that rounding still flips), a flip at l_2 costs what
:func:`genrob.contract.flip_targets` says, and whether the minimiser is
misclassified is the model's own argmax in its precision, which the caller
checks by a forward pass (a tie goes to the class argmax returns first).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch

from genrob.contract import flip_targets
from genrob.models.mrf import IsingClassifier
from genrob.models.naive_bayes import GaussianNaiveBayes, LogisticRegression
from genrob.models.vae import CVAEPrototypes

ROBUST, BREAKABLE, UNDECIDED = "robust", "breakable", "undecided"


@dataclass
class Answer:
    """Per image, the margin ``logit_y - max_j logit_j`` over the ball: a lower bound on its minimum, its value
    at the point found (the adversarial where it is not positive), and that point. Where the two agree the
    minimum is solved exactly."""

    lower: np.ndarray  # (N,) float64: no point of the ball has a smaller margin
    attained: np.ndarray  # (N,) float64: the margin at ``adversarial``
    adversarial: torch.Tensor  # (N, ...) the point found, in the images' shape and dtype
    #: (N,) bool: a solver stopped at its time limit on this image (its bound may not close)
    unfinished: np.ndarray | None = None

    @property
    def exact(self) -> np.ndarray:
        """Where the bound and the point found agree: the minimum itself."""
        return np.isclose(self.lower, self.attained, rtol=1e-9, atol=1e-9)

    def status(self) -> np.ndarray:
        """Breakable where the point found is misclassified by the margin (the model's forward pass has the
        last word), robust where the bound is positive, undecided otherwise."""
        return np.where(self.attained <= 0, BREAKABLE, np.where(self.lower > 0, ROBUST, UNDECIDED))


@torch.no_grad()
def pixel_quadratics(model: torch.nn.Module, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """For each image's true class y and every class j: ``logit_y - logit_j = sum_i a_i x_i^2 + b_i x_i + c``,
    as (N, classes, pixels) ``a`` and ``b`` and (N, classes) ``c``, in float64 (j = y gives zeros)."""
    if isinstance(model, LogisticRegression):
        weight, bias = model.linear.weight.double(), model.linear.bias.double()
        b = weight[y][:, None, :] - weight[None, :, :]
        return torch.zeros_like(b), b, bias[y][:, None] - bias[None, :]
    if isinstance(model, GaussianNaiveBayes):
        variance = (model.variance + model.variance_floor).double()
        mean, prior = model.mean.double(), model.log_prior.double()
        precision = 1 / variance
        # logit_c(x) = -1/2 sum_i (x_i - m_ci)^2 / v_ci - 1/2 sum_i log(2 pi v_ci) + log p_c
        quadratic, linear = -0.5 * precision, mean * precision
        constant = -0.5 * (mean ** 2 * precision).sum(1) - 0.5 * torch.log(variance).sum(1) + prior
        return (quadratic[y][:, None, :] - quadratic[None], linear[y][:, None, :] - linear[None],
                constant[y][:, None] - constant[None])
    raise TypeError(f"{type(model).__name__}: logits not separable over pixels")


def _box_minimum(a: torch.Tensor, b: torch.Tensor, low: torch.Tensor, high: torch.Tensor
                 ) -> tuple[torch.Tensor, torch.Tensor]:
    """The minimum of ``a t^2 + b t`` over ``[low, high]``, elementwise, and where it is attained: at an end,
    or at the vertex where the parabola opens upwards and the vertex lies inside."""
    ends = torch.stack([low, high])
    values = a * ends ** 2 + b * ends
    best = torch.where(values[0] <= values[1], low, high)
    vertex = torch.where(a > 0, -b / (2 * a).clamp_min(1e-300), best).clamp(low, high)
    at_vertex = (a > 0) & (a * vertex ** 2 + b * vertex < torch.minimum(values[0], values[1]))
    point = torch.where(at_vertex, vertex, best)
    return a * point ** 2 + b * point, point


def _margin_minimum(y: torch.Tensor, per_class: torch.Tensor, points: torch.Tensor, shape: tuple,
                    dtype: torch.dtype) -> tuple[np.ndarray, torch.Tensor]:
    """The smallest of the per-class minima (the true class left out) and its minimiser, per image."""
    per_class = per_class.clone()
    per_class[torch.arange(len(y)), y] = torch.inf
    margin, worst = per_class.min(1)
    adversarial = points[torch.arange(len(y)), worst].to(dtype).view(len(y), *shape)
    return margin.numpy(), adversarial


@torch.no_grad()
def separable_linf(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, eps: float) -> Answer:
    """The exact minimum of the margin over the l_inf box, for logistic regression or naive Bayes: per
    class, the sum over pixels of each pixel's one-dimensional minimum over its interval, which is clipped
    to [0, 1] as the attacks clip (``x - eps`` and ``x + eps`` computed in the images' precision)."""
    a, b, c = pixel_quadratics(model, y)
    flat = x.flatten(1)
    low = (flat - eps).clamp(0, 1).double()[:, None, :].expand_as(a)
    high = (flat + eps).clamp(0, 1).double()[:, None, :].expand_as(a)
    values, points = _box_minimum(a, b, low, high)
    margin, adversarial = _margin_minimum(y, values.sum(-1) + c, points, x.shape[1:], x.dtype)
    return Answer(margin, margin, adversarial)


def _dual_points(a: torch.Tensor, b: torch.Tensor, low: torch.Tensor, high: torch.Tensor,
                 multiplier: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Each pixel's minimiser of ``(a + multiplier) t^2 + b t`` over its interval, and the value of
    ``a t^2 + b t`` there."""
    _, t = _box_minimum(a + multiplier[..., None], b, low, high)
    return t, a * t ** 2 + b * t


@torch.no_grad()
def separable_l2(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, eps: float, *,
                 steps: int = 64) -> Answer:
    """The minimum of the margin over the l_2 ball within [0, 1], for logistic regression (convex: exact) or
    naive Bayes (a quadratic that may be concave in some pixels).

    Per class, over the perturbations ``t`` (``x + t`` in [0, 1], ``|t| <= eps``), the Lagrangian
    ``sum_i a_i t_i^2 + b_i t_i + lambda (|t|^2 - eps^2)`` is separable; its minimum over the box is a
    lower bound on the margin for every multiplier ``lambda >= 0`` (weak duality), and the largest over
    ``lambda`` (a concave function of it, maximised by bisection on its slope, ``|t(lambda)|^2 - eps^2``)
    is the best such bound. Where the minimiser at that multiplier lies in the ball and attains the bound
    (complementary slackness), the bound is the minimum; for logistic regression it always is. Otherwise
    the minimiser, shrunk into the ball, is a feasible point whose margin is an upper bound: the image is
    decided where the two agree on the sign, undecided otherwise.
    """
    a, b, c = pixel_quadratics(model, y)
    flat = x.flatten(1).double()
    # in terms of the perturbation t: a (x + t)^2 + b (x + t) = a t^2 + (2 a x + b) t + a x^2 + b x
    at = flat[:, None, :]
    c = c + (a * at ** 2 + b * at).sum(-1)
    b = b + 2 * a * at
    low, high = (-flat)[:, None, :].expand_as(a), (1 - flat)[:, None, :].expand_as(a)
    radius = eps * eps
    # The multiplier's bracket: at its top every pixel's quadratic is convex and its minimiser lies well inside.
    top = (a.clamp_max(0).abs().amax(-1) + b.abs().amax(-1) / (2 * eps / np.sqrt(a.shape[-1])) + 1) * 4
    lowest, highest = torch.zeros_like(top), top
    for _ in range(steps):  # bisection on the dual's slope |t|^2 - eps^2, which falls as the multiplier grows
        middle = (lowest + highest) / 2
        t, _ = _dual_points(a, b, low, high, middle)
        outside = (t ** 2).sum(-1) > radius
        lowest, highest = torch.where(outside, middle, lowest), torch.where(outside, highest, middle)
    t, values = _dual_points(a, b, low, high, highest)  # the feasible end of the bracket
    t_low, values_low = _dual_points(a, b, low, high, lowest)
    bound = torch.maximum(values_low.sum(-1) + lowest * ((t_low ** 2).sum(-1) - radius),
                          values.sum(-1) + highest * ((t ** 2).sum(-1) - radius)) + c
    norm = (t ** 2).sum(-1).sqrt()
    t = t * torch.where(norm > eps, eps / norm.clamp_min(1e-300), torch.ones_like(norm))[..., None]
    attained = (a * t ** 2 + b * t).sum(-1) + c
    bound[torch.arange(len(y)), y] = torch.inf
    attained[torch.arange(len(y)), y] = torch.inf
    lower, _ = bound.min(1)
    upper, worst = attained.min(1)
    points = (flat[:, None, :] + t)[torch.arange(len(y)), worst].clamp(0, 1).to(x.dtype).view_as(x)
    return Answer(lower.numpy(), upper.numpy(), points)


@torch.no_grad()
def _ising_terms(model: IsingClassifier, pixels: np.ndarray, true: int, other: int
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, float]:
    """``logit_other - logit_true`` of binary images as ``sum_i u_i p_i + sum_(i,k) w_ik p_i p_k + const``:
    per pixel ``u`` (flattened), the horizontal and vertical neighbour pairs (index arrays) and their
    weights, and the constant."""
    unary = (model.unary[other] - model.unary[true]).detach().double().numpy().ravel()
    height, width = model.unary.shape[1:]
    index = np.arange(height * width).reshape(height, width)
    pairs_i = np.concatenate([index[:, :-1].ravel(), index[:-1, :].ravel()])
    pairs_k = np.concatenate([index[:, 1:].ravel(), index[1:, :].ravel()])
    weights = np.concatenate([(model.horizontal[other] - model.horizontal[true]).detach().double().numpy().ravel(),
                              (model.vertical[other] - model.vertical[true]).detach().double().numpy().ravel()])
    constant = float((model.log_prior[other] - model.log_partition[other]
                      - model.log_prior[true] + model.log_partition[true]).double())
    return unary, pairs_i, pairs_k, weights, constant


def _ising_milp(unary: np.ndarray, pairs_i: np.ndarray, pairs_k: np.ndarray, weights: np.ndarray,
                constant: float, base: np.ndarray, free: np.ndarray, cost: np.ndarray, budget: float | None,
                time_limit: float, reach: float | None = None) -> tuple[float, float, np.ndarray, bool]:
    """The largest ``logit_other - logit_true`` over the binary images reachable from ``base`` by flipping
    pixels of ``free`` (each flip of pixel i costing ``cost[i]``, their squares summing to at most ``budget``
    where given): the best value found, the solver's upper bound on the largest, the flips, and whether
    HiGHS proved it optimal within ``time_limit`` seconds.

    Where ``reach`` is given, only whether some flips reach ``logit_other - logit_true >= reach``: that
    becomes a constraint, the objective is dropped, and HiGHS stops at the first flips that satisfy it (their
    value returned, the bound left open) or proves that none exist (the bound is then ``reach``). A status
    needs no more, and on the 784 pixels an l_2 budget frees this is ten times faster than the maximum."""
    from scipy.optimize import LinearConstraint, milp
    from scipy.sparse import coo_matrix

    variables = np.flatnonzero(free)
    position = -np.ones(len(base), int)
    position[variables] = np.arange(len(variables))
    # p_i = base_i + s_i z_i with s_i = 1 - 2 base_i: linear in the flip z_i
    sign = 1.0 - 2.0 * base
    fixed = constant + float(unary @ base)
    objective = np.zeros(len(variables))
    objective += unary[variables] * sign[variables]
    products, rows, cols, data, lower, upper = [], [], [], [], [], []
    for i, k, w in zip(pairs_i, pairs_k, weights):
        fi, fk = position[i] >= 0, position[k] >= 0
        fixed += w * base[i] * base[k]
        if fi and not fk:  # w p_i base_k: linear in z_i
            objective[position[i]] += w * sign[i] * base[k]
        elif fk and not fi:
            objective[position[k]] += w * sign[k] * base[i]
        elif fi and fk:
            # w (base_i + s_i z_i)(base_k + s_k z_k) = w base_i base_k + w base_k s_i z_i + w base_i s_k z_k
            #   + w s_i s_k z_i z_k, with z_i z_k a new variable q, linearised exactly for binaries
            objective[position[i]] += w * base[k] * sign[i]
            objective[position[k]] += w * base[i] * sign[k]
            products.append((position[i], position[k], w * sign[i] * sign[k]))
    n_flips, n_products = len(variables), len(products)
    objective = np.concatenate([objective, [p[2] for p in products]])
    for row, (zi, zk, _) in enumerate(products):
        q = n_flips + row
        # q <= z_i, q <= z_k, q >= z_i + z_k - 1
        for r, entries, lo, hi in ((3 * row, [(q, 1.0), (zi, -1.0)], -np.inf, 0.0),
                                   (3 * row + 1, [(q, 1.0), (zk, -1.0)], -np.inf, 0.0),
                                   (3 * row + 2, [(q, 1.0), (zi, -1.0), (zk, -1.0)], -1.0, np.inf)):
            for col, value in entries:
                rows.append(r)
                cols.append(col)
                data.append(value)
            lower.append(lo)
            upper.append(hi)
    constraints = []
    size = n_flips + n_products
    if n_products:
        constraints.append(LinearConstraint(coo_matrix((data, (rows, cols)), shape=(3 * n_products, size)),
                                            lower, upper))
    if budget is not None and n_flips:
        squared = np.concatenate([cost[variables] ** 2, np.zeros(n_products)])
        constraints.append(LinearConstraint(squared[None, :], -np.inf, budget))
    if size == 0:
        return fixed, fixed, np.zeros(0), True
    integrality = np.concatenate([np.ones(n_flips), np.zeros(n_products)])
    bounds_ = (np.zeros(size), np.ones(size))
    from scipy.optimize import Bounds

    if reach is not None:
        constraints.append(LinearConstraint(objective[None, :], reach - fixed, np.inf))
    found = milp(-objective if reach is None else np.zeros(size), constraints=constraints,
                 integrality=integrality, bounds=Bounds(*bounds_),
                 options={"time_limit": time_limit, "mip_rel_gap": 0.0})
    if reach is not None:
        if found.x is not None:  # any point is optimal for no objective: its value, of the rounded flips
            flips = np.round(found.x[:n_flips])
            pairs = np.array([flips[zi] * flips[zk] for zi, zk, _ in products])
            return fixed + float(objective @ np.concatenate([flips, pairs])), np.inf, flips, True
        infeasible = found.status == 2
        return -np.inf, reach if infeasible else np.inf, np.zeros(n_flips), infeasible
    if found.x is None:
        return -np.inf, np.inf, np.zeros(n_flips), False
    best = fixed - float(found.fun)
    dual = getattr(found, "mip_dual_bound", None)
    bound = fixed - float(dual) if dual is not None and np.isfinite(dual) else np.inf
    optimal = found.status == 0
    return best, best if optimal else max(best, bound), np.round(found.x[:n_flips]), optimal


@torch.no_grad()
def ising(model: IsingClassifier, x: torch.Tensor, y: torch.Tensor, eps: float, norm: str, *,
          time_limit: float = 60.0, certify_above: float | None = None) -> Answer:
    """The exact minimum of the Ising MRF's margin within the ball: per image and other class, the largest
    ``logit_j - logit_y`` over the binary images the budget reaches (:func:`_ising_milp`), flips chosen
    among the pixels the budget carries across the threshold: at l_inf, those whose x -+ eps (as the
    attacks clip it, in the images' precision) reads the other way; at l_2, at the costs of
    :func:`genrob.contract.flip_targets`.

    With ``certify_above``, only the sign that a status needs: per other class, whether some flips bring the
    margin down to ``2 * certify_above`` (a constraint, not an objective). Where none do for any class, the
    lower bound is ``2 * certify_above`` (the solver's tolerance on the constraint is far below it); where
    some do, their margin is attained and the lower bound is left open."""
    threshold = model.input_threshold
    flat = x.flatten(1)
    target, cost = flip_targets(flat, threshold)
    base = (flat > threshold).double().numpy()
    if norm == "linf":
        # The attacks move a pixel to x -+ eps clipped to [0, 1], rounded in the images' precision: a pixel
        # 0.6 (float32) is a little more than 0.1 above 0.5, yet 0.6 - 0.1 rounds to 0.5 and reads 0. The flip
        # is affordable exactly where that point reads the other way, and the point is the flip's target.
        down, up = (flat - eps).clamp(0, 1), (flat + eps).clamp(0, 1)
        above = flat > threshold
        target = torch.where(above, down, up)
        affordable = torch.where(above, down <= threshold, up > threshold)
    else:
        affordable = cost * cost <= eps * eps
    budget = None if norm == "linf" else eps * eps
    lowers, attained, unfinished, adversarial = [], [], [], flat.clone()
    costs = cost.double().numpy()
    clean = model(x).double()
    for n in range(len(y)):
        true = int(y[n])
        worst = (np.inf, True, None)
        lowest_bound, stopped = np.inf, False
        # The classes nearest the true one first: once one is reached, the image is breakable and the rest
        # need not be solved (its lower bound is then left at -inf, the minimum unsolved).
        others = [c for c in clean[n].argsort(descending=True).tolist() if c != true]
        for solved, other in enumerate(others, start=1):
            terms = _ising_terms(model, base[n], true, other)
            best, bound, flips, optimal = _ising_milp(*terms, base=base[n], free=affordable[n].numpy(),
                                                      cost=costs[n], budget=budget, time_limit=time_limit,
                                                      reach=None if certify_above is None else -2 * certify_above)
            stopped |= not optimal
            # margin = logit_true - logit_other = -(best); its lower bound is -(the upper bound on best)
            lowest_bound = min(lowest_bound, -bound)
            if -best < worst[0]:
                worst = (-best, optimal, (other, flips))
            if worst[0] <= 0 and solved < len(others):
                lowest_bound = -np.inf
                break
        lowers.append(lowest_bound)
        attained.append(worst[0])
        unfinished.append(stopped)
        if worst[2] is not None:
            chosen = np.flatnonzero(affordable[n].numpy())[worst[2][1] > 0.5]
            adversarial[n, chosen] = target[n, chosen]
    return Answer(np.array(lowers), np.array(attained), adversarial.view_as(x), np.array(unfinished, bool))


def _box_minimum_linear(weights: torch.Tensor, low: torch.Tensor, high: torch.Tensor) -> torch.Tensor:
    """``min w . x`` over the box ``[low, high]`` for every row ``w`` of ``weights`` (..., pixels)."""
    centre, radius = (high + low) / 2, (high - low) / 2
    return weights @ centre - weights.abs() @ radius


@torch.no_grad()
def prototypes_linf(model: CVAEPrototypes, x: torch.Tensor, y: torch.Tensor, eps: float, *,
                    time_limit: float = 60.0, certify_above: float = 1e-4) -> Answer:
    """The exact minimum of the nearest-prototype classifier's margin over the l_inf box, as linear
    programmes (HiGHS, ``scipy.optimize.linprog``).

    ``logit_c = -min_k |x - m_ck|^2 / (2 sigma^2)``, so the margin against class j is the smallest, over j's
    prototypes m_jk, of ``max_k' (|x - m_jk|^2 - |x - m_yk'|^2) / (2 sigma^2)``, and each difference of two
    squared distances is linear in x: ``2 x . (m_yk' - m_jk) + |m_jk|^2 - |m_yk'|^2``. Its minimum over
    the box, a maximum of linear functions, is one LP per prototype m_jk (minimise s subject to every linear
    function at most s). The largest of the linear functions' own minima over the box bounds it from below
    in closed form; only the prototypes whose bound does not clear ``2 * certify_above`` are solved, the
    most promising first, and an image stops at the first that breaks it."""
    from scipy.optimize import linprog
    from scipy.sparse import csr_matrix, hstack

    prototypes = model.prototypes.double()  # (classes, K, pixels)
    scale = 1 / (2 * float((2 * model.log_sigma.double()).exp()))
    squared = (prototypes ** 2).sum(-1)
    flat = x.flatten(1)
    low_all, high_all = (flat - eps).clamp(0, 1).double(), (flat + eps).clamp(0, 1).double()
    level = 2 * certify_above / scale  # in squared distances
    lowers, attained, unfinished, adversarial = [], [], [], flat.clone()
    for n in range(len(y)):
        true, low, high = int(y[n]), low_all[n], high_all[n]
        started = time.perf_counter()
        candidates, pruned = [], np.inf  # (bound, class, prototype) to solve; the smallest bound of the rest
        for other in range(prototypes.shape[0]):
            if other == true:
                continue
            # rows k (the other class's prototype), columns k' (the true class's): the linear functions
            slopes = 2 * (prototypes[true][None, :, :] - prototypes[other][:, None, :])  # (K, K', pixels)
            offsets = squared[other][:, None] - squared[true][None, :]
            bounds = (_box_minimum_linear(slopes, low, high) + offsets).amax(1).tolist()  # (K,)
            pruned = min([pruned] + [b for b in bounds if b > level])
            candidates += [(b, other, k) for k, b in enumerate(bounds) if b <= level]
        best, found, stopped = np.inf, None, False
        for _, other, k in sorted(candidates):
            if time.perf_counter() - started > time_limit:
                stopped = True
                break
            slopes = 2 * (prototypes[true] - prototypes[other][k][None, :])  # (K', pixels)
            offsets = squared[other][k] - squared[true]
            # minimise s subject to slopes . x + offsets <= s, x in the box
            constraints = hstack([csr_matrix(slopes.numpy()), csr_matrix(-np.ones((len(offsets), 1)))])
            solved = linprog(np.r_[np.zeros(len(low)), 1.0], A_ub=constraints, b_ub=-offsets.numpy(),
                             bounds=np.c_[np.r_[low.numpy(), -np.inf], np.r_[high.numpy(), np.inf]],
                             method="highs", options={"time_limit": time_limit})
            if solved.status != 0:
                stopped = True
                break
            if solved.fun < best:
                best, found = float(solved.fun), solved.x[:-1]
            if best <= 0:
                break
        # the minimum where every candidate was solved: the smallest LP value or, if lower, a pruned bound
        finished = not stopped and best > 0
        lowers.append(scale * min(best, pruned) if finished else -np.inf)
        attained.append(scale * best)
        unfinished.append(stopped)
        if found is not None:
            adversarial[n] = torch.from_numpy(found).to(x.dtype)
    return Answer(np.array(lowers), np.array(attained), adversarial.view_as(x), np.array(unfinished, bool))


#: Why a model has no exact solver here, by its class: the chapter says so beside the solved ones.
NO_SOLVER = {
    "GaussianMixtureClassifier": "none: its logits are log-sum-exps of Gaussian components, non-convex in the "
                                 "image; a branch and bound over 784 pixels is not attempted here",
    "BinaryCNN": "none: a verification problem over the pixels eps carries across 0.5, but interval bounds prune "
                 "nothing on this network (docs/measurements), so a branch and bound enumerates every binary "
                 "image, and a MILP with every ReLU encoded (MIPVerify) is not attempted here",
    "CVAEClassifier": "none: importance-sampled likelihoods through a decoder network; bound propagation through "
                      "the sampling and the log-sum-exp is not attempted here",
    "ConvVAEClassifier": "none: importance-sampled likelihoods through a decoder network; bound propagation "
                         "through the sampling and the log-sum-exp is not attempted here",
}
#: Networks a certified bound would reach by bound propagation (CROWN), which no installable library gives us.
NEEDS_BOUND_PROPAGATION = ("none: a certified lower bound needs bound propagation through the network (CROWN); "
                           "auto_LiRPA's release on PyPI requires torch < 1.13, and interval bounds alone prune "
                           "nothing on the binary CNN (docs/measurements)")
SOLVERS = {"LogisticRegression": {"linf": "closed form", "l2": "the dual of a convex problem"},
           "GaussianNaiveBayes": {"linf": "closed form", "l2": "a dual bound, exact where a point attains it"},
           "IsingClassifier": {"linf": "integer programme (HiGHS)", "l2": "integer programme with a knapsack (HiGHS)"},
           "CVAEPrototypes": {"linf": "linear programmes (HiGHS)",
                              "l2": "none: a second-order cone programme, which HiGHS does not solve"}}


def solver_of(model: torch.nn.Module, norm: str) -> str:
    """How :func:`solve` finds ``model``'s margin over the ``norm`` ball, or why it does not ("none: ...")."""
    name = type(model).__name__
    if name in SOLVERS:
        return SOLVERS[name][norm]
    return NO_SOLVER.get(name, NEEDS_BOUND_PROPAGATION)


def admits(model: torch.nn.Module, norm: str = "linf") -> bool:
    """Whether :func:`solve` computes ``model``'s margin over the ``norm`` ball (the nearest-prototype
    classifier's at l_inf only: at l_2 its problem is a second-order cone programme, which HiGHS does not solve)."""
    if isinstance(model, CVAEPrototypes):
        return norm == "linf"
    return isinstance(model, (LogisticRegression, GaussianNaiveBayes, IsingClassifier))


def solve(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, *, eps: float, norm: str,
          time_limit: float = 60.0, certify_above: float | None = None) -> Answer:
    """The margin's minimum over the ``norm`` ball of radius ``eps``, by the model's own solver; with
    ``certify_above``, a search solver (the MRF's) settles for whether the margin exceeds it."""
    if isinstance(model, IsingClassifier):
        return ising(model, x, y, eps, norm, time_limit=time_limit, certify_above=certify_above)
    if isinstance(model, CVAEPrototypes) and norm == "linf":
        return prototypes_linf(model, x, y, eps, time_limit=time_limit,
                               certify_above=1e-4 if certify_above is None else certify_above)
    if not admits(model, norm):
        raise TypeError(f"{type(model).__name__} admits no exact solver here at {norm}")
    answer = separable_linf(model, x, y, eps) if norm == "linf" else separable_l2(model, x, y, eps)
    answer.unfinished = np.zeros(len(y), bool)
    return answer
