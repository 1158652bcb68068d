"""Comparisons put into words, with their n and 95% intervals: the sentences a page states about its own results.

A sentence in the book that states a number, a ranking or a conclusion is
written by these functions from the results shown on its page, so it is true of
whatever profile the page was run on. The decisions themselves are the
analysis layer's (:func:`genrob.claims.judge_curve`, paired tests on the images
both models saw); this module only says them.
"""

from __future__ import annotations

from typing import Sequence

import pandas as pd

from genrob import adaptive, claims
from genrob.paired import Paired
from genrob.models import get_spec
from genrob.names import NORM_NAMES, attack_name, budget, model_name, readable
from genrob.results import fraction_text, share_text


def plural(count: int, noun: str) -> str:
    """"1 claim", "3 claims"."""
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def counts(outcomes: pd.Series) -> str:
    """"3 stand, 2 undecided at this n": how many of each outcome, most frequent first."""
    return ", ".join(f"{count} {outcome}" for outcome, count in outcomes.value_counts().items())


#: ``0.43 [0.36, 0.50]``: a share of n images with its 95% Wilson interval.
share = share_text


def attacks_of_page(count: int, norm: str) -> str:
    """"all 5 l∞ attacks of this page", or "the one l2 attack of this page"."""
    return f"the one {norm} attack of this page" if count == 1 else f"all {plural(count, norm + ' attack')} of this page"


def _kept(pair: Paired) -> tuple[int, int]:
    return pair.both + pair.model_only, pair.both + pair.than_only


def judged(pair: Paired) -> tuple[str, int | None]:
    """The finding on "the first is more robust than the second" at one eps: the tests of
    :func:`genrob.claims.judge_curve` (more robust, less robust or equal within the margin, Holm over the
    three), and where undecided the number of shared images that would decide it at the observed rates."""
    finding, needed, _ = claims.judge_curve("more robust", [pair])[0]
    return finding, needed


def difference(pair: Paired) -> str:
    """"+0.31 [0.24, 0.38]": the first model's share minus the second's, with its 95% Tango interval."""
    estimate, low, high = pair.difference()
    return f"{estimate:+.2f} [{low:+.2f}, {high:+.2f}]"


def compare_sentence(first: str, second: str, pair: Paired | None, *, norm: str, eps: float,
                     under: str = "every attack") -> str:
    """One sentence: how much of their accuracy ``first`` and ``second`` keep on the same images at
    ``norm`` ``eps`` ``under`` the attacks named, and what the paired tests make of the difference (more
    robust by more than the margin, equal within it, or undecided at this n with the n that would decide
    it at the observed rates)."""
    a, b = model_name(first), model_name(second)
    if pair is None:
        return f"{a} and {b} were attacked on no common images, so they are not compared."
    finding, needed = judged(pair)
    kept_a, kept_b = _kept(pair)
    where = f"At {budget(norm, eps)} under {under}"
    numbers = f"{a} keeps {share(kept_a, pair.n)} and {b} {share(kept_b, pair.n)} of the same {pair.n} test images"
    margin = f"{claims.MARGIN:g}"
    if finding == "stands":
        verdict = f"{a} is more robust by more than {margin} (difference {difference(pair)})"
    elif finding == "overturned":
        reverse = Paired(pair.n, pair.than_only, pair.model_only, pair.both)
        verdict = f"{b} is more robust by more than {margin} (difference {difference(reverse)})"
    elif finding == claims.EQUAL:
        verdict = (f"they are equal within {margin} (difference {difference(pair)}"
                   + (", both at 0)" if kept_a == kept_b == 0 else ")"))
    elif claims.on_the_margin(pair.model_only, pair.than_only, pair.n):
        verdict = (f"{pair.n} images cannot tell them apart: "
                   f"{claims.undecided_note(needed, model_only=pair.model_only, than_only=pair.than_only, n=pair.n)}")
    else:
        verdict = (f"{pair.n} images cannot tell them apart (difference {difference(pair)}); about "
                   f"{adaptive.about(needed)} would, at these rates")
    return f"{where}, {numbers}: {verdict}."


def ordering(first: str, second: str, finding: str) -> str:
    """A finding on "``first`` is more robust than ``second``" as a table says it: which one is more robust
    by more than the margin, equal within it, or the finding itself where undecided."""
    margin = f"{claims.MARGIN:g}"
    return {"stands": f"{model_name(first)} more robust by more than {margin}",
            "overturned": f"{model_name(second)} more robust by more than {margin}",
            claims.EQUAL: f"equal within {margin}"}.get(finding, finding)


def compare_row(first: str, second: str, pair: Paired | None, *, norm: str, eps: float) -> dict[str, object]:
    """The table row behind :func:`compare_sentence`: the budget, each model with the share it keeps of
    the same images, the images only one of them keeps, the difference with its interval and the finding,
    in the same words."""
    a, b = model_name(first), model_name(second)
    if pair is None:
        return {"budget": budget(norm, eps), "n": 0, "generative model": a, "counterpart": b,
                "finding": claims.NO_SHARED_IMAGES}
    finding, needed = judged(pair)
    kept_a, kept_b = _kept(pair)
    verdict = ordering(first, second, finding)
    if finding == adaptive.UNDECIDED:
        verdict += f" ({claims.undecided_note(needed, model_only=pair.model_only, than_only=pair.than_only, n=pair.n)})"
    return {"budget": budget(norm, eps), "n": pair.n, "generative model": f"{a}: {share(kept_a, pair.n)}",
            "counterpart": f"{b}: {share(kept_b, pair.n)}", "kept by one only": f"{pair.model_only} / {pair.than_only}",
            "difference [95%]": difference(pair), "finding": verdict}


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


def _names(models: Sequence[str]) -> str:
    """"naive Bayes, the CNN and the MLP"-style list of reader's names."""
    names = [model_name(m) for m in models]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


#: How the answer says each ruling on a number of the paper: a verb phrase for ``count`` numbers.
RULING_PHRASES = {"stands": "lets {count} stand", "overturned": "overturns {count}", "weakened": "weakens {count}",
                  "understated": "finds {count} understated", adaptive.UNDECIDED: "leaves {count} undecided at this n"}


def rulings_sentence(verdicts: pd.DataFrame, *, eps: float) -> str:
    """The rulings on the paper's numbers (:func:`genrob.adaptive.verdicts`) grouped: how many of each, which
    models, and which rulings rest on a worst case that fails a check bearing on it."""
    ruled = verdicts[verdicts["verdict"].map(adaptive.is_ruling)]
    if not len(ruled):
        return ""
    groups = [RULING_PHRASES.get(verdict, f"finds {{count}} {verdict}").format(count=len(g))
              + f" ({_names(g['model'].tolist())})"
              for verdict, g in sorted(ruled.groupby("verdict", sort=False), key=lambda kv: -len(kv[1]))]
    listed = groups[0] if len(groups) == 1 else ", ".join(groups[:-1]) + " and " + groups[-1]
    text = f"Of the paper's {len(ruled)} robustness numbers at {budget('linf', eps)} that our models answer, our " \
           f"worst case over every attack {listed}."
    flagged = ruled[ruled["failed_checks"].astype(bool)]
    if len(flagged):
        text += (f" The {'ruling' if len(flagged) == 1 else 'rulings'} on {_names(flagged['model'].tolist())} "
                 f"{'rests' if len(flagged) == 1 else 'rest'} on a worst case that fails a check bearing on it, "
                 "which the ruling names.")
    return text


#: The kinds of comparison the answer groups the paper's claims by (:func:`claim_group`).
GREY_PAIRS = "Generative against discriminative models on grey-level images"
THRESHOLD_PAIRS = "Comparisons involving a model that thresholds its input at 0.5"
OTHER_PAIRS = "Generative models against each other"


def claim_group(model: str, than: str, thresholding: set[str]) -> str:
    """Which kind of comparison a claim makes: a thresholding model in it, or else by the two models' kinds."""
    if model in thresholding or than in thresholding:
        return THRESHOLD_PAIRS
    kinds = {get_spec(model).kind, get_spec(than).kind}
    return GREY_PAIRS if kinds == {"generative", "discriminative"} else OTHER_PAIRS


def _per_eps(rows: pd.DataFrame) -> str:
    """"0.1: 7 stands; 0.2: 6 stands, 1 undecided at this n": a group's findings at each eps of one norm."""
    return "; ".join(f"{eps:g}: {counts(part['finding'])}" for eps, part in rows.groupby("eps"))


def claims_paragraphs(claims_table: pd.DataFrame, *, thresholding: set[str]) -> list[str]:
    """The paper's claims judged at every eps (:func:`genrob.claims.claims`) grouped by the kind of comparison
    each makes: the counts over the curve, then per group and norm what the claims come to at each eps (the
    claims one by one are the table's)."""
    if not len(claims_table):
        return []
    curves = claims.curves(claims_table)
    groups = claims_table.assign(group=[claim_group(m, t, thresholding)
                                        for m, t in zip(claims_table["model"], claims_table["than"])])
    paragraphs = [f"Of the paper's {plural(curves['claim'].nunique(), 'comparative claim')}, each judged in both "
                  f"norms at every eps on the images both models saw (margin {claims.MARGIN:g}, Holm over each "
                  f"claim's eps), over the curve: {claims.counts(curves)}."]
    for group in (GREY_PAIRS, OTHER_PAIRS, THRESHOLD_PAIRS):
        part = groups[groups["group"] == group]
        if not len(part):
            continue
        per_norm = [f"at {NORM_NAMES[norm]} eps {_per_eps(part[part['norm'] == norm])}" for norm in ("linf", "l2")
                    if (part["norm"] == norm).any()]
        floor = part[(part["finding"].isin([claims.EQUAL, "stands"])) & (part["model_only"] + part["both"] == 0)
                     & (part["than_only"] + part["both"] == 0)]
        tail = f" {len(floor)} of these findings compare two models that both keep no image." if len(floor) else ""
        paragraphs.append(f"**{group}** ({plural(part['claim'].nunique(), 'claim')}): "
                          + "; ".join(per_norm) + "." + tail)
    return paragraphs


def threshold_sentence(worst: pd.DataFrame, *, thresholding: set[str], linf_eps: float, l2_eps: float) -> str:
    """What the models that threshold their input keep at ``linf_eps`` and at ``l2_eps``, the discriminative
    ones (the threshold alone) beside the generative ones, and whether the generative model adds to what the
    threshold keeps at l∞ (by the point estimates; the claims above test it)."""
    worst = worst.set_index(["model", "norm", "eps"])
    present = [m for m in dict.fromkeys(worst.index.get_level_values(0)) if m in thresholding
               and (m, "linf", linf_eps) in worst.index and (m, "l2", l2_eps) in worst.index]
    control = [m for m in present if get_spec(m).kind == "discriminative"]
    generative = [m for m in present if get_spec(m).kind == "generative"]
    if not control or not generative:
        return ""

    def kept(models: list[str], norm: str, eps: float) -> str:
        shares = [f"{model_name(m)}: {fraction_text(worst.loc[(m, norm, eps), 'worst_case_accuracy'], int(worst.loc[(m, norm, eps), 'n']))}"
                  for m in models]
        return "; ".join(shares)

    best_control = max(worst.loc[(m, "linf", linf_eps), "worst_case_accuracy"] for m in control)
    best_generative = max(worst.loc[(m, "linf", linf_eps), "worst_case_accuracy"] for m in generative)
    owed = ("none of the generative ones keeps more than that, so what they keep there is owed to the threshold"
            if best_generative <= best_control else
            "a generative one keeps more than that, beyond what the threshold alone keeps")
    return (f"**The models that threshold their input at 0.5.** At {budget('linf', linf_eps)}, where only pixels "
            f"within eps of the threshold can change what they see, the discriminative ones keep with the threshold "
            f"alone ({kept(control, 'linf', linf_eps)}) and the generative ones ({kept(generative, 'linf', linf_eps)}): "
            f"{owed}. At {budget('l2', l2_eps)}, where a few pixels can be carried across it, they keep "
            f"{kept(control + generative, 'l2', l2_eps)}.")


def markdown_table(table: pd.DataFrame) -> str:
    """A small table as Markdown, its index first (for pages and blocks written as Markdown: the README's,
    the introduction's answer)."""
    header = [table.index.name or "", *table.columns]
    lines = ["| " + " | ".join(map(str, header)) + " |", "| " + " | ".join("---" for _ in header) + " |"]
    lines += ["| " + " | ".join(str(v) for v in (index, *row)) + " |" for index, row in zip(table.index, table.values)]
    return "\n".join(lines)


def exact_sentence(bracket: pd.DataFrame, *, profile: str) -> str:
    """What the exact solvers found (:func:`genrob.exactness.bracket`), in a few sentences: for which models
    and budgets the exact robust accuracy is known, how many images the attacks missed and where most,
    and whether any attack broke a certified image (there may be none)."""
    if not len(bracket):
        return (f"The `{profile}` profile holds no exact rows yet: `python -m genrob exact --profile {profile}` "
                "solves them for the models that admit a solver.")
    models = ", ".join(model_name(m) for m in dict.fromkeys(bracket["model"]))
    closed = int(bracket["exact"].sum())
    text = (f"The exact robust accuracy is solved for {models}: at {closed} of {len(bracket)} budgets exactly"
            + ("" if closed == len(bracket) else ", at the others as a bracket") + ". ")
    missed = bracket[bracket["missed"] > 0]
    if len(missed):
        most = missed.loc[missed["missed"].idxmax()]
        text += (f"The attacks missed {int(bracket['missed'].sum())} exactly breakable images in all, at "
                 f"{len(missed)} budgets; most for {model_name(most['model'])} at {budget(most['norm'], most['eps'])}: "
                 f"{int(most['missed'])} of {int(most['n'])}, its worst case {most['attacked']:.3f} against the exact "
                 f"{most['upper']:.3f}. ")
    else:
        text += "The attacks missed no exactly breakable image: their worst case is the exact value. "
    short = bracket[(bracket["missed"] > 0) & (bracket["upper"] < bracket["attacked_ci_low"])]
    for row in short.itertuples():
        text += (f"For {model_name(row.model)} at {budget(row.norm, row.eps)} the attacks fall short by more than "
                 f"their 95% interval: their worst case {row.attacked:.3f} (from {row.attacked_ci_low:.3f}) against "
                 f"the exact {row.upper:.3f}; the strongest single attack, {attack_name(row.strongest_attack)}, "
                 f"kept {row.strongest_accuracy:.3f}. " if isinstance(row.strongest_attack, str) else
                 f"For {model_name(row.model)} at {budget(row.norm, row.eps)} the attacks fall short by more than "
                 f"their 95% interval: their worst case {row.attacked:.3f} against the exact {row.upper:.3f}. ")
    broken = int(bracket["contradicted"].sum())
    text += ("No attack broke an image the solver certified robust." if not broken else
             f"Attacks broke {broken} images the solver certified robust: a defect of the solver's boundary rule.")
    return text


def coverage_text(coverage: pd.DataFrame) -> str:
    """Which models' exact robust accuracy is solved and how, and why the others' is not
    (:func:`genrob.exactness.coverage`), as two short Markdown lists grouped by method and by reason (a model
    named without a norm: at both)."""
    solved, unsolved = {}, {}
    for model, row in coverage.iterrows():
        for norm in ("linf", "l2"):
            how = row[norm]
            target = unsolved if how.startswith("none") else solved
            target.setdefault(how.removeprefix("none: "), {}).setdefault(model, []).append(NORM_NAMES[norm])

    def listed(groups: dict) -> str:
        return "\n".join("- " + ", ".join(model_name(m) + ("" if len(norms) == 2 else f" ({norms[0]})")
                                          for m, norms in models.items()) + f": {how}"
                         for how, models in groups.items())
    text = "Solved exactly, by:\n\n" + listed(solved) if solved else "No model here admits an exact solver."
    if unsolved:
        text += "\n\nNo exact value, because:\n\n" + listed(unsolved)
    return text
