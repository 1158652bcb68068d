"""Are they really robust? The adaptive evaluation of every model, family by family.

For each family the paper's ten attacks (read from its chapter's sweep) and
margin PGD run on every image, at l_inf eps 0.1, 0.2, 0.3 and l_2 eps 1, 2, 3;
then the rest of the adaptive attacks run as a cascade (:data:`CASCADE`),
cheapest first, each on the images nothing before it broke (an image broken
within a smaller eps is broken at every larger one of the norm): transfer from
a CNN, the flips across the threshold on a model that thresholds its input, and
AutoAttack's standard ensemble part by part. Every model faces every attack; a
profile scales n and the attacks' budgets, never which attacks run. Three runs
exist only to check the others: the margin PGD with twice the budget at l_inf
0.3 and l_2 2 (did it converge?), the margin PGD at l_inf eps 1 (an unbounded attack must
fool everything) and, for models that sample, randomised AutoAttack
(expectation over the noise) at l_inf 0.3. The number that counts is the worst
case, image by image, over every attack, with each broken image credited to
the attack that broke it; it has converged in margin PGD's budget where the
doubled run broke no significant number of images that every other attack left
(:func:`worst_case_converged`).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Callable

import numpy as np
import pandas as pd

from genrob import checks, evaluate
from genrob.checks import Outcome
from genrob.attacks import ATTACKS, MARGIN_PGD_LADDERS, PAPER_ATTACKS, PURIFIER_ATTACKS, THRESHOLD_ATTACKS, norm_of
from genrob.attacks.base import SamplingModelAttack
from genrob.data import MNIST, load_mnist, stratified_indices
from genrob.environment import StoreOnlyError
from genrob.evaluate import per_image_outcome
from genrob.models import get_spec, model_names
from genrob.models.registry import families
from genrob.paper import mnist_challenge, paper_claims, paper_robustness
from genrob.params import (ParameterError, SweepConfig, purifying_models, sampling_models, sweep_config,
                           thresholding_models)
from genrob.profiles import get_profile
from genrob.names import attack_name, budget, model_name, readable
from genrob.paired import ALPHA, fewest, holm, mcnemar_p
from genrob.results import EVERY_IMAGE, fraction_text, wilson_interval

LINF_EPS = (0.1, 0.2, 0.3)
L2_EPS = (1.0, 2.0, 3.0)
#: The budget the verdicts are given at (the paper's Table 1).
HEADLINE_EPS = 0.3
#: The l_2 budget the paired claims are judged at, and where margin PGD's l_2 convergence is checked.
HEADLINE_L2_EPS = 2.0
UNBOUNDED_EPS = 1.0


@dataclass
class FamilyEvidence:
    """Everything the adaptive evaluation found for one family's models."""

    config: SweepConfig  # paper and adaptive attacks together, on the common grid
    results: pd.DataFrame  # every row: paper's attacks, adaptive ones, and the check runs
    worst_case: pd.DataFrame  # per model, norm and eps, judged by the model as evaluated (:func:`worst_case`)
    checks: pd.DataFrame  # per model and check (see :func:`genrob.checks.sanity_checks`)
    #: Per (model, norm, eps): which test images (indexed by their place in the test set) survive every
    #: attack of :attr:`worst_case`; claims compare two models on the images both saw.
    survivors: dict[tuple[str, str, float], pd.Series] = dataclasses.field(default_factory=dict)
    #: The attacks judged by a model that samples afresh (:class:`genrob.attacks.base.SamplingModelAttack`),
    #: their own worst case against the sampling model's own clean accuracy; empty where none ran.
    sampling_worst_case: pd.DataFrame = dataclasses.field(default_factory=pd.DataFrame)
    #: Where each row's per-image arrays are read from (the sweep's cache, or the evidence store).
    outcome: Outcome | None = dataclasses.field(default=None, repr=False, compare=False)


#: The attacks run on every image: the checks compare the others with margin PGD (:mod:`genrob.checks`).
COMPLETE_ADAPTIVE: tuple[str, ...] = ("pgd_margin_linf", "pgd_margin_l2")
#: The cascade's order, cheapest first per image (measured in evaluations of the model): transfer costs
#: one evaluation (its gradients are the surrogate CNN's), the flips across the threshold some hundreds of
#: forward passes, AutoAttack's parts in its own order (APGD-CE 100 gradients, APGD-T and FAB-T 100 for each
#: of 9 target classes, Square 5 000 forward passes). Transfer and Square run after margin PGD, so what
#: they break is what the target's gradient missed (the gradient-masking checks).
#: BPDA through a denoiser runs last, on the models that denoise their input: what it breaks is what every
#: other attack left (added after the rest had run; earlier in the order it would have changed every run after it).
CASCADE: tuple[str, ...] = (
    "transfer_pgd_linf", "transfer_pgd_l2", *THRESHOLD_ATTACKS,
    "apgd_ce_linf", "apgd_t_linf", "fab_t_linf", "square_linf",
    "apgd_ce_l2", "apgd_t_l2", "fab_t_l2", "square_l2", *PURIFIER_ATTACKS,
)


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
    n = n if n is not None else chosen.n_eval_for(family)
    return sweep_config(profile=profile, family=family, models=models,
                        attacks=PAPER_ATTACKS + COMPLETE_ADAPTIVE + CASCADE,
                        linf_eps=LINF_EPS, l2_eps=L2_EPS, n=n, seed=seed)


def check_configs(config: SweepConfig) -> list[SweepConfig]:
    """The runs that test the others: doubled budget, unbounded eps, expectation over the noise
    (randomised AutoAttack, on the models that sample)."""
    sampling = sampling_models(config)
    runs = [dataclasses.replace(config, attacks=("pgd_margin_linf_long",), linf_eps=(HEADLINE_EPS,)),
            dataclasses.replace(config, attacks=("pgd_margin_l2_long",), l2_eps=(HEADLINE_L2_EPS,)),
            dataclasses.replace(config, attacks=("pgd_margin_linf",), linf_eps=(UNBOUNDED_EPS,))]
    if sampling:
        runs.append(dataclasses.replace(config, models=sampling, attacks=("autoattack_rand_linf",),
                                        linf_eps=(HEADLINE_EPS,)))
    return runs


def ladder_config(config: SweepConfig, norm: str, rung: int, models: tuple[str, ...] | None = None) -> SweepConfig:
    """Margin PGD at rung ``rung`` of its ladder (:data:`genrob.attacks.MARGIN_PGD_LADDERS`) at ``norm``'s
    convergence eps, on ``models`` (default: all of ``config``'s)."""
    grid = {"linf_eps": (HEADLINE_EPS,)} if norm == "linf" else {"l2_eps": (HEADLINE_L2_EPS,)}
    return dataclasses.replace(config, models=models if models is not None else config.models,
                               attacks=(MARGIN_PGD_LADDERS[norm][rung],), **grid)


def climb_ladder(config: SweepConfig, results: pd.DataFrame, *, outcome: Outcome,
                 data: MNIST | None = None) -> list[pd.DataFrame]:
    """Margin PGD's budget raised until twice it breaks no significantly more images: per norm, while the
    convergence check of the highest pair of rungs run fails for a model (:func:`genrob.checks.sanity_checks`),
    run the next rung on it, up to the ladder's top. Returns the rows of the rungs run.

    A book rendered from the evidence store (:func:`genrob.environment.store_only`) climbs only as far as the
    store's rungs go for each model (a run stopped mid-rung keeps its parts, not a row): its check then
    compares the highest pair the store holds, and says that it failed."""
    climbed = []
    for norm, ladder in MARGIN_PGD_LADDERS.items():
        check = checks.converged_check(ladder[0])
        stopped: set[str] = set()
        for rung in range(2, len(ladder)):
            seen = pd.concat([results, *climbed], ignore_index=True)
            found = checks.sanity_checks(seen[seen["attack"].isin(ladder[:rung])], outcome=outcome)
            failing = [m for m in found.loc[(found["check"] == check) & ~found["passed"].astype(bool), "model"]
                       if m not in stopped]
            if not failing:
                break
            for model in failing:  # one by one: the store may hold a rung for one model and not another
                try:
                    climbed.append(evaluate.sweep(ladder_config(config, norm, rung, (model,)), data=data))
                except StoreOnlyError:
                    stopped.add(model)
    return climbed


def cascade_configs(config: SweepConfig) -> list[SweepConfig]:
    """The cascade of ``config``'s models, grouped by the attacks they face: the flips across the threshold
    only on the models that threshold their input (:func:`genrob.params.thresholding_models`), BPDA only on
    those that denoise it (:func:`genrob.params.purifying_models`)."""
    thresholding, purifying = set(thresholding_models(config)), set(purifying_models(config))
    groups: dict[tuple[str, ...], list[str]] = {}
    for model in config.models:
        attacks = tuple(a for a in CASCADE if (a not in THRESHOLD_ATTACKS or model in thresholding)
                        and (a not in PURIFIER_ATTACKS or model in purifying))
        groups.setdefault(attacks, []).append(model)
    return [dataclasses.replace(config, models=tuple(models), attacks=attacks) for attacks, models in groups.items()]


def evaluate_family(family: str, *, profile: str, n: int | None = None, seed: int = 0,
                    models: list[str] | None = None, data: MNIST | None = None) -> FamilyEvidence:
    """Run (or read) every attack on a family's models and judge the numbers."""
    config = family_config(family, profile=profile, n=n, seed=seed, models=models)
    complete = evaluate.sweep(dataclasses.replace(config, attacks=PAPER_ATTACKS + COMPLETE_ADAPTIVE), data=data)

    images_of: dict[tuple[str, str, float], str] = {}  # a cascade row's images; absent: every image

    def outcome(model: str, attack: str, eps: float) -> dict[str, np.ndarray]:
        return per_image_outcome(config, model, attack, eps, data=data,
                                 images=images_of.get((model, attack, round(float(eps), 10)), EVERY_IMAGE))

    def before(model: str, norm: str, eps: float) -> tuple[np.ndarray, np.ndarray]:
        attacks = complete.loc[(complete["model"] == model) & (complete["norm"] == norm)
                               & (complete["eps"] == eps), "attack"]
        arrays = [outcome(model, a, eps) for a in attacks]
        return arrays[0]["clean_correct"], np.logical_or.reduce([a["fooled"] for a in arrays])

    cascaded = [evaluate.cascade(c, before=before, data=data) for c in cascade_configs(config)]
    checking = [evaluate.sweep(c, data=data) for c in check_configs(config)]
    for rows in cascaded:
        images_of.update({(r.model, r.attack, round(float(r.eps), 10)): r.images for r in rows.itertuples()})
    climbed = climb_ladder(config, pd.concat([complete, *checking], ignore_index=True), outcome=outcome, data=data)
    results = pd.concat([complete, *cascaded, *checking, *climbed], ignore_index=True)
    images = stratified_indices((data if data is not None else load_mnist()).test.y, config.n, seed=config.seed)
    return judge_family(config, results, images=images.numpy(), outcome=outcome)


def every_image_runs(family: str, *, profile: str, n: int | None = None, seed: int = 0,
                     models: list[str] | None = None, data: MNIST | None = None) -> pd.DataFrame:
    """The cascade's attacks run the way the cascade avoids: each on every correctly classified image at
    every eps (sweeps; what the cascade saves is measured against them, :func:`genrob.cost.cascade_saving`)."""
    config = family_config(family, profile=profile, n=n, seed=seed, models=models)
    return pd.concat([evaluate.sweep(c, data=data) for c in cascade_configs(config)], ignore_index=True)


def evaluated_rows(config: SweepConfig, table: pd.DataFrame) -> pd.DataFrame:
    """The rows of a results ``table`` that :func:`evaluate_family` reads for ``config``, in the order it
    reads them: the paper's attacks and margin PGD on the grid, the cascade model by model, norm by norm
    and eps by eps, then the check runs. A cascade's attack read from a run on every image stands for it
    only where no cascade row exists (a store written before the cascade); of cascade rows, the last."""
    complete = dataclasses.replace(config, attacks=PAPER_ATTACKS + COMPLETE_ADAPTIVE)
    rungs = [ladder_config(config, norm, rung) for norm, ladder in MARGIN_PGD_LADDERS.items()
             for rung in range(2, len(ladder))]
    groups = [(complete, False), *((c, True) for c in cascade_configs(config)),
              *((c, False) for c in check_configs(config)), *((c, False) for c in rungs)]
    rank: dict[tuple, tuple] = {}
    for g, (part, cascaded) in enumerate(groups):
        for m, model in enumerate(part.models):
            for a, attack in enumerate(part.attacks):
                norm = norm_of(attack)
                for eps in part.eps_for(attack):
                    order = (g, m, norm != "linf", eps, a) if cascaded else (g, m, a, eps)
                    rank.setdefault((model, attack, round(float(eps), 10)), order)
    table = table[(table["n"] == config.n) & (table["seed"] == config.seed)]
    keys = [(m, a, round(float(e), 10)) for m, a, e in zip(table["model"], table["attack"], table["eps"])]
    chosen = table.assign(_rank=[rank.get(k) for k in keys], _cascade=table["images"] != EVERY_IMAGE)
    chosen = chosen[chosen["_rank"].notna()]
    cascade_attacks = chosen["attack"].isin(CASCADE)
    has_cascade_row = chosen[chosen["_cascade"]].groupby(["model", "attack", "eps"]).size()
    stands_in = [not c and (m, a, e) in has_cascade_row.index
                 for m, a, e, c in zip(chosen["model"], chosen["attack"], chosen["eps"], chosen["_cascade"])]
    chosen = chosen[~(cascade_attacks & pd.Series(stands_in, index=chosen.index))]
    chosen = chosen.drop_duplicates(["model", "attack", "eps"], keep="last")
    order = sorted(range(len(chosen)), key=lambda i: chosen["_rank"].iloc[i])
    return chosen.iloc[order].drop(columns=["_rank", "_cascade"]).reset_index(drop=True)


def judge_family(config: SweepConfig, results: pd.DataFrame, *, images: np.ndarray,
                 outcome: Outcome) -> FamilyEvidence:
    """The worst cases and checks of a family's ``results`` rows, from each row's per-image ``outcome``
    on the test ``images`` (their indices into the test set, in the subset's order). The sweep's cache
    and the evidence store (:mod:`genrob.evidence`) give the same judgement from the same outcomes."""
    grid = {"linf": LINF_EPS, "l2": L2_EPS}
    on_grid = results[[eps in grid[norm] for norm, eps in zip(results["norm"], results["eps"])]]
    sampled = judged_by_sampling(on_grid)
    survived: dict[tuple[str, str, float], np.ndarray] = {}
    worst = pd.concat([worst_case(config, norm=norm, results=on_grid[~sampled], outcome=outcome,
                                  survivors=survived) for norm in ("linf", "l2")], ignore_index=True)
    sampling = (pd.concat([worst_case(config, norm=norm, results=on_grid[sampled], outcome=outcome)
                           for norm in ("linf", "l2")], ignore_index=True) if sampled.any() else pd.DataFrame())
    stable = worst_case_converged(config, on_grid[~sampled], outcome=outcome, survivors=survived)
    return FamilyEvidence(config=config, results=results, worst_case=worst,
                          checks=pd.concat([checks.sanity_checks(results, outcome=outcome), stable],
                                           ignore_index=True),
                          survivors={key: pd.Series(alive, index=images) for key, alive in survived.items()},
                          sampling_worst_case=sampling, outcome=outcome)


#: The check that the worst case, not margin PGD alone, has converged in margin PGD's budget.
WORST_CASE_CONVERGED = "worst case converged (twice margin PGD's budget)"


def worst_case_converged(config: SweepConfig, results: pd.DataFrame, *, outcome: Outcome,
                         survivors: dict[tuple[str, str, float], np.ndarray]) -> pd.DataFrame:
    """Per model and norm with a doubled margin PGD run among ``results`` (the highest rung of its ladder,
    :data:`genrob.attacks.MARGIN_PGD_LADDERS`): whether the worst case moved because of it, i.e. whether that
    run broke significantly many images that every other attack left (one-sided McNemar against none the
    other way: 5 images or more at 5%, Holm over its eps).
    ``survivors`` holds the worst case with every run (:func:`worst_case`'s).

    Margin PGD alone may not have converged (its own check) while the worst case has: the numbers
    and rulings rest on the worst case, so this is the check they need."""
    rung = results["attack"].map({a: k for ladder in MARGIN_PGD_LADDERS.values() for k, a in enumerate(ladder)})
    top = rung.groupby([results["model"], results["norm"]]).transform("max")
    doubled = (rung > 0) & (rung == top)  # the highest rung run, per model and norm
    without: dict[tuple[str, str, float], np.ndarray] = {}
    for norm in sorted(set(results.loc[doubled, "norm"])):
        worst_case(config, norm=norm, results=results[~doubled], outcome=outcome, survivors=without)
    rows = []
    for (model, norm), part in results[doubled].groupby(["model", "norm"], sort=False):
        moved = []  # (p, images the doubled run alone broke, eps)
        attack = part["attack"].iloc[0]
        for eps in part["eps"]:
            alone = int((without[(model, norm, eps)] & ~survivors[(model, norm, eps)]).sum())
            moved.append((mcnemar_p(alone, 0, alternative="greater"), alone, eps))
        adjusted = holm([m[0] for m in moved])
        i = min(range(len(moved)), key=lambda k: (adjusted[k], -moved[k][1]))
        _, alone, eps = moved[i]
        rows.append({"model": model, "check": WORST_CASE_CONVERGED, "passed": bool(adjusted[i] >= ALPHA),
                     "norm": norm,
                     "detail": f"{attack_name(attack)} broke {alone} images that every other attack left "
                               f"({budget(norm, eps)}; one-sided McNemar p = {adjusted[i]:.2g})"})
    return pd.DataFrame(rows, columns=["model", "check", "passed", "norm", "detail"])


def judged_by_sampling(results: pd.DataFrame) -> pd.Series:
    """Which rows' attacks judge their adversarials by the model sampling afresh on every call. One judge
    per number: those rows never count against the fixed-noise classifier whose clean accuracy the
    worst case reports; they form a worst case of their own against the sampling model's."""
    return results["attack"].map(lambda a: issubclass(ATTACKS[a], SamplingModelAttack)).astype(bool)


def paper_worst_case(eps: float = HEADLINE_EPS) -> pd.DataFrame:
    """The paper's own worst case at l_inf ``eps``: the lowest robust accuracy any of its attacks reported."""
    paper = paper_robustness().dropna(subset=["robust_accuracy"])
    paper = paper[(paper["norm"] == "linf") & (paper["eps"].astype(float) == eps)]
    lowest = paper.loc[paper.groupby("paper_model")["robust_accuracy"].idxmin()]
    return lowest.set_index("paper_model")[["attack", "robust_accuracy"]].rename(
        columns={"attack": "paper_attack", "robust_accuracy": "paper"})


#: How far (absolute) our robust accuracy may lie from the paper's number and still count as the same:
#: differences of up to ten points come with retraining, a test subset and settings the paper does not
#: state (see the methods chapter). Two of our models are compared against :data:`genrob.claims.MARGIN`.
EQUIVALENCE_MARGIN = 0.1
UNDECIDED = "undecided at this n"


def ruling_regions(paper: float, *, margin: float = EQUIVALENCE_MARGIN) -> list[tuple[str, float, float]]:
    """Where the true robust accuracy r lies for each ruling on the paper's number ``paper``: *stands*
    within ``margin`` of it; *understated* more than ``margin`` above it; *weakened* more than
    ``margin`` below it, but at least half of it kept; *overturned* below both. Empty regions are left out."""
    stands_low, stands_high = round(max(0.0, paper - margin), 12), round(min(1.0, paper + margin), 12)
    half = round(min(paper / 2, stands_low), 12)
    regions = [("overturned", 0.0, half), ("weakened", half, stands_low), ("stands", stands_low, stands_high),
               ("understated", stands_high, 1.0)]
    return [region for region in regions if region[2] > region[1]]


def _region_of_interval(paper: float, low: float, high: float) -> str | None:
    return next((name for name, a, b in ruling_regions(paper) if a <= low and high <= b), None)


def n_to_decide(paper: float, rate: float, *, most: int = 1_000_000) -> int | None:
    """The fewest test images whose 95% interval, at the observed ``rate``, lies wholly in one ruling's
    region; None where no n up to ``most`` does (a rate on a region's boundary)."""
    return fewest(lambda n: _region_of_interval(paper, *wilson_interval(round(rate * n), n)) is not None, 1, most)


def rule_on_number(paper: float, robust: int, n: int) -> tuple[str, int | None]:
    """The ruling on the paper's number, from our worst case: ``robust`` of ``n`` test images survived.

    A ruling is made only where our 95% interval lies wholly in its region
    (:func:`ruling_regions`); otherwise it is *undecided at this n*, given with the n
    that would decide it at the observed rate (:func:`n_to_decide`).
    """
    if pd.isna(paper):
        return NOT_IN_THE_PAPER, None
    ruling = _region_of_interval(paper, *wilson_interval(robust, n))
    return (ruling, None) if ruling is not None else (UNDECIDED, n_to_decide(paper, robust / n))


#: Said of a model without a ruling on the paper's numbers: none of the paper's, or another of our models
#: answers them (:attr:`genrob.models.registry.ModelSpec.rules_on_paper`).
NOT_IN_THE_PAPER = "not in the paper"
NOT_RULED = "not ruled"


def not_ruled(model: str) -> str:
    """The ruling cell of a model shown beside the paper's number that another of our models answers."""
    spec = get_spec(model)
    answering = next(name for name in model_names() if name != model and get_spec(name).rules_on_paper
                     and get_spec(name).paper_name == spec.paper_name)
    return f"{NOT_RULED} (the paper's {spec.paper_name} is our {model_name(answering)})"


def is_ruling(verdict: str) -> bool:
    """Whether ``verdict`` rules on a number of the paper (not a model outside it, or one shown beside it)."""
    return verdict != NOT_IN_THE_PAPER and not verdict.startswith(NOT_RULED)


def bearing_checks(checks_table: pd.DataFrame, model: str, *, norm: str) -> pd.DataFrame:
    """The failed checks of ``model`` that bear on its worst case at ``norm``: those of the norm's attacks
    (convergence, masking, an attack weaker than it should be) and those of no one norm."""
    failed = checks_table[(checks_table["model"] == model) & ~checks_table["passed"].astype(bool)]
    norms = failed["norm"] if "norm" in failed else pd.Series(None, index=failed.index)
    return failed[norms.isna() | (norms == norm)]


def ruling_text(verdict: str, needed: float | None, failed: str = "") -> str:
    """A ruling as its cell reads: the n that would decide it where undecided, and every failed check that
    bears on its worst case (``failed``: their names, ``; ``-separated), so that no ruling is read without
    them."""
    text = with_n_to_decide(verdict, needed)
    if failed:
        names = [readable(check) for check in failed.split("; ")]
        text += f"; but its worst case fails {'a check' if len(names) == 1 else f'{len(names)} checks'}: " \
                + "; ".join(names)
    return text


def exact_bracket(exact: pd.DataFrame | None, model: str, *, n: int, attacked: int) -> tuple[int, int] | None:
    """The images of ``model`` robust at l_inf eps 0.3 as the exact table (:mod:`genrob.exactness`) brackets
    them on the same ``n`` images: certified robust at least, and at most those not shown breakable that
    also survived every attack (``attacked``); None where the table has no such row."""
    if exact is None or not len(exact):
        return None
    row = exact[(exact["model"] == model) & (exact["norm"] == "linf") & (exact["n"].astype(int) == n)
                & np.isclose(exact["eps"].astype(float), HEADLINE_EPS)]
    if not len(row):
        return None
    row = row.iloc[0]
    return int(row["robust"]), min(int(row["clean_correct"]) - int(row["breakable"]), attacked)


#: The ruling where the exact bracket's two ends rule differently: the solver, not more images, must close it.
OPEN_BRACKET = f"{UNDECIDED} (its exact bracket spans two rulings)"


def rule_on_bracket(paper: float, low: int, high: int, n: int) -> tuple[str, int | None]:
    """The ruling on the paper's number where the robust images are known to lie in [``low``, ``high``] of
    ``n``: the ruling both ends give (one where the bracket is closed, the exact value), else
    :data:`OPEN_BRACKET`."""
    at_low, at_high = rule_on_number(paper, low, n), rule_on_number(paper, high, n)
    if at_low[0] == at_high[0]:
        return at_low
    return OPEN_BRACKET, None


def verdicts(evidence: list[FamilyEvidence], *, exact: pd.DataFrame | None = None) -> pd.DataFrame:
    """Per model at l_inf eps 0.3: the paper's number, ours under its attacks, our worst case, the checks.

    ``verdict`` by :func:`rule_on_number`: *stands*, *understated*, *weakened*,
    *overturned*, or *undecided at this n* with ``n_to_decide``; :func:`not_ruled` for a model shown
    beside the paper's number that another of ours answers. ``failed_checks`` names the failed checks
    that bear on the worst case at l_inf (:func:`bearing_checks`), which the ruling carries (:func:`ruling_text`).

    Where ``exact`` (the exact table, :mod:`genrob.exactness`) holds the model at l_inf eps 0.3 on the same
    images, the ruling is on the exact robust accuracy (:func:`exact_bracket`, :func:`rule_on_bracket`) and
    ``exact_low``, ``exact_high`` give it; the attacks' checks then bear on no ruling, for it rests on no
    attack, and ``failed_checks`` stays empty (the checks stay in the adaptive chapter).
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
            failed = bearing_checks(family.checks, model, norm="linf")
            spec = get_spec(model)
            claimed = paper["paper"].get(spec.paper_name, float("nan"))
            n, attacked = int(worst["n"]), round(worst["worst_case_accuracy"] * worst["n"])
            bracket = exact_bracket(exact, model, n=n, attacked=attacked)
            if bracket is None:
                verdict, needed = rule_on_number(claimed, attacked, n)
            else:
                (verdict, needed), failed = rule_on_bracket(claimed, *bracket, n), failed.iloc[0:0]
            if not spec.rules_on_paper and pd.notna(claimed):
                verdict, needed = not_ruled(model), None
            rows.append({
                "model": model, "kind": get_spec(model).kind, "n": int(worst["n"]),
                "clean": worst["clean_accuracy"], "paper": claimed,
                "ours_paper_attacks": papers_attacks["robust_accuracy"].min(),
                "worst_case": worst["worst_case_accuracy"], "worst_ci_low": worst["ci_low"],
                "worst_ci_high": worst["ci_high"], "broke_most": worst["broke_most"],
                "failed_checks": "; ".join(failed["check"]) if len(failed) else "",
                "failed_details": "; ".join(failed["detail"]) if len(failed) else "",
                "exact_low": bracket[0] / n if bracket else np.nan, "exact_high": bracket[1] / n if bracket else np.nan,
                "verdict": verdict, "n_to_decide": needed,
            })
    return pd.DataFrame(rows)


def compare_intervals(first: tuple[float, float], second: tuple[float, float]) -> str:
    """"more robust", "less robust" or "no clear difference": ``first`` against ``second``, each a
    95% interval (low, high) of a robust accuracy; one is more robust only where the two do not overlap."""
    if first[0] > second[1]:
        return "more robust"
    if second[0] > first[1]:
        return "less robust"
    return "no clear difference"


@dataclass
class Breaks:
    """Who broke which image, for one model at one (norm, eps) (:func:`breaks`)."""

    eps: float
    clean: np.ndarray  # (n,) bool: classified correctly before any attack
    order: list[str]  # the attacks in the order their breaks are credited
    fooled: dict[str, np.ndarray]  # per attack, (n,) bool: the images it broke (a cascade run: that it reached)
    credit: np.ndarray  # (n,) str: the attack credited with breaking each image, "" where none did
    #: Per attack of the cascade, (n,) bool: the images it met (correct, and not broken before it).
    reached: dict[str, np.ndarray]

    @property
    def survives(self) -> np.ndarray:
        return self.clean & (self.credit == "")


def breaks(model: str, per_eps: dict[float, list[str]], outcome: Outcome,
           cascaded: Callable[[str, float], bool] = lambda attack, eps: False) -> list[Breaks]:
    """Eps by eps from the smallest, which attack of ``per_eps[eps]`` broke each image of ``model``.

    An image broken within a smaller eps is broken at every larger one (its adversarial lies in the larger
    ball) and keeps its credit. At one eps, an image goes to the first attack that broke it: the attacks run
    on every image first, the one that broke the most alone first, then the cascade's (``cascaded``) in the
    order they ran, each of which broke only what the attacks before it had left.
    """
    found, credit = [], None
    for eps in sorted(per_eps):
        names = per_eps[eps]
        if not names:
            continue
        outcomes = {a: outcome(model, a, eps) for a in names}
        clean = next(iter(outcomes.values()))["clean_correct"]
        fooled = {a: clean & o["fooled"] for a, o in outcomes.items()}
        in_cascade = {a for a in names if cascaded(a, eps)}
        complete = sorted((a for a in names if a not in in_cascade), key=lambda a: -int(fooled[a].sum()))
        order = complete + [a for a in names if a in in_cascade]
        credit = np.full(len(clean), "", dtype=object) if credit is None else credit.copy()
        reached = {}
        for attack in order:
            if attack in in_cascade:
                reached[attack] = clean & (credit == "")
            credit[fooled[attack] & (credit == "")] = attack
        found.append(Breaks(eps, clean, order, fooled, credit, reached))
    return found


def worst_case(config: SweepConfig, *, norm: str, results: pd.DataFrame | None = None,
               data: MNIST | None = None, outcome: Outcome | None = None,
               survivors: dict[tuple[str, str, float], np.ndarray] | None = None) -> pd.DataFrame:
    """Per model and eps: the share of images that survive every ``norm`` attack run at that eps or a
    smaller one, image by image, and the attack credited with breaking the most of them (:func:`breaks`).

    The attacks are those of ``config`` at each eps of its grid or, given ``results``
    (rows of sweeps and cascades with ``config``'s profile, n and seed), whatever
    those rows ran at each eps. Reads the sweeps' per-image files, or ``outcome``
    where given. ``survivors``, where given, receives each (model, norm, eps)'s
    per-image outcome: True where the image survived every attack.
    """
    if outcome is None:
        def outcome(model: str, attack: str, eps: float) -> dict[str, np.ndarray]:
            return per_image_outcome(config, model, attack, eps, data=data)
    rows = []
    for model in config.models:
        per_eps, cascaded = _attacks_per_eps(config, model, norm, results)
        for found in breaks(model, per_eps, outcome, cascaded):
            every = found.survives
            if survivors is not None:
                survivors[(model, norm, found.eps)] = every
            counts = pd.Series(found.credit[found.credit != ""], dtype=object).value_counts(sort=False)
            most = str(counts.idxmax()) if len(counts) else ""
            low, high = wilson_interval(int(every.sum()), len(every))
            rows.append({"model": model, "norm": norm, "eps": found.eps, "n": len(every),
                         "attacks": len(found.order), "clean_accuracy": found.clean.mean(),
                         "worst_case_accuracy": every.mean(), "ci_low": low, "ci_high": high,
                         "broke_most": most, "broke_most_images": int(counts.max()) if len(counts) else 0})
    return pd.DataFrame(rows)


def _attacks_per_eps(config: SweepConfig, model: str, norm: str, results: pd.DataFrame | None
                     ) -> tuple[dict[float, list[str]], Callable[[str, float], bool]]:
    """The ``norm`` attacks run on ``model`` at each eps (from ``results`` where given, in their order, else
    ``config``'s), and which of them ran in the cascade."""
    if results is None:
        grid = config.linf_eps if norm == "linf" else config.l2_eps
        return ({eps: [a for a in config.attacks if norm_of(a) == norm and eps in config.eps_for(a)]
                 for eps in grid}, lambda attack, eps: False)
    part = results[(results["model"] == model) & (results["norm"] == norm)]
    per_eps = {eps: list(dict.fromkeys(part.loc[part["eps"] == eps, "attack"])) for eps in sorted(part["eps"].unique())}
    ran_on = part["images"] if "images" in part else [EVERY_IMAGE] * len(part)  # rows from before the cascade
    in_cascade = {(a, round(float(e), 10)) for a, e, images in zip(part["attack"], part["eps"], ran_on)
                  if images != EVERY_IMAGE}
    return per_eps, lambda attack, eps: (attack, round(float(eps), 10)) in in_cascade


#: What became of each attacked image (:func:`attack_breaks`).
WRONG_BEFORE, BROKEN, BROKEN_EARLIER, SURVIVES = (
    "wrong before any attack", "broken", "broken by an attack before it", "survives")


def attack_breaks(family: FamilyEvidence, *, norm: str = "linf", eps: float = HEADLINE_EPS) -> pd.DataFrame:
    """Which attack broke which image: per model of ``family``, attack of its worst case at (``norm``,
    ``eps``) and test image, whether the model got the image wrong before any attack, the attack fooled it,
    a cascade's attack never met it (an attack before it, or at a smaller eps, had broken it), or it
    survived. Read from the per-image outcomes behind the worst case (cache or store)."""
    on_grid = family.results[~judged_by_sampling(family.results)]
    images = next(iter(family.survivors.values())).index if family.survivors else None
    rows = []
    for model in family.config.models:
        per_eps, cascaded = _attacks_per_eps(family.config, model, norm, on_grid[on_grid["eps"] <= eps])
        found = [b for b in breaks(model, per_eps, family.outcome, cascaded) if b.eps == eps]
        if not found:
            continue
        b = found[0]
        for attack in per_eps[eps]:
            earlier = b.clean & ~b.reached[attack] if attack in b.reached else np.zeros(len(b.clean), bool)
            state = np.where(~b.clean, WRONG_BEFORE, np.where(b.fooled[attack], BROKEN,
                                                              np.where(earlier, BROKEN_EARLIER, SURVIVES)))
            rows.append(pd.DataFrame({"model": model, "attack": attack, "norm": norm, "eps": eps,
                                      "image": images if images is not None else np.arange(len(state)),
                                      "state": state}))
    return pd.concat(rows, ignore_index=True) if rows else pd.DataFrame(
        columns=["model", "attack", "norm", "eps", "image", "state"])


def _compare(first: pd.Series, second: pd.Series) -> str:
    """:func:`compare_intervals` for two rows with ``ci_low`` and ``ci_high``."""
    return compare_intervals((first["ci_low"], first["ci_high"]), (second["ci_low"], second["ci_high"]))


def reference_comparison(evidence: list[FamilyEvidence], *, model: str = "cnn_adversarial") -> pd.DataFrame:
    """Our adversarially trained CNN at l_inf eps 0.3 beside Madry et al.'s on the MNIST challenge:
    our worst case and our PGD, then the challenge's strongest attack and its plain 100-step PGD,
    each as a share of its n with the 95% interval."""
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
        rows += [(model_name(model), "ours: worst case over every attack", int(worst["n"]),
                  worst["worst_case_accuracy"]),
                 (model_name(model), "ours: PGD-40 (the paper's attack)", int(worst["n"]),
                  pgd.iloc[0] if len(pgd) else float("nan"))]
    rows += [("MNIST challenge CNN", f"challenge: strongest attack ({challenge['attack'].iloc[0]})", 10000,
              challenge["robust_accuracy"].iloc[0]),
             ("MNIST challenge CNN", f"challenge: {plain_pgd['attack']}", 10000, plain_pgd["robust_accuracy"])]
    return pd.DataFrame([{"model": name, "evaluation": evaluation, "n": n,
                          "robust accuracy [95%]": fraction_text(accuracy, n) if pd.notna(accuracy) else ""}
                         for name, evaluation, n, accuracy in rows])


#: The check that finds PGD's l_2 gradient misleading where C&W's margin is not (:mod:`genrob.checks`).
PGD_L2_AGAINST_CW = checks.at_least_as_strong_check("pgd_l2", "cw_l2")


def reference_findings(evidence: list[FamilyEvidence], *, model: str = "cnn_adversarial") -> str:
    """What the reference's own checks say, as the chapter's sentences: the sanity checks it fails, and at
    l_2 eps 2 (a norm it was not trained against) the paper's PGD beside the worst case and the attack that
    broke the most images. Empty where no family evaluated ``model``."""
    family = next((f for f in evidence if model in f.config.models), None)
    if family is None:
        return ""
    name = model_name(model)
    checks_ = family.checks[family.checks["model"] == model]
    failed = checks_[~checks_["passed"]]["check"].tolist()
    if failed:
        lines = [f"The {name} fails {len(failed)} of its {len(checks_)} sanity checks: "
                 + "; ".join(f"*{readable(check)}*" for check in failed) + "."]
    else:
        lines = [f"The {name} passes all {len(checks_)} of its sanity checks."]
    worst = family.worst_case[(family.worst_case["model"] == model) & (family.worst_case["norm"] == "l2")
                              & (family.worst_case["eps"] == HEADLINE_L2_EPS)]
    pgd = family.results[(family.results["model"] == model) & (family.results["attack"] == "pgd_l2")
                         & (family.results["eps"] == HEADLINE_L2_EPS)]
    if len(worst) and len(pgd):
        row = worst.iloc[0]
        n = int(row["n"])
        credit = (f", {attack_name(row['broke_most'])} credited with the most images "
                  f"({int(row['broke_most_images'])})" if row["broke_most"] else "")
        lines.append(f"At {budget('l2', HEADLINE_L2_EPS)}, a norm it was not trained against, it keeps "
                     f"{fraction_text(pgd['robust_accuracy'].iloc[0], n)} under the paper's PGD and "
                     f"{fraction_text(row['worst_case_accuracy'], n)} under every attack{credit}.")
    if PGD_L2_AGAINST_CW in failed:
        lines.append("At this norm its cross-entropy's gradient misleads PGD, as the failed comparison with "
                     "Carlini-Wagner shows; the worst case takes every attack, so it does not rest on PGD there.")
    return " ".join(lines)


#: Said of a ruling left undecided whose observed rate lies exactly on a region's boundary: at that rate
#: more images only narrow the interval around the boundary.
ON_A_BOUNDARY = "its rate lies on a region's boundary"


def with_n_to_decide(finding: str, needed: float | None, *, images: str = "images") -> str:
    """A ruling as a table cell: *undecided at this n* says how many ``images`` would decide it at the
    observed rate (:func:`about`), or that the rate lies on a boundary."""
    if finding != UNDECIDED:
        return finding
    if needed is not None and pd.notna(needed):
        return f"{UNDECIDED} (about {about(needed)} {images} would decide)"
    return f"{UNDECIDED} ({ON_A_BOUNDARY})"


def about(count: float) -> str:
    """A projected number of images to two significant figures, as "2 300" or "41 000": a projection
    at observed rates claims no more."""
    count = int(count)
    if count < 100:
        return str(count)
    digits = len(str(count)) - 2
    rounded = int(round(count, -digits))
    return f"{rounded:,}".replace(",", " ")


def exact_text(low: float | None, high: float | None) -> str:
    """An exact robust accuracy as a cell reads it: ``0.41``, ``[0.40, 0.42]`` where the solver left a
    bracket, ``-`` where no solver gives one."""
    if low is None or high is None or pd.isna(low) or pd.isna(high):
        return "-"
    return f"{low:.2f}" if low == high else f"[{low:.2f}, {high:.2f}]"


def verdict_table(verdicts_table: pd.DataFrame) -> pd.DataFrame:
    """:func:`verdicts` as a reader reads it: per model (by name), n, the paper's number, ours under the
    paper's attacks and our worst case with their 95% intervals, the attack credited with breaking the most
    images, the ruling
    (with the n that would decide it where this n cannot)."""
    table = pd.DataFrame({
        "n": verdicts_table["n"].to_numpy(),
        "paper": verdicts_table["paper"].round(2).to_numpy(),
        "ours, the paper's attacks": [fraction_text(a, n) for a, n in zip(verdicts_table["ours_paper_attacks"],
                                                                    verdicts_table["n"])],
        "ours, worst case": [fraction_text(a, n) for a, n in zip(verdicts_table["worst_case"], verdicts_table["n"])],
        "broke most": [attack_name(a) if a else "" for a in verdicts_table["broke_most"]],
        "exact": [exact_text(low, high) for low, high in zip(verdicts_table.get("exact_low", [None] * len(verdicts_table)),
                                                             verdicts_table.get("exact_high", [None] * len(verdicts_table)))],
        "ruling": [ruling_text(v, n, f) for v, n, f in zip(verdicts_table["verdict"], verdicts_table["n_to_decide"],
                                                           verdicts_table["failed_checks"])],
    }, index=pd.Index([model_name(m) for m in verdicts_table["model"]], name="model"))
    return table


def worst_case_table(evidence: list[FamilyEvidence], *, norm: str) -> pd.DataFrame:
    """Worst-case robust accuracy, model x eps, n and clean accuracy first, each share with its 95% interval
    (``0.43 [0.37, 0.50]``), models by the names a reader knows."""
    worst = pd.concat([e.worst_case for e in evidence], ignore_index=True)
    worst = worst[worst["norm"] == norm]
    def shares(column: str) -> list[str]:
        return [fraction_text(a, n) for a, n in zip(worst[column], worst["n"])]

    worst = worst.assign(shown=shares("worst_case_accuracy"), clean=shares("clean_accuracy"))
    order = list(dict.fromkeys(worst["model"]))
    table = worst.pivot(index="model", columns="eps", values="shown").reindex(order)
    table.columns = [f"eps {eps:g}" for eps in table.columns]
    first = worst.groupby("model", sort=False)[["n", "clean"]].first()
    table = first.join(table)
    table.index = [model_name(m) for m in table.index]
    table.index.name = "model"
    return table


def worst_case_credits(evidence: list[FamilyEvidence]) -> pd.DataFrame:
    """Per model (by name) and budget: n, the worst case with its 95% interval, and the attack credited
    with breaking the most images (:func:`breaks`) with how many."""
    worst = pd.concat([e.worst_case for e in evidence], ignore_index=True)
    return pd.DataFrame({
        "budget": [budget(norm, eps) for norm, eps in zip(worst["norm"], worst["eps"])],
        "n": worst["n"].to_numpy(),
        "worst case": [fraction_text(a, n) for a, n in zip(worst["worst_case_accuracy"], worst["n"])],
        "broke most": [f"{attack_name(a)}: {k}" if a else "" for a, k in
                       zip(worst["broke_most"], worst["broke_most_images"])],
    }, index=pd.Index([model_name(m) for m in worst["model"]], name="model"))


def sampling_worst_case_table(evidence: list[FamilyEvidence]) -> pd.DataFrame:
    """The worst case of the attacks judged by the sampling model, per model (by name) and budget, with
    its own clean accuracy, both with 95% intervals, and the attack that did most (empty where no family
    has a model that samples)."""
    parts = [e.sampling_worst_case for e in evidence if len(e.sampling_worst_case)]
    columns = ["budget", "n", "clean", "worst case", "broke most"]
    if not parts:
        return pd.DataFrame(columns=columns)
    table = pd.concat(parts, ignore_index=True)
    return pd.DataFrame({
        "budget": [budget(norm, eps) for norm, eps in zip(table["norm"], table["eps"])],
        "n": table["n"].to_numpy(),
        "clean": [fraction_text(a, n) for a, n in zip(table["clean_accuracy"], table["n"])],
        "worst case": [fraction_text(a, n) for a, n in zip(table["worst_case_accuracy"], table["n"])],
        "broke most": [attack_name(a) if a else "" for a in table["broke_most"]],
    }, index=pd.Index([model_name(m) for m in table["model"]], name="model"))[columns]


def failed_checks(evidence: list[FamilyEvidence]) -> pd.DataFrame:
    """The checks that failed, model by model (by name), with their evidence (empty when all passed)."""
    every = pd.concat([e.checks for e in evidence], ignore_index=True)
    failed = every[~every["passed"].astype(bool)].drop(columns=["passed", "norm"], errors="ignore").reset_index(drop=True)
    return failed.assign(model=failed["model"].map(model_name), check=failed["check"].map(readable))


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
