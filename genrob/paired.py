"""Two runs or two models on the same images: the paired tests, interval and correction every comparison uses.

Each image is a pair of outcomes (survived for the first, for the second), so
a comparison counts the images only one of the two kept. McNemar's exact test
asks whether those discordant images lean one way; Tango's score interval
(1998) bounds the difference of the two shares, and its score test asks whether
that difference lies beyond a margin, which is what an equivalence decision
needs. Where one sentence of the book rests on several tests (a claim judged at
every eps, a check at every eps), they are corrected together by Holm's
step-down (statsmodels).

Tango's interval is written here because neither scipy nor statsmodels has an
interval for paired proportions (statsmodels' ``confint_proportions_2indep`` is
for independent samples); R's ``PropCIs::scoreci.mp`` and the contingencytables
package implement the same formulas.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
import pandas as pd

#: Significance of every test of the book (claims, checks, ``verify``), after correction where one
#: finding rests on several.
ALPHA = 0.05
#: The standard normal quantile of a two-sided 95% interval.
Z_95 = 1.959963984540054


def mcnemar_p(first_only: int, second_only: int, *, alternative: str = "two-sided") -> float:
    """McNemar's exact test on paired per-image outcomes: ``first_only`` images counted by the first of two
    runs alone, ``second_only`` by the second alone; under no difference a discordant image is the first's
    with probability 1/2 (``alternative="greater"``: the first counts more)."""
    from scipy.stats import binomtest  # scipy loads in a second; most users of this module never test

    discordant = first_only + second_only
    return float(binomtest(first_only, discordant, 0.5, alternative=alternative).pvalue) if discordant else 1.0


def holm(p_values: Sequence[float]) -> np.ndarray:
    """Holm's step-down adjustment of the p-values behind one finding: a hypothesis is rejected at
    :data:`ALPHA` where its adjusted p-value is below it, and the chance of rejecting any true one is at
    most :data:`ALPHA` (statsmodels' ``multipletests``)."""
    from statsmodels.stats.multitest import multipletests  # loads in a second; only the analysis needs it

    values = np.asarray(p_values, dtype=float)
    if not len(values):
        return values
    return multipletests(values, alpha=ALPHA, method="holm")[1]


def _normal_cdf(z: float) -> float:
    return 0.5 * math.erfc(-z / math.sqrt(2))


@dataclass(frozen=True)
class Paired:
    """Two models' (or runs') outcomes on the images both saw: how many survived for one and not the other."""

    n: int
    model_only: int  # images that survive every attack on ``model`` but not on ``than``
    than_only: int
    both: int = 0  # images that survive on both

    @property
    def same_images(self) -> bool:
        """Whether both keep exactly the same images."""
        return self.model_only == self.than_only == 0

    @property
    def estimate(self) -> float:
        """``model``'s share minus ``than``'s."""
        return (self.model_only - self.than_only) / self.n

    @property
    def p_value(self) -> float:
        """McNemar's exact test: under no difference a discordant image is ``model``'s with probability 1/2."""
        return mcnemar_p(self.model_only, self.than_only)

    def score(self, delta: float) -> float:
        """Tango's score statistic for the hypothesis that the difference is ``delta``: large where the
        observed difference lies above it, negative where below; standard normal under it."""
        b, c, n = self.model_only, self.than_only, self.n
        # The maximum likelihood of the share of images only ``than`` keeps, given the difference ``delta``.
        a_, b_, c_ = 2 * n, -b - c + (2 * n - b + c) * delta, -c * delta * (1 - delta)
        only_than = (math.sqrt(max(0.0, b_ * b_ - 4 * a_ * c_)) - b_) / (2 * a_)
        numerator = b - c - n * delta
        variance = n * (2 * only_than + delta * (1 - delta))
        if variance <= 0:
            return 0.0 if numerator == 0 else math.copysign(math.inf, numerator)
        return numerator / math.sqrt(variance)

    def p_above(self, delta: float) -> float:
        """One-sided p-value that the difference exceeds ``delta`` (null: at most ``delta``)."""
        return _normal_cdf(-self.score(delta))

    def p_below(self, delta: float) -> float:
        """One-sided p-value that the difference is below ``delta`` (null: at least ``delta``)."""
        return _normal_cdf(self.score(delta))

    def difference(self, *, z: float = Z_95) -> tuple[float, float, float]:
        """``model``'s share minus ``than``'s on the shared images, with Tango's score interval (95% by
        default): the differences the score test does not reject. Where no image is discordant it keeps
        the width the n allows: both at 0 of 30 still leaves differences up to 0.11 possible."""
        from scipy.optimize import brentq

        estimate = self.estimate
        tolerance = 1e-10
        low = -1.0 if estimate <= -1 + tolerance else brentq(
            lambda d: self.score(d) - z, -1 + tolerance, estimate, xtol=1e-12)
        high = 1.0 if estimate >= 1 - tolerance else brentq(
            lambda d: self.score(d) + z, estimate, 1 - tolerance, xtol=1e-12)
        return estimate, low, high

    def scaled(self, n: int) -> "Paired":
        """The same rates of each kind of image on ``n`` images."""
        def share(count: int) -> int:
            return round(count / self.n * n)

        return Paired(n, share(self.model_only), share(self.than_only), share(self.both))


def paired(first: pd.Series, second: pd.Series) -> Paired | None:
    """Two per-image survival series (indexed by test image) on the images both saw; None if none."""
    common = first.index.intersection(second.index)
    if not len(common):
        return None
    a, b = first.loc[common].to_numpy(bool), second.loc[common].to_numpy(bool)
    return Paired(len(common), int((a & ~b).sum()), int((~a & b).sum()), int((a & b).sum()))


def fewest(decided: Callable[[int], bool], start: int, most: int = 1_000_000) -> int | None:
    """The smallest n above ``start`` that ``decided``, found by doubling and then bisecting (the counts
    behind it are rounded, so it is the first n that decides after the last doubling that did not); None
    where no n up to ``most`` does."""
    n = max(1, start)
    while not decided(n):
        n *= 2
        if n > most:
            return None
    low = n // 2
    while low + 1 < n:
        middle = (low + n) // 2
        low, n = (low, middle) if decided(middle) else (middle, n)
    return n
