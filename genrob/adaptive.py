"""Are they really robust? The adaptive evaluation of every model, family by family.

For each family the paper's ten attacks (read from its chapter's sweep) are
joined by the adaptive ones (:data:`genrob.attacks.ADAPTIVE_ATTACKS`) on the same
images, at l_inf eps 0.1, 0.2, 0.3 and l_2 eps 1, 2, 3, plus three runs that
exist only to check the others: the margin PGD with twice the budget at l_inf
0.3 (did it converge?), the margin PGD at l_inf eps 1 (an unbounded attack must
fool everything) and, for models that sample, randomised AutoAttack (expectation
over the noise) at l_inf 0.3. The number that counts is the worst case, image
by image, over every attack. A profile may spare a family's generative models
the attacks it cannot afford (:meth:`genrob.profiles.Profile.adaptive_skipped`;
its discriminative models still get them); a family spared randomised
AutoAttack gets its chapter's EOT-PGD in its place.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import pandas as pd

from genrob import checks, evaluate
from genrob.evaluate import per_image_outcome
from genrob.attacks import ADAPTIVE_ATTACKS, PAPER_ATTACKS, norm_of
from genrob.data import MNIST
from genrob.models import get_spec, model_names
from genrob.models.registry import families
from genrob.paper import mnist_challenge, paper_claims, paper_robustness
from genrob.params import ParameterError, SweepConfig, sampling_models, sweep_config
from genrob.profiles import get_profile
from genrob.results import wilson_interval

LINF_EPS = (0.1, 0.2, 0.3)
L2_EPS = (1.0, 2.0, 3.0)
#: The budget the verdicts are given at (the paper's Table 1).
HEADLINE_EPS = 0.3
UNBOUNDED_EPS = 1.0


@dataclass
class FamilyEvidence:
    """Everything the adaptive evaluation found for one family's models."""

    config: SweepConfig  # paper and adaptive attacks together, on the common grid
    results: pd.DataFrame  # every row: paper's attacks, adaptive ones, and the check runs
    worst_case: pd.DataFrame  # per model, norm and eps (see :func:`genrob.evaluate.worst_case`)
    checks: pd.DataFrame  # per model and check (see :func:`genrob.checks.sanity_checks`)


def family_config(family: str, *, profile: str, n: int | None = None, seed: int = 0,
                  models: list[str] | None = None) -> SweepConfig:
    """The paper's and the adaptive attacks on a family's own models, on the adaptive grid.

    Counterparts registered in another family are evaluated there, so that each
    model appears once, with its own family's images.
    """
    models = models if models is not None else model_names(family=family)
    try:
        chosen = get_profile(profile)
    except ValueError as err:
        raise ParameterError(str(err)) from None
    n = n if n is not None else chosen.adaptive_n_for(family)
    skipped = chosen.adaptive_skipped(family)
    attacks = PAPER_ATTACKS + tuple(a for a in ADAPTIVE_ATTACKS if a not in skipped)
    return sweep_config(profile=profile, family=family, models=models, attacks=attacks,
                        linf_eps=LINF_EPS, l2_eps=L2_EPS, n=n, seed=seed)


def check_configs(config: SweepConfig, *, family: str) -> list[SweepConfig]:
    """The runs that test the others: doubled budget, unbounded eps, expectation over the noise
    (randomised AutoAttack, or EOT-PGD where the profile spares the family AutoAttack)."""
    sampling = sampling_models(config)
    runs = [dataclasses.replace(config, attacks=("pgd_margin_linf_long",), linf_eps=(HEADLINE_EPS,)),
            dataclasses.replace(config, attacks=("pgd_margin_linf",), linf_eps=(UNBOUNDED_EPS,))]
    if sampling and "autoattack_rand_linf" in config.profile.adaptive_skipped(family):
        runs.append(dataclasses.replace(config, models=sampling, attacks=("eot_pgd_linf",), linf_eps=LINF_EPS))
    elif sampling:
        runs.append(dataclasses.replace(config, models=sampling, attacks=("autoattack_rand_linf",),
                                        linf_eps=(HEADLINE_EPS,)))
    return runs


def spared_runs(config: SweepConfig, *, family: str) -> list[SweepConfig]:
    """The adaptive attacks the profile spares a family, run on its discriminative models all the
    same: the cost that spares them is the generative models' (a CNN's is a thousandth of it)."""
    spared = [a for a in config.profile.adaptive_skipped(family) if a in ADAPTIVE_ATTACKS]
    cheap = tuple(m for m in config.models if get_spec(m).kind != "generative")
    return [dataclasses.replace(config, models=cheap, attacks=tuple(spared))] if spared and cheap else []


def not_run_note(family: str, *, profile: str) -> str:
    """A sentence naming the adaptive attacks the profile spares ``family`` ("" when it runs them all)."""
    skipped = get_profile(profile).adaptive_skipped(family)
    if not skipped:
        return ""
    return (f" Not run on this family's generative models at the `{profile}` profile, for their cost: "
            + ", ".join(f"`{a}`" for a in skipped) + " (its discriminative models get them; the `full` "
            "profile runs them on every model).")


def evaluate_family(family: str, *, profile: str, n: int | None = None, seed: int = 0,
                    models: list[str] | None = None, data: MNIST | None = None) -> FamilyEvidence:
    """Run (or read) every attack on a family's models and judge the numbers."""
    config = family_config(family, profile=profile, n=n, seed=seed, models=models)
    runs = [config, *spared_runs(config, family=family), *check_configs(config, family=family)]
    results = pd.concat([evaluate.sweep(c, data=data) for c in runs], ignore_index=True)
    grid = {"linf": LINF_EPS, "l2": L2_EPS}
    on_grid = results[[eps in grid[norm] for norm, eps in zip(results["norm"], results["eps"])]]
    worst = pd.concat([worst_case(config, norm=norm, results=on_grid, data=data)
                       for norm in ("linf", "l2")], ignore_index=True)
    return FamilyEvidence(config=config, results=results, worst_case=worst, checks=checks.sanity_checks(results))


def paper_worst_case(eps: float = HEADLINE_EPS) -> pd.DataFrame:
    """The paper's own worst case at l_inf ``eps``: the lowest robust accuracy any of its attacks reported."""
    paper = paper_robustness().dropna(subset=["robust_accuracy"])
    paper = paper[(paper["norm"] == "linf") & (paper["eps"].astype(float) == eps)]
    lowest = paper.loc[paper.groupby("paper_model")["robust_accuracy"].idxmin()]
    return lowest.set_index("paper_model")[["attack", "robust_accuracy"]].rename(
        columns={"attack": "paper_attack", "robust_accuracy": "paper"})


def verdicts(evidence: list[FamilyEvidence]) -> pd.DataFrame:
    """Per model at l_inf eps 0.3: the paper's number, ours under its attacks, our worst case, the checks.

    ``verdict``: *stands* when the paper's number is inside or below our worst
    case's interval; *weakened* when it is above, but the worst case keeps at
    least half of it; *overturned* when less than half is left.
    """
    paper = paper_worst_case()
    rows = []
    for family in evidence:
        for model in family.config.models:
            results = family.results[(family.results["model"] == model) & (family.results["eps"] == HEADLINE_EPS)
                                     & (family.results["norm"] == "linf")]
            papers_attacks = results[results["attack"].isin(PAPER_ATTACKS)]
            worst = family.worst_case[(family.worst_case["model"] == model) & (family.worst_case["norm"] == "linf")
                                      & (family.worst_case["eps"] == HEADLINE_EPS)].iloc[0]
            failed = family.checks[(family.checks["model"] == model) & ~family.checks["passed"]]["check"]
            name = get_spec(model).paper_name
            claimed = paper["paper"].get(name, float("nan"))
            rows.append({
                "model": model, "kind": get_spec(model).kind, "n": int(worst["n"]),
                "clean": worst["clean_accuracy"], "paper": claimed,
                "ours_paper_attacks": papers_attacks["robust_accuracy"].min(),
                "worst_case": worst["worst_case_accuracy"], "worst_ci_high": worst["ci_high"],
                "strongest_attack": worst["strongest_attack"],
                "failed_checks": "; ".join(failed) if len(failed) else "none",
                "verdict": _verdict(claimed, worst["worst_case_accuracy"], worst["ci_high"]),
            })
    return pd.DataFrame(rows)


def _verdict(paper: float, worst: float, worst_ci_high: float) -> str:
    if pd.isna(paper):
        return "not in the paper"
    if paper <= worst_ci_high:
        return "stands"
    return "weakened" if worst >= paper / 2 else "overturned"


def compare_intervals(first: tuple[float, float], second: tuple[float, float]) -> str:
    """"more robust", "less robust" or "no clear difference": ``first`` against ``second``, each a
    95% interval (low, high) of a robust accuracy; one is more robust only where the two do not overlap."""
    if first[0] > second[1]:
        return "more robust"
    if second[0] > first[1]:
        return "less robust"
    return "no clear difference"


def worst_case(config: SweepConfig, *, norm: str, results: pd.DataFrame | None = None,
               data: MNIST | None = None) -> pd.DataFrame:
    """Per model and eps: the share of images that survive every ``norm`` attack run at that eps.

    An image counts as robust only if no attack fooled it, image by image; the
    strongest single attack is shown beside it. The attacks are those of
    ``config`` at each eps of its grid or, given ``results`` (rows of sweeps with
    ``config``'s profile, n and seed), whatever those rows ran at each eps.
    Reads the sweeps' per-image files.
    """
    rows = []
    for model in config.models:
        if results is None:
            grid = config.linf_eps if norm == "linf" else config.l2_eps
            per_eps = {eps: [a for a in config.attacks if norm_of(a) == norm and eps in config.eps_for(a)]
                       for eps in grid}
        else:
            part = results[(results["model"] == model) & (results["norm"] == norm)]
            per_eps = {eps: list(dict.fromkeys(part.loc[part["eps"] == eps, "attack"]))
                       for eps in sorted(part["eps"].unique())}
        for eps, names in per_eps.items():
            if not names:
                continue
            outcomes = {a: per_image_outcome(config, model, a, eps, data=data) for a in names}
            clean = next(iter(outcomes.values()))["clean_correct"]
            survives = {a: clean & ~o["fooled"] for a, o in outcomes.items()}
            every = np.logical_and.reduce(list(survives.values()))
            strongest = min(survives, key=lambda a: survives[a].sum())
            low, high = wilson_interval(int(every.sum()), len(every))
            rows.append({"model": model, "norm": norm, "eps": eps, "n": len(every), "attacks": len(names),
                         "clean_accuracy": clean.mean(), "worst_case_accuracy": every.mean(),
                         "ci_low": low, "ci_high": high, "strongest_attack": strongest,
                         "strongest_attack_accuracy": survives[strongest].mean()})
    return pd.DataFrame(rows)


def _compare(first: pd.Series, second: pd.Series) -> str:
    """:func:`compare_intervals` for two rows with ``ci_low`` and ``ci_high``."""
    return compare_intervals((first["ci_low"], first["ci_high"]), (second["ci_low"], second["ci_high"]))


def _finding(expected: str, compared: str, model_worst: float, than_worst: float) -> str:
    """What the worst case makes of a claim that ``model`` is ``expected`` than ``than``.

    "More robust": it *stands* where the intervals show it, is *weakened* where
    ``model`` is still ahead but within the intervals, and is *overturned* where
    it is not ahead at all. "No difference": it stands unless the intervals part.
    """
    if expected == "no difference":
        return "stands" if compared == "no clear difference" else "overturned"
    if compared == "more robust":
        return "stands"
    return "weakened" if compared == "no clear difference" and model_worst > than_worst else "overturned"


def claims(evidence: list[FamilyEvidence], *, linf_eps: float = HEADLINE_EPS, l2_eps: float = 2.0) -> pd.DataFrame:
    """The paper's comparative conclusions (:func:`genrob.paper.paper_claims`) against our evidence.

    Per claim and norm, at one eps each: ``model`` against ``than`` under the
    strongest of the paper's attacks (``paper_attacks``) and under the worst case
    over every attack (``worst_case``), each by 95% intervals; the ``finding``
    follows from the worst case (:func:`_finding`): *stands*, *weakened* (still
    ahead, but within the intervals) or *overturned* (not ahead, or behind).
    Claims about a model not evaluated are left out.
    """
    worst = pd.concat([e.worst_case for e in evidence], ignore_index=True)
    worst = worst.rename(columns={"worst_case_accuracy": "accuracy"}).set_index(["model", "norm", "eps"])
    results = pd.concat([e.results for e in evidence], ignore_index=True)
    papers = results[results["attack"].isin(PAPER_ATTACKS)].rename(
        columns={"robust_accuracy": "accuracy", "robust_ci_low": "ci_low", "robust_ci_high": "ci_high"})
    strongest = papers.loc[papers.groupby(["model", "norm", "eps"])["accuracy"].idxmin()].set_index(
        ["model", "norm", "eps"])
    rows = []
    for claim in paper_claims().itertuples():
        for norm, eps in (("linf", linf_eps), ("l2", l2_eps)):
            first, second = (claim.model, norm, eps), (claim.than, norm, eps)
            if not all(k in worst.index and k in strongest.index for k in (first, second)):
                continue
            compared = _compare(worst.loc[first], worst.loc[second])
            rows.append({"claim": claim.claim, "model": claim.model, "than": claim.than, "norm": norm, "eps": eps,
                         "model_paper_attacks": strongest.loc[first, "accuracy"],
                         "than_paper_attacks": strongest.loc[second, "accuracy"],
                         "paper_attacks": _compare(strongest.loc[first], strongest.loc[second]),
                         "model_worst": worst.loc[first, "accuracy"], "than_worst": worst.loc[second, "accuracy"],
                         "model_ci": (worst.loc[first, "ci_low"], worst.loc[first, "ci_high"]),
                         "than_ci": (worst.loc[second, "ci_low"], worst.loc[second, "ci_high"]),
                         "worst_case": compared,
                         "finding": _finding(claim.expected, compared, worst.loc[first, "accuracy"],
                                             worst.loc[second, "accuracy"])})
    return pd.DataFrame(rows)


def claims_summary(claims_table: pd.DataFrame) -> str:
    """The findings of :func:`claims` as Markdown: one line per finding, the claims (and norms) under it."""
    lines = []
    for finding in ("stands", "weakened", "overturned"):
        group = claims_table[claims_table["finding"] == finding]
        if len(group):
            where = group.groupby("claim", sort=False)["norm"].agg(
                lambda norms: " and ".join("l_inf" if n == "linf" else "l_2" for n in norms))
            lines.append(f"- **{finding}** ({len(group)} of {len(claims_table)}): "
                         + "; ".join(f"{claim} ({norms})" for claim, norms in where.items()))
    return "\n".join(lines)


def reference_comparison(evidence: list[FamilyEvidence], *, model: str = "cnn_adversarial") -> pd.DataFrame:
    """Our adversarially trained CNN at l_inf eps 0.3 beside Madry et al.'s on the MNIST challenge:
    our worst case and our PGD, then the challenge's strongest attack and its plain 100-step PGD."""
    challenge = mnist_challenge()
    plain_pgd = challenge[challenge["attack"] == "100-step PGD on cross-entropy"].iloc[0]
    rows = []
    for family in evidence:
        if model not in family.config.models:
            continue
        worst = family.worst_case[(family.worst_case["model"] == model) & (family.worst_case["norm"] == "linf")
                                  & (family.worst_case["eps"] == HEADLINE_EPS)].iloc[0]
        pgd = family.results[(family.results["model"] == model) & (family.results["attack"] == "pgd_linf")
                             & (family.results["eps"] == HEADLINE_EPS)]["robust_accuracy"]
        rows += [
            {"model": model, "evaluation": "ours: worst case over every attack", "n": int(worst["n"]),
             "robust_accuracy": worst["worst_case_accuracy"], "ci_low": worst["ci_low"], "ci_high": worst["ci_high"]},
            {"model": model, "evaluation": "ours: PGD-40 (the paper's attack)", "n": int(worst["n"]),
             "robust_accuracy": pgd.iloc[0] if len(pgd) else float("nan")},
        ]
    rows += [
        {"model": "MNIST challenge CNN", "evaluation": f"challenge: strongest attack ({challenge['attack'].iloc[0]})",
         "n": 10000, "robust_accuracy": challenge["robust_accuracy"].iloc[0]},
        {"model": "MNIST challenge CNN", "evaluation": f"challenge: {plain_pgd['attack']}", "n": 10000,
         "robust_accuracy": plain_pgd["robust_accuracy"]},
    ]
    return pd.DataFrame(rows)


def worst_case_table(evidence: list[FamilyEvidence], *, norm: str) -> pd.DataFrame:
    """Worst-case robust accuracy, model x eps, with clean accuracy and n first."""
    worst = pd.concat([e.worst_case for e in evidence], ignore_index=True)
    worst = worst[worst["norm"] == norm]
    order = list(dict.fromkeys(worst["model"]))
    table = worst.pivot(index="model", columns="eps", values="worst_case_accuracy").reindex(order)
    table.columns = [f"eps {eps:g}" for eps in table.columns]
    first = worst.groupby("model", sort=False)[["n", "clean_accuracy"]].first()
    return first.join(table).rename(columns={"clean_accuracy": "clean"})


def failed_checks(evidence: list[FamilyEvidence]) -> pd.DataFrame:
    """The checks that failed, model by model, with their evidence (empty when all passed)."""
    every = pd.concat([e.checks for e in evidence], ignore_index=True)
    return every[~every["passed"]].drop(columns="passed").reset_index(drop=True)


def families_to_evaluate(chosen: list[str] | str | None = None) -> list[str]:
    """The families to evaluate (default: every registered one, the reference last); bad names stop early."""
    known = families()
    if chosen is None:
        return known
    chosen = [chosen] if isinstance(chosen, str) else list(chosen)
    unknown = [f for f in chosen if f not in known]
    if unknown or not chosen:
        raise ParameterError(f"unknown families {unknown or chosen}; known families: {known}")
    return chosen
