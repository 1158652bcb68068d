"""Are they really robust? The adaptive evaluation of every model, family by family.

For each family the paper's ten attacks (read from its chapter's sweep) are
joined by the adaptive ones (:data:`genrob.attacks.ADAPTIVE_ATTACKS`) on the same
images, at l_inf eps 0.1, 0.2, 0.3 and l_2 eps 1, 2, 3, plus three runs that
exist only to check the others: the margin PGD with twice the budget at l_inf
0.3 (did it converge?), the margin PGD at l_inf eps 1 (an unbounded attack must
fool everything) and, for models that sample, randomised AutoAttack (expectation
over the noise) at l_inf 0.3. The number that counts is the worst case, image
by image, over every attack. A profile may spare a family the attacks it cannot
afford (:meth:`genrob.profiles.Profile.adaptive_skipped`); a family spared
randomised AutoAttack gets its chapter's EOT-PGD in its place.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import pandas as pd

from genrob import chapter, checks, evaluate
from genrob.attacks import ADAPTIVE_ATTACKS, PAPER_ATTACKS
from genrob.data import MNIST
from genrob.models import get_spec, model_names
from genrob.models.registry import families
from genrob.paper import mnist_challenge, paper_robustness
from genrob.params import ParameterError, SweepConfig, sweep_config
from genrob.profiles import get_profile

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
    sampling = chapter.sampling_models(config)
    runs = [dataclasses.replace(config, attacks=("pgd_margin_linf_long",), linf_eps=(HEADLINE_EPS,)),
            dataclasses.replace(config, attacks=("pgd_margin_linf",), linf_eps=(UNBOUNDED_EPS,))]
    if sampling and "autoattack_rand_linf" in config.profile.adaptive_skipped(family):
        runs.append(dataclasses.replace(config, models=sampling, attacks=("eot_pgd_linf",), linf_eps=LINF_EPS))
    elif sampling:
        runs.append(dataclasses.replace(config, models=sampling, attacks=("autoattack_rand_linf",),
                                        linf_eps=(HEADLINE_EPS,)))
    return runs


def not_run_note(family: str, *, profile: str) -> str:
    """A sentence naming the adaptive attacks the profile spares ``family`` ("" when it runs them all)."""
    skipped = get_profile(profile).adaptive_skipped(family)
    if not skipped:
        return ""
    return (f" Not run on this family at the `{profile}` profile, for their cost: "
            + ", ".join(f"`{a}`" for a in skipped) + " (the `full` profile runs them).")


def evaluate_family(family: str, *, profile: str, n: int | None = None, seed: int = 0,
                    models: list[str] | None = None, data: MNIST | None = None) -> FamilyEvidence:
    """Run (or read) every attack on a family's models and judge the numbers."""
    config = family_config(family, profile=profile, n=n, seed=seed, models=models)
    results = pd.concat([evaluate.sweep(config, data=data)]
                        + [evaluate.sweep(c, data=data) for c in check_configs(config, family=family)],
                        ignore_index=True)
    grid = {"linf": LINF_EPS, "l2": L2_EPS}
    on_grid = results[[eps in grid[norm] for norm, eps in zip(results["norm"], results["eps"])]]
    worst = pd.concat([evaluate.worst_case(config, norm=norm, results=on_grid, data=data)
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


def claims(evidence: list[FamilyEvidence], *, linf_eps: float = HEADLINE_EPS, l2_eps: float = 2.0) -> pd.DataFrame:
    """The paper's claim, pair by pair: is each generative model more robust than its counterparts?

    Per pair and norm, both models' worst case (with 95% intervals) at one eps;
    the claim *holds* where the generative model's interval lies above its
    counterpart's, is *reversed* where it lies below, and is *not shown* where
    they overlap.
    """
    worst = pd.concat([e.worst_case for e in evidence], ignore_index=True).set_index(["model", "norm", "eps"])
    rows = []
    for generative in dict.fromkeys(m for e in evidence for m in e.config.models):
        spec = get_spec(generative)
        if spec.kind != "generative":
            continue
        for counterpart in spec.counterparts:
            for norm, eps in (("linf", linf_eps), ("l2", l2_eps)):
                if (generative, norm, eps) not in worst.index or (counterpart, norm, eps) not in worst.index:
                    continue
                g, c = worst.loc[(generative, norm, eps)], worst.loc[(counterpart, norm, eps)]
                if g["ci_low"] > c["ci_high"]:
                    verdict = "holds"
                elif c["ci_low"] > g["ci_high"]:
                    verdict = "reversed"
                else:
                    verdict = "not shown"
                rows.append({"generative": generative, "counterpart": counterpart, "norm": norm, "eps": eps,
                             "generative_worst": g["worst_case_accuracy"], "n": int(g["n"]),
                             "counterpart_worst": c["worst_case_accuracy"], "counterpart_n": int(c["n"]),
                             "verdict": verdict})
    return pd.DataFrame(rows)


def claims_summary(claims_table: pd.DataFrame) -> str:
    """The verdicts of :func:`claims` as Markdown, one line per verdict."""
    lines = []
    for verdict, group in claims_table.groupby("verdict", sort=False):
        pairs = ", ".join(f"{g} over {c} ({'l_inf' if norm == 'linf' else 'l_2'} {eps:g})"
                          for g, c, norm, eps in group[["generative", "counterpart", "norm", "eps"]].values)
        lines.append(f"- **{verdict}** ({len(group)}): {pairs}")
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
