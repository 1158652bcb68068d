"""Sanity checks every robustness number must survive (Carlini et al. 2019).

Each check reads the results table and answers pass or fail per model, with the
evidence. A failed check means an attack did not do its job, not that a model is
robust: a generative model that looks robust is first suspected of hiding its
gradient.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import pandas as pd

from genrob.attacks import MARGIN_PGD_LADDERS, get_attack_class, norm_of
from genrob.paired import ALPHA, holm, mcnemar_p
from genrob.results import EVERY_IMAGE

#: Per-image arrays of one (model, attack, eps): ``clean_correct`` and ``fooled``, one entry per image.
Outcome = Callable[[str, str, float], dict[str, np.ndarray]]

#: (stronger, weaker): the first must do at least as well as the second: where both ran on every image and
#: their per-image outcomes are at hand, the second must not break significantly more of the images the
#: first left than the reverse (McNemar's test, one-sided, paired); otherwise within the two intervals.
#: Iterative attacks must match their single-step versions; PGD on cross-entropy must match C&W's margin
#: loss at the same l_2 budget, or the cross-entropy has lost its gradient (saturated softmax); the adaptive
#: attacks must match the paper's and AutoAttack must match margin PGD; and a white-box attack that a
#: gradient-free one (Square) or a transfer attack beats is being misled by the gradient.
#: Where the weaker ran in the adaptive evaluation's cascade, after the stronger, it met only the
#: images the stronger (and every attack before it) left: the check is then that it broke few of them.
AT_LEAST_AS_STRONG = (
    ("pgd_linf", "fgsm_linf"), ("pgd_l2", "fgm_l2"), ("pgd_l2", "cw_l2"),
    ("pgd_margin_linf", "pgd_linf"), ("pgd_margin_l2", "pgd_l2"),
    ("autoattack_linf", "pgd_margin_linf"), ("autoattack_l2", "pgd_margin_l2"),
    ("pgd_margin_linf", "square_linf"), ("pgd_margin_l2", "square_l2"),
    ("pgd_margin_linf", "transfer_pgd_linf"), ("pgd_margin_l2", "transfer_pgd_l2"),
    ("pgd_margin_linf", "bpda_pgd_margin_linf"), ("pgd_margin_l2", "bpda_pgd_margin_l2"),
)
#: (attack, budget-doubled attack): twice the steps and restarts must not change the number, or the
#: attack had not converged. Both run on every image: with their per-image outcomes the doubled run
#: must not break significantly more of the images the first left than the reverse (McNemar's test,
#: one-sided, paired); without them, the two numbers must lie within the two intervals. Margin PGD climbs
#: a ladder of budgets (:data:`genrob.attacks.MARGIN_PGD_LADDERS`): each pair of neighbouring rungs is such a
#: pair, and the check reports the highest pair run, since every rung below it counts in the worst case.
CONVERGED = tuple((lower, upper) for ladder in MARGIN_PGD_LADDERS.values() for lower, upper in zip(ladder, ladder[1:]))
#: Unbounded in effect: C&W at l_2 = 5, and PGD at l_inf = 1 (any image in reach), should
#: fool nearly every image.
UNBOUNDED = (("cw_l2", 5.0), ("pgd_margin_linf", 1.0))
UNBOUNDED_LIMIT = 0.05


def _slack(a: pd.Series, b: pd.Series) -> pd.Series:
    """Allowed excess: the two 95% intervals' half-widths added, so noise does not fail a check."""
    return (a["robust_ci_high"] - a["robust_ci_low"]) / 2 + (b["robust_ci_high"] - b["robust_ci_low"]) / 2


def _on_common_eps(part: pd.DataFrame, first: str, second: str) -> tuple[pd.DataFrame, pd.DataFrame] | None:
    """Two attacks' rows of one model, indexed by eps, at the eps both ran (None if none)."""
    a = part[part["attack"] == first].set_index("eps")
    b = part[part["attack"] == second].set_index("eps")
    common = a.index.intersection(b.index)
    return None if common.empty else (a.loc[common], b.loc[common])


def at_least_as_strong_check(stronger: str, weaker: str) -> str:
    """The name of the check that ``stronger`` did at least as well as ``weaker``."""
    return f"{stronger} at least as strong as {weaker}"


#: The share of the images every gradient attack before it left that a gradient-free or transfer attack
#: may break before its check fails: a finite budget always leaves a few images a later attack finds (at
#: the extended profile Square broke up to 3% of what the adversarially trained CNN's gradient attacks
#: left); significantly more than one in twenty says the gradient attacks were misled (the methods chapter).
CASCADE_TOLERANCE = 0.05


def _after_in_cascade(model: str, stronger: str, weaker: str, a: pd.DataFrame, b: pd.DataFrame) -> dict:
    """The check that ``weaker``, run in the cascade after ``stronger`` (rows ``a``, ``b`` by eps), broke no
    significant share of the images it met, those that ``stronger`` and every attack before it left: per eps,
    a one-sided binomial test that it broke more than :data:`CASCADE_TOLERANCE` of them, Holm-corrected over
    the check's eps. Fails where some eps rejects."""
    from scipy.stats import binomtest

    met = b["attacked"].astype(int)
    broke = met - b["robust_correct"].astype(int)
    raw = [binomtest(int(k), int(m), CASCADE_TOLERANCE, alternative="greater").pvalue if m else 1.0
           for k, m in zip(broke, met)]
    adjusted = pd.Series(holm(raw), index=b.index)
    eps = adjusted.idxmin()
    return {"model": model, "check": at_least_as_strong_check(stronger, weaker),
            "passed": bool(adjusted[eps] >= ALPHA), "norm": norm_of(weaker),
            "detail": f"at eps {eps:g} {weaker} broke {int(broke[eps])} of the {int(met[eps])} images it met, "
                      f"which {stronger} and every attack before it left (one-sided binomial test against "
                      f"{CASCADE_TOLERANCE:g} of them, Holm over {len(raw)} eps: p = {adjusted[eps]:.2g})"}


def _every_image(a: pd.DataFrame, b: pd.DataFrame) -> bool:
    return "images" not in a.columns or bool(((a["images"] == EVERY_IMAGE) & (b["images"] == EVERY_IMAGE)).all())


def _broke_significantly_more(model: str, first: str, second: str, a: pd.DataFrame, outcome: Outcome) -> dict:
    """Paired, on the images both runs met (every image): whether ``second`` broke significantly more of the
    images ``first`` left than the reverse (McNemar's exact test, one-sided, Holm-corrected over the eps of
    ``a``): ``passed`` where no eps rejects, and the counts behind the eps where that is likeliest."""
    moved = []  # (p, eps, broken by the second run alone, by the first alone)
    for eps in a.index:
        runs = outcome(model, first, eps), outcome(model, second, eps)
        left_by_first, left_by_second = (run["clean_correct"] & ~run["fooled"] for run in runs)
        more, fewer = int((left_by_first & ~left_by_second).sum()), int((left_by_second & ~left_by_first).sum())
        moved.append((mcnemar_p(more, fewer, alternative="greater"), eps, more, fewer))
    adjusted = holm([m[0] for m in moved])
    i = min(range(len(moved)), key=lambda k: (adjusted[k], -moved[k][2]))
    _, eps, more, fewer = moved[i]
    return {"passed": bool(adjusted[i] >= ALPHA), "more": more, "fewer": fewer, "p": float(adjusted[i]), "eps": eps,
            "tests": len(moved)}


def _holm(found: dict) -> str:
    """", Holm over 3 eps" where the check's p-value was corrected over several eps."""
    return f", Holm over {found['tests']} eps:" if found["tests"] > 1 else ""


def _at_least_as_strong(model: str, stronger: str, weaker: str, a: pd.DataFrame, b: pd.DataFrame, *,
                        outcome: Outcome | None) -> dict:
    """The check that ``stronger`` (rows ``a`` by eps) did at least as well as ``weaker`` (rows ``b``), both
    on every image: paired where ``outcome`` gives their per-image outcomes, else by the two intervals."""
    check = at_least_as_strong_check(stronger, weaker)
    if outcome is None or not _every_image(a, b):
        excess = a["robust_accuracy"] - b["robust_accuracy"]
        bad = excess[excess > _slack(a, b)]
        return {"model": model, "check": check, "passed": bad.empty, "norm": norm_of(stronger),
                "detail": "at every eps" if bad.empty else
                f"weaker by {bad.max():.3f} at eps {', '.join(f'{e:g}' for e in bad.index)}"}
    found = _broke_significantly_more(model, stronger, weaker, a, outcome)
    return {"model": model, "check": check, "passed": found["passed"],
            "norm": norm_of(stronger),
            "detail": f"at eps {found['eps']:g} {weaker} broke {found['more']} images that {stronger} left "
                      f"({stronger} {found['fewer']} that it left; one-sided McNemar{_holm(found)} "
                      f"p = {found['p']:.2g})"}


def converged_check(attack: str) -> str:
    """The name of the check that margin PGD ``attack`` (the ladder's first rung) converged."""
    return f"{attack} converged (twice the steps and restarts)"


def _budget_of(attack: str) -> str:
    """"4 times the budget": a rung of the ladder as its check's detail names it."""
    factor = getattr(get_attack_class(attack), "factor", 1)
    return "its first budget" if factor == 1 else f"{factor} times the budget"


def _converged(model: str, attack: str, longer: str, a: pd.DataFrame, b: pd.DataFrame, *,
               outcome: Outcome | None) -> dict:
    """The check that ``longer`` (twice ``attack``'s steps and restarts; rows ``a``, ``b`` by eps) changed
    nothing: paired on the images both met where ``outcome`` gives them, else by the two intervals. Named
    after the ladder's first rung, its detail says which rungs it compares."""
    ladder = next(rungs for rungs in MARGIN_PGD_LADDERS.values() if attack in rungs)
    check = converged_check(ladder[0])
    rungs = "" if attack == ladder[0] else f"from {_budget_of(attack)} to {_budget_of(longer)}: "
    if outcome is None or not _every_image(a, b):
        change = (a["robust_accuracy"] - b["robust_accuracy"]).abs()
        return {"model": model, "check": check, "passed": bool((change <= _slack(a, b)).all()),
                "norm": norm_of(attack), "detail": f"{rungs}largest change {change.max():.3f}"}
    found = _broke_significantly_more(model, attack, longer, a, outcome)
    return {"model": model, "check": check, "passed": found["passed"],
            "norm": norm_of(attack),
            "detail": f"{rungs}at eps {found['eps']:g} twice the budget broke {found['more']} images that the first "
                      f"run left (the first run {found['fewer']} that it left; one-sided McNemar{_holm(found)} "
                      f"p = {found['p']:.2g})"}


def sanity_checks(results: pd.DataFrame, *, outcome: Outcome | None = None) -> pd.DataFrame:
    """One row per (model, check): passed or not, and why. ``outcome`` (per-image outcomes of a row, as
    the adaptive evaluation has them) makes the checks that compare two runs on every image paired."""
    rows = []
    for model, part in results.groupby("model", sort=False):
        worst_rise, where = 0.0, ""
        for attack, cell in part.groupby("attack", sort=False):
            acc = cell.sort_values("eps")["robust_accuracy"].to_numpy()
            rises = acc[1:] - acc[:-1]
            if len(rises) and rises.max() > worst_rise:
                worst_rise, where = float(rises.max()), attack
        n = int(part["n"].iloc[0])
        # A rise of up to two images is the noise of random starts and draws.
        rows.append({"model": model, "check": "accuracy falls with eps", "passed": worst_rise <= 2 / n + 1e-9,
                     "detail": f"largest rise {worst_rise:.3f} ({where})" if where else "never rises"})
        above = part[part["robust_accuracy"] > part["clean_accuracy"]]
        rows.append({"model": model, "check": "robust <= clean", "passed": above.empty,
                     "detail": f"{len(above)} cells above clean accuracy"})
        for stronger, weaker in AT_LEAST_AS_STRONG:
            pair = _on_common_eps(part, stronger, weaker)
            if pair is None:
                continue
            a, b = pair
            if "images" in b.columns and (b["images"] != EVERY_IMAGE).all():
                rows.append(_after_in_cascade(model, stronger, weaker, a, b))
                continue
            rows.append(_at_least_as_strong(model, stronger, weaker, a, b, outcome=outcome))
        for ladder in MARGIN_PGD_LADDERS.values():
            ran = [(lower, upper) for lower, upper in zip(ladder, ladder[1:])
                   if _on_common_eps(part, lower, upper) is not None]
            if ran:  # the highest pair of rungs run: every rung below it counts in the worst case
                lower, upper = ran[-1]
                rows.append(_converged(model, lower, upper, *_on_common_eps(part, lower, upper), outcome=outcome))
        for attack, eps in UNBOUNDED:
            top = part[(part["attack"] == attack) & (part["eps"] == eps)]
            if not top.empty:
                value = float(top["robust_accuracy"].iloc[0])
                rows.append({"model": model, "check": f"{attack} at eps {eps:g} reaches ~0",
                             "passed": value <= UNBOUNDED_LIMIT, "norm": norm_of(attack),
                             "detail": f"robust accuracy {value:.3f}"})
    return pd.DataFrame(rows, columns=["model", "check", "passed", "norm", "detail"])
