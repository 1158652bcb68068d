"""What every family chapter does at its start and in its tables, in one place."""

from __future__ import annotations

import dataclasses

import matplotlib.pyplot as plt
import pandas as pd
from torch import nn

from genrob import plots
from genrob.attacks import ATTACKS
from genrob.data import MNIST, Split, evaluation_subset
from genrob.evaluate import adversarial_examples
from genrob.models import get_spec, training_report
from genrob.models.base import samples_noise
from genrob.paper import paper_clean_accuracy, paper_runtimes
from genrob.params import SweepConfig, sweep_config
from genrob.profiles import Profile, get_profile
from genrob.runtime import code_version, seed_everything, use_precision

#: Decimal places of the floats a chapter prints, so nbval reruns compare equal.
DECIMALS = 3

#: The attacks whose adversarial examples a chapter shows.
EXAMPLE_ATTACKS = ("fgsm_linf", "pgd_linf", "cw_l2", "linear_search_contrast_reduction_linf", "gaussian_blur_linf")


def setup(*, family: str, profile: str, seed: int = 0, **params) -> SweepConfig:
    """Check the notebook's parameters (before any work), then :func:`start`."""
    config = sweep_config(profile=profile, family=family, seed=seed, **params)
    start(config.profile, seed=seed)
    return config


def start(profile: Profile | str, *, seed: int = 0) -> Profile:
    """Seed everything and compute from here on in the profile's precision (load MNIST after it)."""
    profile = get_profile(profile)
    use_precision(profile.torch_dtype)
    seed_everything(seed)
    return profile


def provenance(config: SweepConfig) -> str:
    """One Markdown line: the profile, n, grids and code version behind a page's numbers."""
    return (f"**Numbers on this page:** profile `{config.profile.name}` ({config.profile.description}); "
            f"n = {config.n} test images per attack (seed {config.seed}); l_inf eps {list(config.linf_eps)}, "
            f"l_2 eps {list(config.l2_eps)}; code version `{code_version()}`.")


def attack_seconds(results: pd.DataFrame) -> pd.Series:
    """Wall time of each (model, attack) cell over its whole eps grid."""
    # A minimisation attack's rows all carry the time of its one run (one per n it ran at).
    once = results["attack"].map(lambda a: ATTACKS[a].minimisation).astype(bool)
    per_eps = results[~once].groupby(["model", "attack"], sort=False)["wall_time_s"].sum()
    searches = (results[once].groupby(["model", "attack", "n"], sort=False)["wall_time_s"].first()
                .groupby(level=["model", "attack"], sort=False).sum())
    return pd.concat([per_eps, searches])


def results_provenance(results: pd.DataFrame) -> str:
    """One Markdown line: which code versions computed the rows shown, and their summed wall time."""
    versions = ", ".join(f"`{v}`" for v in sorted(results["code_version"].astype(str).unique()))
    return (f"**Results table:** {len(results)} rows for this page, computed by code version {versions} "
            f"in {attack_seconds(results).sum():.0f} s of attack time.")


def sweep_cost(results: pd.DataFrame) -> pd.DataFrame:
    """Per model: attack time over every attack and eps, its n, and the seconds that cost per image."""
    seconds = attack_seconds(results).groupby(level="model", sort=False).sum()
    n = results.groupby("model", sort=False)["n"].first()
    return pd.DataFrame({"attack_seconds": seconds, "n": n, "seconds_per_image": seconds / n}).reindex(n.index)


def robustness_table(results: pd.DataFrame, *, norm: str) -> pd.DataFrame:
    """Robust accuracy of the ``norm`` attacks as a (model, attack) x eps table, clean accuracy first."""
    part = results[results["norm"] == norm]
    rows = {}
    for model in dict.fromkeys(part["model"]):
        for attack in (a for a in ATTACKS if a in set(part["attack"])):
            cell = part[(part["model"] == model) & (part["attack"] == attack)].sort_values("eps")
            if len(cell):
                rows[(model, attack)] = {"clean": cell["clean_accuracy"].iloc[0],
                                         **dict(zip(cell["eps"], cell["robust_accuracy"]))}
    if not rows:
        return pd.DataFrame()
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.names = ["model", "attack"]
    table.columns.name = f"{norm} eps"
    return table.round(DECIMALS)


def evaluation_images(data: MNIST, config: SweepConfig) -> Split:
    """The test images every attack of the chapter runs on."""
    return evaluation_subset(data.test, config.n, seed=config.seed)


def adversarial_examples_figure(models: dict[str, nn.Module], data: MNIST, config: SweepConfig, *,
                                images: int = 6, attacks: tuple[str, ...] = EXAMPLE_ATTACKS) -> plt.Figure:
    """A few test digits (drawn with another seed than the evaluated ones) and what each attack makes of them."""
    shown = evaluation_subset(data.test, images, seed=config.seed + 1)
    examples, adversarials = adversarial_examples(models, list(attacks), shown, profile=config.profile,
                                                  seed=config.seed)
    return plots.adversarial_examples(examples, adversarials, shown.x)


#: Images for the EOT check: it costs ``draws`` times a PGD run.
EOT_N = 100

#: Largest l_inf eps of the EOT check: the paper's headline budget. Above it PGD on the fixed noise
#: already leaves little to find, and each eps costs ``draws`` PGD runs.
EOT_MAX_EPS = 0.3


def eot_config(config: SweepConfig, *, attack: str = "eot_pgd_linf", fixed_attack: str = "pgd_linf",
               n: int = EOT_N, max_eps: float = EOT_MAX_EPS) -> SweepConfig:
    """``config`` narrowed to its models that sample at test time: ``fixed_attack`` on their fixed
    noise and ``attack`` (expectation over transformation) on the sampling model, both on the same
    ``n`` images (a stratified part of the chapter's subset; fewer, if it has fewer), at the
    chapter's l_inf eps up to ``max_eps`` (its smallest eps, if all are larger)."""
    linf_eps = tuple(eps for eps in config.linf_eps if eps <= max_eps) or (min(config.linf_eps),)
    return dataclasses.replace(config, models=sampling_models(config), attacks=(fixed_attack, attack),
                               n=min(n, config.n), linf_eps=linf_eps)


def sampling_models(config: SweepConfig) -> tuple[str, ...]:
    """The models of ``config`` that draw noise at test time (see :func:`genrob.models.base.samples_noise`)."""
    return tuple(m for m in config.models if samples_noise(get_spec(m).build_for(config.profile)))


def eot_table(eot_results: pd.DataFrame) -> pd.DataFrame:
    """The results of an :func:`eot_config` sweep, per model: the fixed-noise attack beside EOT, with n."""
    table = robustness_table(eot_results, norm="linf")
    table.insert(0, "n", eot_results.groupby(["model", "attack"])["n"].first().reindex(table.index))
    return table


#: The attacks of the paper's Table 3 (run times).
TIMED_ATTACKS = ("fgm_l2", "fgsm_linf", "pgd_l2", "pgd_linf")


def runtime_table(results: pd.DataFrame, costs: pd.DataFrame, *, generative: str, discriminative: str) -> pd.DataFrame:
    """The paper's Table 3 for two models: each gradient attack's wall time over the whole eps grid.

    Ours is beside the paper's (n and hardware not stated there); ``ratio`` is the
    generative model's time over the discriminative one's, ``flop_ratio`` their
    ratio of forward FLOPs from ``costs`` (:func:`genrob.cost.forward_cost`).
    """
    paper = paper_runtimes().set_index(["paper_model", "attack"])["robust_accuracy"]  # the column holds seconds
    names = {m: get_spec(m).paper_name for m in (generative, discriminative)}
    rows = []
    for attack in (a for a in TIMED_ATTACKS if a in set(results["attack"])):
        seconds = {m: results[(results["model"] == m) & (results["attack"] == attack)]["wall_time_s"].sum()
                   for m in names}
        paper_seconds = {m: paper.get((p, f"runtime_{attack}_seconds")) for m, p in names.items()}
        rows.append({"attack": attack, f"{generative}_s": seconds[generative],
                     f"{discriminative}_s": seconds[discriminative],
                     "ratio": seconds[generative] / seconds[discriminative],
                     "paper_ratio": paper_seconds[generative] / paper_seconds[discriminative]
                     if None not in paper_seconds.values() else float("nan")})
    table = pd.DataFrame(rows).set_index("attack")
    table["flop_ratio"] = costs.loc[generative, "mflops_per_image"] / costs.loc[discriminative, "mflops_per_image"]
    return table.round(1)


def training_summary(models: tuple[str, ...], profile) -> pd.DataFrame:
    """Per model, what its training reported beyond the weights: the epoch kept, its validation
    score, and any fitted scalars (a noise level, couplings). Training times vary run to run and
    are in :func:`genrob.models.training_report`."""
    rows = []
    for name in models:
        report = training_report(name, profile)["report"]
        rows.append({"model": name, "best_epoch": report["best_epoch"],
                     **{key: value for key, value in report.items()
                        if key.startswith("val_") and not key.endswith("_per_epoch")},
                     **{key: report[key] for key in ("sigma", "couplings") if key in report}})
    return pd.DataFrame(rows).set_index("model").round(DECIMALS)


def clean_table(clean: pd.DataFrame) -> pd.DataFrame:
    """Clean accuracy (from :func:`genrob.evaluate.clean_accuracy`) beside what the paper's text states."""
    stated = paper_clean_accuracy().set_index("paper_model")
    paper_names = clean["model"].map(lambda m: get_spec(m).paper_name)
    out = clean.assign(
        paper=paper_names.map(lambda p: stated["clean_accuracy"].get(p)),
        paper_says=paper_names.map(lambda p: stated["source"].get(p, "not stated")),
    )
    return out.set_index("model").round(DECIMALS)


def compare_intervals(first: tuple[float, float], second: tuple[float, float]) -> str:
    """"more robust", "less robust" or "no clear difference": ``first`` against ``second``, each a
    95% interval (low, high) of a robust accuracy; one is more robust only where the two do not overlap."""
    if first[0] > second[1]:
        return "more robust"
    if second[0] > first[1]:
        return "less robust"
    return "no clear difference"


def compare_pair(results: pd.DataFrame, first: str, second: str, *,
                 linf_eps: float = 0.3, l2_eps: float = 2.0) -> pd.DataFrame:
    """Per attack, at one eps per norm: which of two models keeps more accuracy.

    The eps used is the one of the results' grid closest to ``linf_eps`` or
    ``l2_eps``. A model counts as more robust only where the two 95% intervals
    do not overlap.
    """
    rows = []
    for attack in (a for a in ATTACKS if a in set(results["attack"])):
        cell = results[results["attack"] == attack]
        target = linf_eps if cell["norm"].iloc[0] == "linf" else l2_eps
        eps = min(cell["eps"].unique(), key=lambda e: abs(e - target))
        a = cell[(cell["model"] == first) & (cell["eps"] == eps)]
        b = cell[(cell["model"] == second) & (cell["eps"] == eps)]
        if a.empty or b.empty:
            continue
        a, b = a.iloc[0], b.iloc[0]
        order = compare_intervals((a["robust_ci_low"], a["robust_ci_high"]), (b["robust_ci_low"], b["robust_ci_high"]))
        verdict = {"more robust": f"{first} more robust", "less robust": f"{second} more robust"}.get(order, order)
        rows.append({"attack": attack, "eps": eps, first: a["robust_accuracy"], second: b["robust_accuracy"],
                     "difference": a["robust_accuracy"] - b["robust_accuracy"], "verdict": verdict})
    return pd.DataFrame(rows).set_index("attack").round(DECIMALS)


def verdict_summary(verdicts: pd.DataFrame) -> str:
    """The verdicts of :func:`compare_pair` as Markdown, attacks grouped by verdict."""
    lines = []
    for verdict, group in verdicts.groupby("verdict", sort=False):
        attacks = ", ".join(f"`{a}` (eps {e:g})" for a, e in zip(group.index, group["eps"]))
        lines.append(f"- **{verdict}**: {attacks}")
    return "\n".join(lines)
