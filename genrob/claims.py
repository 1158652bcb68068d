"""The paper's comparative claims judged where the evidence can decide them: at every eps of both grids.

A claim compares two models (:func:`genrob.paper.paper_claims`): one is more
robust than the other, or a change makes no difference. Each is judged on the
worst case over every attack, image by image on the test images both models saw,
at every eps of the adaptive grids (l_inf 0.1, 0.2, 0.3; l_2 1, 2, 3), because at
one eps both models may sit at the floor, where no n tells them apart and the eps
says nothing about the claim.

At each eps the difference of the two shares is tested three ways by Tango's
score test (:class:`genrob.paired.Paired`), against the margin :data:`MARGIN`,
each decided where its 95% interval lies wholly in the outcome's region:

- *more robust*: the difference lies above the margin (null: at most the margin);
- *less robust*: it lies below minus the margin;
- *equal*: it lies within the margin (two one-sided tests, both rejected).

The margin is also the minimum effect: an advantage smaller than it is no
advantage, however many images show it. Each claim and norm is one published
finding, so its tests at every eps are corrected together by Holm's step-down
(:func:`decide` says why the three tests at one eps need no correction among
themselves). A "more robust" claim *stands* at an eps where the first is
more robust, is *overturned* where it is less robust and reads *equal* where the
two are equal (which counts against it there); a "no difference" claim stands
where the two are equal and is overturned where either is more robust. Anything
else is *undecided at this n*, with the number of shared images that would
decide it at the observed rates (where the observed difference lies exactly on
the margin, at one image more either way).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from genrob.adaptive import L2_EPS, LINF_EPS, UNDECIDED, FamilyEvidence, about, compare_intervals
from genrob.attacks import PAPER_ATTACKS
from genrob.exactness import survivor_ends
from genrob.names import NORM_NAMES, budget, model_name
from genrob.paired import ALPHA, Paired, fewest, holm, paired
from genrob.paper import paper_claims
from genrob.results import interval_text

#: The smallest difference in robust accuracy that counts as one model being more robust than another,
#: and the margin within which two models count as equal (the methods chapter argues for it).
MARGIN = 0.05
#: What a claim comes to at one eps, in the order they are listed.
EQUAL = "equal"
NO_SHARED_IMAGES = "no shared images"
FINDINGS = ("stands", "overturned", EQUAL, UNDECIDED, NO_SHARED_IMAGES)
#: What a claim comes to over the curve of one norm (:func:`curve_finding`), in the order they are counted.
BOTH_WAYS = "mixed"
CURVE_FINDINGS = ("stands", "overturned", BOTH_WAYS, EQUAL, UNDECIDED, NO_SHARED_IMAGES)
#: The three outcomes of the tests at one eps.
MORE, LESS = "more robust", "less robust"
#: Said of an eps whose observed difference lies exactly on the margin: at these rates no n decides, so its
#: n is the one that one image more either way would need (:func:`n_to_decide`).
ON_THE_MARGIN = f"its difference lies exactly on the margin of {MARGIN:g}"


def eps_tests(pair: Paired, *, margin: float = MARGIN) -> dict[str, float]:
    """The three tests at one eps, as p-values: more robust (the difference above ``margin``), less robust
    (below minus ``margin``) and equal (within it: the larger of the two one-sided tests). Each is twice its
    one-sided score test's, so that a p-value below 5% is exactly a 95% Tango interval lying wholly in that
    outcome's region: the rule the rulings on the paper's numbers follow, and the interval the pages show."""
    def doubled(p: float) -> float:
        return min(1.0, 2 * p)

    return {MORE: doubled(pair.p_above(margin)), LESS: doubled(pair.p_below(-margin)),
            EQUAL: doubled(max(pair.p_below(margin), pair.p_above(-margin)))}


def decide(pairs: Sequence[Paired], *, margin: float = MARGIN) -> list[tuple[str | None, dict[str, float]]]:
    """Per pair (the eps of one finding), the outcome its tests decide (more robust, less robust, equal, or
    None) and the p-values: the three tests' own and ``adjusted``, the smallest of them after Holm's
    correction over the pairs.

    At one eps the three tests need no correction among themselves: a wrong outcome needs a bound of the
    95% interval to pass the true difference (an "equal" or "less robust" where it exceeds the margin needs
    the upper bound below it; a "more" or "less robust" where it lies within the margin needs the lower
    bound above it or the upper below it), and each bound does so with probability at most 2.5%. The eps of
    one claim and norm are several chances to be wrong, so their smallest p-values are corrected together
    by Holm.
    """
    raw = [eps_tests(pair, margin=margin) for pair in pairs]
    adjusted = holm([min(tests.values()) for tests in raw])
    decided = []
    for tests, p in zip(raw, adjusted):
        outcome = min(tests, key=tests.get) if p < ALPHA else None
        decided.append((outcome, {**tests, "adjusted": float(p)}))
    return decided


def on_the_margin(model_only: int, than_only: int, n: int, *, margin: float = MARGIN) -> bool:
    """Whether a paired difference lies exactly on the margin, where no n decides at the observed rates."""
    return n > 0 and abs(abs(model_only - than_only) - margin * n) < 1e-9 * n


def n_to_decide(pair: Paired, *, tests: int, margin: float = MARGIN, most: int = 1_000_000) -> int | None:
    """The fewest shared images that, at ``pair``'s observed rates, decide its eps whatever the other eps of
    the finding say: a test's p-value below :data:`ALPHA` over the number of eps tested together (Holm's
    first, strictest step). Where the observed difference lies exactly on the margin no n does; then the
    fewer of the two that one image more kept by either model would need (:func:`undecided_note` says so).
    None only where neither is reached by ``most``."""
    def needed(candidate: Paired, most: int) -> int | None:
        return fewest(lambda n: min(eps_tests(candidate.scaled(n), margin=margin).values()) < ALPHA / tests,
                      candidate.n + 1, most)

    if not on_the_margin(pair.model_only, pair.than_only, pair.n, margin=margin):
        return needed(pair, most)
    # One image of n moves the difference by 1/n: deciding that needs of the order of n^2 images, so the
    # search goes as far as that takes (it doubles, so a few dozen steps).
    either_way = [needed(Paired(pair.n, pair.model_only + 1, pair.than_only, pair.both), most * most),
                  needed(Paired(pair.n, pair.model_only, pair.than_only + 1, pair.both), most * most)]
    found = [n for n in either_way if n is not None]
    return min(found) if found else None


def undecided_note(needed: float | None, *, model_only: int, than_only: int, n: int) -> str:
    """What an undecided eps says in brackets: about how many shared images would decide it (where its
    difference lies exactly on the margin, at one image more either way)."""
    if needed is None or pd.isna(needed):
        return "no n up to a million would decide"
    would = f"about {about(needed)} shared images would decide"
    return (f"{ON_THE_MARGIN}: {would} at one image more either way"
            if on_the_margin(model_only, than_only, n) else would)


def finding_of(expected: str, outcome: str | None) -> str:
    """What an outcome of the tests means for a claim that the first model is ``expected`` than the other."""
    if outcome is None:
        return UNDECIDED
    if expected == "no difference":
        return "stands" if outcome == EQUAL else "overturned"
    return {MORE: "stands", LESS: "overturned", EQUAL: EQUAL}[outcome]


def judge_curve(expected: str, pairs: Sequence[Paired | None], *,
                margin: float = MARGIN) -> list[tuple[str, int | None, dict[str, float]]]:
    """Per eps of one claim and norm: the finding, the n that would decide it where undecided, and the
    Holm-adjusted p-values (:func:`decide`; eps without shared images are left out of the correction)."""
    present = [p for p in pairs if p is not None]
    decided = iter(decide(present, margin=margin))
    tests = len(present)
    judged = []
    for pair in pairs:
        if pair is None:
            judged.append((NO_SHARED_IMAGES, None, {}))
            continue
        outcome, values = next(decided)
        finding = finding_of(expected, outcome)
        needed = n_to_decide(pair, tests=tests, margin=margin) if finding == UNDECIDED else None
        judged.append((finding, needed, values))
    return judged


def _on_both_ends(expected: str, low: Sequence[Paired | None], high: Sequence[Paired | None], *,
                   margin: float = MARGIN) -> list[tuple[str, int | None, dict[str, float]]]:
    """:func:`judge_curve` at both ends of the difference's bracket (``low``: the first model's certified
    images against the other's not-breakable ones; ``high``: the reverse): a finding where both ends give it,
    else undecided, with the n that would decide where both ends are undecided (where one end is decided and
    the other not, or the two decided apart, the solvers must close the bracket: no n is given)."""
    judged = []
    for at_low, at_high in zip(judge_curve(expected, low, margin=margin), judge_curve(expected, high, margin=margin)):
        if at_low[0] == at_high[0]:
            judged.append(at_low if at_low[0] != UNDECIDED else
                          (UNDECIDED, max((n for n in (at_low[1], at_high[1]) if n is not None), default=None),
                           at_low[2]))
        else:
            judged.append((UNDECIDED, None, at_low[2]))
    return judged


def claims(evidence: list[FamilyEvidence], *, grids: dict[str, Sequence[float]] | None = None,
           exact: pd.DataFrame | None = None) -> pd.DataFrame:
    """The paper's comparative claims against our evidence, one row per claim, norm and eps.

    ``model`` against ``than`` under the worst case over every attack, image by image on the test images
    both saw (``n_paired``; nested subsets across families), with the difference of their shares and its
    95% Tango interval, and under the strongest of the paper's attacks by 95% intervals (for reference);
    ``finding`` by :func:`judge_curve` over the eps of the claim and norm, with ``n_to_decide`` where
    undecided. Claims about a model not evaluated are left out.

    Where ``exact`` (the exact table, :mod:`genrob.exactness`) holds a model at an eps on the same images, its
    images count as the solver decided them (:func:`genrob.exactness.survivor_ends`): with nothing undecided,
    exactly; else as a bracket, the claim judged at both ends of the difference and decided only where they
    agree (``outcomes`` says which: ``attacks``, ``exact`` or ``bracket``). ``model_worst`` and ``than_worst``
    stay the attacks' worst cases.
    """
    grids = grids or {"linf": LINF_EPS, "l2": L2_EPS}
    worst = pd.concat([e.worst_case for e in evidence], ignore_index=True)
    worst = worst.rename(columns={"worst_case_accuracy": "accuracy"}).set_index(["model", "norm", "eps"])
    survivors = {key: alive for e in evidence for key, alive in e.survivors.items()}
    ends = survivor_ends(survivors, exact)
    results = pd.concat([e.results for e in evidence], ignore_index=True)
    papers = results[results["attack"].isin(PAPER_ATTACKS)]
    strongest = papers.loc[papers.groupby(["model", "norm", "eps"])["robust_accuracy"].idxmin()].set_index(
        ["model", "norm", "eps"])
    rows = []
    for claim in paper_claims().itertuples():
        for norm, grid in grids.items():
            keys = [((claim.model, norm, eps), (claim.than, norm, eps)) for eps in grid]
            keys = [(eps, first, second) for eps, (first, second) in zip(grid, keys)
                    if all(k in worst.index and k in strongest.index and k in survivors for k in (first, second))]
            low_pairs = [paired(ends[first][0], ends[second][1]) for _, first, second in keys]
            pairs = [paired(ends[first][1], ends[second][0]) for _, first, second in keys]
            judged = _on_both_ends(claim.expected, low_pairs, pairs)
            for (eps, first, second), low_pair, pair, (finding, needed, p) in zip(keys, low_pairs, pairs, judged):
                estimate, low, high = pair.difference() if pair is not None else (float("nan"),) * 3
                if low_pair is not None and low_pair != pair:  # the interval spans both ends of the bracket
                    low = min(low, low_pair.difference()[1])
                sources = {_source(ends[key], survivors[key]) for key in (first, second)}
                a, b = strongest.loc[first], strongest.loc[second]
                rows.append({
                    "claim": claim.claim, "model": claim.model, "than": claim.than, "expected": claim.expected,
                    "norm": norm, "eps": eps,
                    "model_paper_attacks": a["robust_accuracy"], "than_paper_attacks": b["robust_accuracy"],
                    "paper_attacks": compare_intervals((a["robust_ci_low"], a["robust_ci_high"]),
                                                       (b["robust_ci_low"], b["robust_ci_high"])),
                    "model_worst": worst.loc[first, "accuracy"], "than_worst": worst.loc[second, "accuracy"],
                    "model_ci": (worst.loc[first, "ci_low"], worst.loc[first, "ci_high"]),
                    "than_ci": (worst.loc[second, "ci_low"], worst.loc[second, "ci_high"]),
                    "n_paired": pair.n if pair is not None else 0,
                    "model_only": pair.model_only if pair is not None else 0,
                    "than_only": pair.than_only if pair is not None else 0,
                    "both": pair.both if pair is not None else 0,
                    "difference": estimate, "difference_ci": (low, high),
                    "p_more": p.get(MORE, np.nan), "p_less": p.get(LESS, np.nan), "p_equal": p.get(EQUAL, np.nan),
                    "p_adjusted": p.get("adjusted", np.nan), "finding": finding, "n_to_decide": needed,
                    "outcomes": "bracket" if "bracket" in sources else "exact" if "exact" in sources else "attacks"})
    columns = ["claim", "model", "than", "expected", "norm", "eps", "model_paper_attacks", "than_paper_attacks",
               "paper_attacks", "model_worst", "than_worst", "model_ci", "than_ci", "n_paired", "model_only",
               "than_only", "both", "difference", "difference_ci", "p_more", "p_less", "p_equal", "p_adjusted",
               "finding", "n_to_decide", "outcomes"]
    return pd.DataFrame(rows, columns=columns)


def _source(ends: tuple[pd.Series, pd.Series], alive: pd.Series) -> str:
    """Whence a model's per-image outcomes at one eps: the attacks alone, the exact solver, or a bracket."""
    certified, unbroken = ends
    if certified is alive and unbroken is alive:
        return "attacks"
    return "exact" if certified.equals(unbroken) else "bracket"


def _at_floor(rows: pd.DataFrame) -> bool:
    """Both models keep no image at every eps of ``rows``."""
    return bool(((rows["model_only"] + rows["both"] == 0) & (rows["than_only"] + rows["both"] == 0)).all())


def curve_phrase(rows: pd.DataFrame) -> str:
    """The finding of one claim and norm over its eps (rows of :func:`claims`, in eps order) as one short
    phrase: runs of eps with the same finding, e.g. "stands up to 0.2; equal at 0.3 (both at 0)"."""
    findings = rows["finding"].tolist()
    runs, start = [], 0
    for i in range(1, len(findings) + 1):
        if i == len(findings) or findings[i] != findings[start]:
            runs.append(rows.iloc[start:i])
            start = i
    parts = []
    for k, run in enumerate(runs):
        eps = [f"{e:g}" for e in run["eps"]]
        if len(runs) == 1:
            where = "at every eps" if len(eps) > 1 else f"at {eps[0]}"
        elif len(eps) == 1:
            where = f"at {eps[0]}"
        elif k == 0:
            where = f"up to {eps[-1]}"
        elif k == len(runs) - 1:
            where = f"from {eps[0]}"
        else:
            where = f"at {eps[0]} to {eps[-1]}"
        finding = run["finding"].iloc[0]
        text = f"{'undecided' if finding == UNDECIDED else finding} {where}"
        if finding == UNDECIDED:
            # the eps that needs the most images speaks for the run
            most = run.loc[run["n_to_decide"].fillna(np.inf).idxmax()]
            note = undecided_note(most["n_to_decide"], model_only=int(most["model_only"]),
                                  than_only=int(most["than_only"]), n=int(most.get("n_paired", 0)))
            text += f" ({note})"
        elif finding in (EQUAL, "stands") and _at_floor(run):
            text += " (both at 0)"
        parts.append(text)
    return "; ".join(parts)


def curve_finding(findings: Sequence[str]) -> str:
    """What a claim comes to over the curve of one norm, from its findings at each eps: it *stands* where it
    stands at some eps and is overturned at none, is *overturned* the other way round, is *mixed* where it
    stands at some eps and is overturned at others, reads *equal* where it is decided only as equal, and
    stays undecided where nothing is decided."""
    found = set(findings)
    if {"stands", "overturned"} <= found:
        return BOTH_WAYS
    for finding in ("stands", "overturned", EQUAL, UNDECIDED):
        if finding in found:
            return finding
    return NO_SHARED_IMAGES


def curves(claims_table: pd.DataFrame) -> pd.DataFrame:
    """Per claim and norm of :func:`claims`: the finding over the curve (:func:`curve_finding`) and its
    phrase (:func:`curve_phrase`)."""
    rows = []
    for (claim, norm), part in claims_table.groupby(["claim", "norm"], sort=False):
        part = part.sort_values("eps")
        rows.append({"claim": claim, "model": part["model"].iloc[0], "than": part["than"].iloc[0],
                     "expected": part["expected"].iloc[0], "norm": norm,
                     "finding": curve_finding(part["finding"]), "phrase": curve_phrase(part)})
    return pd.DataFrame(rows, columns=["claim", "model", "than", "expected", "norm", "finding", "phrase"])


def counts(curves_table: pd.DataFrame) -> str:
    """"16 stand, 8 overturned, ...": the findings over the curve, counted in :data:`CURVE_FINDINGS` order."""
    found = curves_table["finding"].value_counts()
    return ", ".join(f"{int(found[f])} {f}" for f in CURVE_FINDINGS if f in found)


def summary(curves_table: pd.DataFrame) -> str:
    """The findings over the curve as Markdown: a line per finding, the claims under it with each norm's
    phrase."""
    lines = []
    for finding in CURVE_FINDINGS:
        group = curves_table[curves_table["finding"] == finding]
        if not len(group):
            continue
        phrases = group.assign(text=[f"{NORM_NAMES[row.norm]}: {row.phrase}" for row in group.itertuples()])
        per_claim = phrases.groupby("claim", sort=False)["text"].agg("; ".join)
        lines.append(f"- **{finding}** ({len(group)} of {len(curves_table)}): "
                     + "; ".join(f"{claim} ({text})" for claim, text in per_claim.items()))
    return "\n".join(lines)


def table(curves_table: pd.DataFrame) -> pd.DataFrame:
    """The claims as a reader reads them: per claim, what it comes to over each norm's eps."""
    shown = curves_table.pivot(index="claim", columns="norm", values="phrase").reindex(
        list(dict.fromkeys(curves_table["claim"])))
    shown = shown.reindex(columns=[n for n in ("linf", "l2") if n in shown.columns])
    shown.columns = [NORM_NAMES[n] for n in shown.columns]
    return shown


def eps_table(claims_table: pd.DataFrame) -> pd.DataFrame:
    """:func:`claims` in detail: per claim and budget, each model's worst case with its 95% interval, the
    images both saw, the difference with its 95% Tango interval, and the finding at that eps."""
    return pd.DataFrame({
        "claim": claims_table["claim"],
        "budget": [budget(norm, eps) for norm, eps in zip(claims_table["norm"], claims_table["eps"])],
        "the model it favours": [f"{model_name(m)}: {interval_text(a, *ci)}" for m, a, ci in
                                 zip(claims_table["model"], claims_table["model_worst"], claims_table["model_ci"])],
        "the other": [f"{model_name(m)}: {interval_text(a, *ci)}" for m, a, ci in
                      zip(claims_table["than"], claims_table["than_worst"], claims_table["than_ci"])],
        "shared images": claims_table["n_paired"],
        "difference": [interval_text(d, *ci) for d, ci in zip(claims_table["difference"],
                                                              claims_table["difference_ci"])],
        "finding": [row.finding if row.finding != UNDECIDED else UNDECIDED + " ({})".format(undecided_note(
                        row.n_to_decide, model_only=row.model_only, than_only=row.than_only, n=row.n_paired))
                    for row in claims_table.itertuples()],
    }).set_index("claim")
