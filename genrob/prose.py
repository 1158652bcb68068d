"""Comparisons put into words, with their n and 95% intervals: the sentences a page states about its own results.

A sentence in the book that states a number, a ranking or a conclusion is
written by these functions from the results shown on its page, so it is true of
whatever profile the page was run on. The decisions themselves are the
analysis layer's (:func:`genrob.adaptive.judge_claim`, McNemar's exact test on
the images both models saw); this module only says them.
"""

from __future__ import annotations

import pandas as pd

from genrob import adaptive
from genrob.adaptive import Paired
from genrob.names import budget, model_name, readable
from genrob.results import share_text


def plural(count: int, noun: str) -> str:
    """"1 claim", "3 claims"."""
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def counts(outcomes: pd.Series) -> str:
    """"3 stand, 2 undecided at this n": how many of each outcome, most frequent first."""
    return ", ".join(f"{count} {outcome}" for outcome, count in outcomes.value_counts().items())


#: ``0.43 [0.36, 0.50]``: a share of n images with its 95% Wilson interval.
share = share_text


def p_value(p: float) -> str:
    return "p < 0.001" if p < 0.001 else f"p = {p:.3f}"


def attacks_of_page(count: int, norm: str) -> str:
    """"all 5 l∞ attacks of this page", or "the one l2 attack of this page"."""
    return f"the one {norm} attack of this page" if count == 1 else f"all {plural(count, norm + ' attack')} of this page"


def _kept(pair: Paired) -> tuple[int, int]:
    return pair.both + pair.model_only, pair.both + pair.than_only


def compare_sentence(first: str, second: str, pair: Paired | None, *, norm: str, eps: float,
                     under: str = "every attack") -> str:
    """One sentence: how much of their accuracy ``first`` and ``second`` keep on the same images at
    ``norm`` ``eps`` ``under`` the attacks named, and what McNemar's exact test makes of the difference
    (more robust, or undecided at this n with the n that would decide it at the observed rates)."""
    a, b = model_name(first), model_name(second)
    if pair is None:
        return f"{a} and {b} were attacked on no common images, so they are not compared."
    finding, needed = adaptive.judge_claim("more robust", pair)
    kept_a, kept_b = _kept(pair)
    where = f"At {budget(norm, eps)} under {under}"
    numbers = f"{a} keeps {share(kept_a, pair.n)} and {b} {share(kept_b, pair.n)} of the same {pair.n} test images"
    if finding == "stands":
        verdict = f"{a} is more robust ({p_value(pair.p_value)}, McNemar's exact test)"
    elif finding == "overturned":
        verdict = f"{b} is more robust ({p_value(pair.p_value)}, McNemar's exact test)"
    elif needed is None:
        verdict = ("they keep exactly the same images, so no number of images would tell them apart at these rates"
                   if pair.same_images else
                   "no number of images would tell them apart at these rates")
    else:
        verdict = (f"{pair.n} images cannot tell them apart ({p_value(pair.p_value)}); about {needed} would, "
                   "at these rates")
    return f"{where}, {numbers}: {verdict}."


def ordering(first: str, second: str, finding: str) -> str:
    """A finding on "``first`` is more robust than ``second``" as a table says it: which one is more robust,
    or the finding itself where the test did not decide."""
    return {"stands": f"{model_name(first)} more robust", "overturned": f"{model_name(second)} more robust"}.get(
        finding, finding)


def compare_row(first: str, second: str, pair: Paired | None, *, norm: str, eps: float) -> dict[str, object]:
    """The table row behind :func:`compare_sentence`: the budget, each model with the share it keeps of
    the same images, the images only one of them keeps, McNemar's p-value and the finding, in the same words."""
    a, b = model_name(first), model_name(second)
    if pair is None:
        return {"budget": budget(norm, eps), "n": 0, "generative model": a, "counterpart": b,
                "finding": "no shared images"}
    finding, needed = adaptive.judge_claim("more robust", pair)
    kept_a, kept_b = _kept(pair)
    verdict = adaptive.with_n_to_decide(ordering(first, second, finding), needed,
                                        same_images=pair.same_images)
    return {"budget": budget(norm, eps), "n": pair.n, "generative model": f"{a}: {share(kept_a, pair.n)}",
            "counterpart": f"{b}: {share(kept_b, pair.n)}", "kept by one only": f"{pair.model_only} / {pair.than_only}",
            "McNemar": p_value(pair.p_value), "finding": verdict}


def survival(outcome: dict) -> pd.Series:
    """Which images survive an attack run (per-image ``clean_correct`` and ``fooled``), in subset order."""
    return pd.Series(outcome["clean_correct"] & ~outcome["fooled"])


def checks_sentence(checks: pd.DataFrame) -> str:
    """The sanity checks of a page (:func:`genrob.checks.sanity_checks`) in words: which failed, for which
    model, with the table's evidence; or that all passed."""
    failed = checks[~checks["passed"].astype(bool)]
    if failed.empty:
        return f"All {len(checks)} sanity checks on this page pass."
    listed = "; ".join(f"{readable(row.check)} for {model_name(row.model)} ({row.detail})" for row in failed.itertuples())
    verb = "fails" if len(failed) == 1 else "fail"
    return (f"{len(failed)} of the {len(checks)} sanity checks on this page {verb}, so the attacks named there "
            f"did not do their job and the robust accuracy they leave is an upper bound: {listed}.")


def gradient_sentence(health: pd.DataFrame) -> str:
    """The gradient table (:func:`genrob.evaluate.gradient_health`) in words, model by model: the median
    logit margin and the share of correctly classified images whose cross-entropy gradient is exactly zero."""
    parts = []
    for row in health.itertuples():
        if pd.isna(row.median_margin):
            continue
        # Written as the gradient table shows them (three decimals), so a reader finds each number there.
        parts.append(f"{model_name(row.model)}: median margin {round(row.median_margin, 3):g} nats, gradient "
                     f"exactly zero on {round(row.zero_gradient_share, 3):g} of its {row.correct} correctly "
                     "classified images")
    if not parts:
        return ""
    return ("On this page's images, " + "; ".join(parts) + ". Where the gradient is zero, an attack that climbs the "
            "cross-entropy has nothing to follow, and the accuracy it leaves says nothing about robustness.")


def paper_sentence(comparison: pd.DataFrame) -> str:
    """The page's comparison with the paper (:func:`genrob.paper.compare_with_paper`) in words, per model:
    how many of the paper's numbers lie inside our 95% interval, how many above it (the paper reports more
    robustness than our interval allows) and how many below."""
    parts = []
    for model, rows in comparison.groupby("model", sort=False):
        above = int((rows["paper"] > rows["robust_ci_high"]).sum())
        below = int((rows["paper"] < rows["robust_ci_low"]).sum())
        inside = len(rows) - above - below
        parts.append(f"{model_name(model)}: {inside} of {len(rows)} inside our interval, {above} above it, "
                     f"{below} below it")
    if not parts:
        return ""
    return "The paper's numbers against ours on this page: " + "; ".join(parts) + "."


def subset_sentence(clean: pd.DataFrame, subset: pd.DataFrame) -> str:
    """How the attacked images compare with the whole test set (two :func:`genrob.evaluate.clean_accuracy`
    tables): the models whose test-set accuracy lies outside the attacked images' 95% interval, said in words."""
    whole = clean.set_index("model")
    attacked = subset.set_index("model")
    n, total = int(attacked["n"].iloc[0]), int(whole["n"].iloc[0])
    outside = [m for m in attacked.index
               if not attacked.loc[m, "ci_low"] <= whole.loc[m, "accuracy"] <= attacked.loc[m, "ci_high"]]
    lead = (f"The attacks run on {n} of the {total} test images, a class-stratified draw fixed by its seed; "
            "its accuracy differs from the whole test set's by chance, and robust accuracy with it.")
    if not outside:
        return lead + " For every model here the whole test set's accuracy lies inside the attacked images' 95% interval."
    listed = "; ".join(f"{model_name(m)} {attacked.loc[m, 'accuracy']:.2f} on them against {whole.loc[m, 'accuracy']:.2f} "
                       "on the test set" for m in outside)
    return (lead + f" For {listed}, the test set's accuracy lies outside the attacked images' interval: the draw is "
            "easier or harder than average for that model, and its robust accuracy here may be too.")
