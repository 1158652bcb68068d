"""What every family chapter does at its start and in its tables, in one place."""

from __future__ import annotations

import dataclasses

import matplotlib.pyplot as plt
import pandas as pd
from torch import nn

from genrob import plots
from genrob.adaptive import compare_intervals
from genrob.attacks import ATTACKS
from genrob.cost import attack_seconds
from genrob.data import MNIST, Split, evaluation_subset
from genrob.environment import code_version, seed_everything, use_precision
from genrob.evaluate import adversarial_examples
from genrob.models import get_spec, training_report
from genrob.paper import paper_clean_accuracy
from genrob.params import SweepConfig, sampling_models, sweep_config
from genrob.profiles import Profile, get_profile

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


def results_provenance(results: pd.DataFrame) -> str:
    """One Markdown line: which code versions computed the rows shown, and their summed wall time."""
    versions = ", ".join(f"`{v}`" for v in sorted(results["code_version"].astype(str).unique()))
    return (f"**Results table:** {len(results)} rows for this page, computed by code version {versions} "
            f"in {attack_seconds(results).sum():.0f} s of attack time.")


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


def eot_table(eot_results: pd.DataFrame) -> pd.DataFrame:
    """The results of an :func:`eot_config` sweep, per model: the fixed-noise attack beside EOT, with n."""
    table = robustness_table(eot_results, norm="linf")
    table.insert(0, "n", eot_results.groupby(["model", "attack"])["n"].first().reindex(table.index))
    return table


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
