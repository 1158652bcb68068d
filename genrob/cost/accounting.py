"""What the study's runs cost, from the times the results table recorded: per cell, per model,
the paper's Table 3, and the whole study with an estimate for the full profile."""

from __future__ import annotations

from typing import Mapping

import pandas as pd

from genrob.attacks import ATTACKS, PAPER_ATTACKS
from genrob.cost.measure import REFERENCE
from genrob.models import get_spec, training_report
from genrob.names import budget, model_name
from genrob.models.vae import IMPORTANCE_SAMPLES
from genrob.paper import paper_runtimes
from genrob.profiles import get_profile
from genrob.adaptive import COMPLETE_ADAPTIVE
from genrob.exactness import read_exact
from genrob.results import EVERY_IMAGE, read_results
from genrob.summary import current_rows, study_order

#: Test images of the full profile (every one), for the cost estimate.
FULL_N = get_profile("full").n_eval

#: The attacks of the paper's Table 3 (run times).
TIMED_ATTACKS = ("fgm_l2", "fgsm_linf", "pgd_l2", "pgd_linf")


def attack_seconds(results: pd.DataFrame) -> pd.Series:
    """Wall time of each (model, attack) cell over its whole eps grid."""
    # A minimisation attack's rows all carry the time of its one run (one per n it ran at).
    once = results["attack"].map(lambda a: ATTACKS[a].minimisation).astype(bool)
    per_eps = results[~once].groupby(["model", "attack"], sort=False)["wall_time_s"].sum()
    searches = (results[once].groupby(["model", "attack", "n"], sort=False)["wall_time_s"].first()
                .groupby(level=["model", "attack"], sort=False).sum())
    return pd.concat([per_eps, searches])


def sweep_cost(results: pd.DataFrame) -> pd.DataFrame:
    """Per model: attack time over every attack and eps, its n, and the seconds that cost per image."""
    seconds = attack_seconds(results).groupby(level="model", sort=False).sum()
    n = results.groupby("model", sort=False)["n"].first()
    return pd.DataFrame({"attack_seconds": seconds, "n": n, "seconds_per_image": seconds / n}).reindex(n.index)


def pair_runtimes(results: pd.DataFrame, costs: pd.DataFrame, *, generative: str,
                  discriminative: str) -> pd.DataFrame:
    """The paper's Table 3 for two models: each gradient attack's wall time over the whole eps grid.

    Ours is beside the paper's (n and hardware not stated there); ``ratio`` is the
    generative model's time over the discriminative one's, ``flop_ratio`` their
    ratio of forward FLOPs from ``costs`` (:func:`forward_cost`).
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


def runtimes_per_image(results: pd.DataFrame, *, mflops: Mapping[str, float] | None = None) -> pd.DataFrame:
    """The paper's Table 3 for every model: seconds per test image of each of the ten attacks.

    Each attack's wall time over its whole eps grid, divided by the sweep's n (the
    sweeps ran different n, and one image's cost is what compares); ``all ten``
    sums them. Against the CNN: ``vs cnn`` for the ten, ``four vs cnn`` for the
    four attacks the paper timed (FGM, FGSM, both PGDs) beside ``paper four vs
    cnn``, its ratio (CNN-VAE only), and ``flop ratio``, the ratio of forward
    FLOPs per image (from ``mflops``).
    """
    seconds = attack_seconds(results)
    n = results.groupby("model")["n"].first()
    per_image = seconds.unstack("attack").div(n, axis=0).reindex(columns=list(PAPER_ATTACKS))
    table = per_image.reindex(study_order(per_image.index))
    table.insert(0, "n", n.reindex(table.index))
    table["all ten"] = table[list(PAPER_ATTACKS)].sum(axis=1)
    if REFERENCE not in table.index:
        return table
    four = table[list(TIMED_ATTACKS)].sum(axis=1)
    table["vs cnn"] = table["all ten"] / table.loc[REFERENCE, "all ten"]
    table["four vs cnn"] = four / four[REFERENCE]
    paper = paper_runtimes().groupby("paper_model")["robust_accuracy"].sum()  # the column holds seconds
    reference = paper.get(get_spec(REFERENCE).paper_name)
    table["paper four vs cnn"] = [paper.get(get_spec(m).paper_name, float("nan")) / reference for m in table.index]
    if mflops is not None:
        flops = pd.Series(mflops, dtype=float).reindex(table.index)
        table["flop ratio"] = flops / flops[REFERENCE]
    return table


def runtime_overview(runtimes: pd.DataFrame) -> pd.DataFrame:
    """:func:`runtimes_per_image` as a reader reads it, one row per model (by name): n, the ten attacks'
    seconds per image, and the model against the CNN over the ten, over the four the paper timed beside the
    paper's own ratio, and in FLOPs (where measured). The seconds of each attack are a figure
    (:func:`genrob.plots.attack_seconds`)."""
    columns = {"n": "n", "all ten": "s per image, the ten attacks", "vs cnn": "vs the CNN, the ten",
               "four vs cnn": "vs the CNN, the paper's four", "paper four vs cnn": "the paper's four vs its CNN",
               "flop ratio": "FLOPs vs the CNN"}
    table = runtimes[[c for c in columns if c in runtimes]].rename(columns=columns).rename_axis(columns=None)
    table.index = pd.Index([model_name(m) for m in table.index], name="model")
    return table


def benchmark_overview(bench: pd.DataFrame) -> tuple[pd.DataFrame, str]:
    """:func:`genrob.cost.benchmark` as a reader reads it: per model (by name) its forward MFLOPs per image,
    images per second forward and with the input gradient (and the ratio of their times against the Gaussian
    CNN-VAE's, where measured), the GFLOP/s that makes, PGD-40's seconds per
    image, and FLOPs and PGD-40 time against the CNN's; and a sentence with what every row shares (threads,
    batch, this machine's matrix-multiply rate)."""
    columns = {"mflops_per_image": "MFLOP per image", "forward_images_per_s": "images/s, forward",
               "gradient_images_per_s": "images/s, with gradient",
               "gradient_over_forward_vs_cnn_vae": "gradient / forward time, vs the CNN-VAE's",
               "forward_gflops_per_s": "GFLOP/s, forward",
               "pgd40_s_per_image": "PGD-40, s per image", "flop_ratio_to_cnn": "FLOPs vs the CNN",
               "pgd_ratio_to_cnn": "PGD-40 vs the CNN"}
    table = bench[[c for c in columns if c in bench]].rename(columns=columns)
    table.index = pd.Index([model_name(m) for m in table.index], name="model")
    batches = sorted({int(b) for b in bench["batch"]})
    sentence = (f"Measured on {int(bench['threads'].iloc[0])} thread(s), in batches of "
                f"{' or '.join(str(b) for b in batches)} images (a model's sweeps' batch), on a machine whose "
                f"matrix multiply runs at {bench['matmul_gflops_per_s'].iloc[0]:.0f} GFLOP/s in the same run.")
    return table, sentence


def study_cost(profile, *, seed: int = 0, full_n: int = FULL_N, results: pd.DataFrame | None = None,
               train_seconds: Mapping[str, float] | None = None) -> pd.DataFrame:
    """What the study cost per model at ``profile``, and what the same attacks would cost on ``full_n`` images.

    ``train_s``: training time; ``attack_s``: every attack run in the results
    table (chapters, adaptive evaluation, checks; one thread each);
    ``attack_s_per_image``: the same attacks once each (a cell run at several n
    counts at its largest), per test image; ``full_hours``: training plus that
    many seconds for ``full_n`` images, in hours on this machine's one thread.
    Rows sum to a ``total``. ``train_seconds`` defaults to each model's training report.
    """
    profile = get_profile(profile)
    table = current_rows(read_results(profile) if results is None else results, profile, seed=seed)
    table = table.assign(search=table["attack"].map(lambda a: ATTACKS[a].minimisation).astype(bool),
                         per_image=table["wall_time_s"] / table["n"]).sort_values("n", kind="stable")
    # Each cell once, at its largest n; a search's rows all carry the time of its one run over the grid.
    searches, fixed = table[table["search"]], table[~table["search"]]
    once = pd.concat([fixed.drop_duplicates(["model", "attack", "norm", "eps"], keep="last"),
                      searches.drop_duplicates(["model", "attack"], keep="last")])
    models = study_order(table["model"].unique())
    out = pd.DataFrame({
        "train_s": [train_seconds[m] if train_seconds is not None else training_report(m, profile)["train_seconds"]
                    for m in models],
        "attack_s": attack_seconds(table).groupby(level="model").sum().reindex(models),
        "attack_s_per_image": once.groupby("model")["per_image"].sum().reindex(models),
    }, index=pd.Index(models, name="model"))
    out["full_hours"] = (out["train_s"] + full_n * out["attack_s_per_image"]) / 3600
    out.loc["total"] = out[["train_s", "attack_s", "attack_s_per_image", "full_hours"]].sum()
    out.attrs["full_n"] = full_n
    return out


def _thousands(value: float) -> str:
    return f"{value:,.0f}".replace(",", " ")


def cost_summary(costs: pd.DataFrame, *, profile, cores: int = 2) -> str:
    """Two Markdown sentences from :func:`study_cost`: what ``profile`` took, what the full profile would."""
    profile = get_profile(profile)
    total, models = costs.loc["total"], costs.drop(index="total")
    core_hours = (total["train_s"] + total["attack_s"]) / 3600
    costliest = models["full_hours"].nlargest(3)
    text = (f"At the `{profile.name}` profile the results took {total['train_s'] / 3600:.1f} hours of "
            f"training and {total['attack_s'] / 3600:.1f} hours of attacks, on one thread per run: "
            f"{core_hours:.0f} core-hours, about {core_hours / cores:.0f} hours on {cores} cores. "
            f"The same attacks on {_thousands(costs.attrs.get('full_n', FULL_N))} test images would take about "
            f"{_thousands(total['full_hours'])} core-hours of this CPU, most of them for "
            + ", ".join(f"`{m}` ({_thousands(h)})" for m, h in costliest.items()) + ".")
    cheaper = ["its convolutional VAEs are shrunk"] if profile.small_models else []
    if profile.importance_samples:
        cheaper.append(f"its convolutional VAEs average {profile.importance_samples} importance samples, "
                       f"not {IMPORTANCE_SAMPLES}")
    if min(profile.attack_effort, profile.adaptive_effort) < 1:
        cheaper.append("its attacks run on cut budgets")
    if cheaper:
        text += " It is a lower bound for the `full` profile: " + ", and ".join(cheaper) + "."
    return text


def exact_cost(profile, *, exact: pd.DataFrame | None = None) -> pd.DataFrame:
    """What the exact solvers (:mod:`genrob.exactness`) cost at ``profile``, per model (by name) and budget:
    the images, the solver's seconds per test image (wall time, on the threads the row records; a misclassified
    image costs nothing), the time limit of one solver call and how many images hit it (their status is left
    undecided).
    ``exact`` defaults to the profile's exact table."""
    table = read_exact(get_profile(profile).name) if exact is None else exact
    order = {m: i for i, m in enumerate(study_order(table["model"].unique()))}
    table = table.assign(first=table["model"].map(order), linf_first=table["norm"] != "linf")
    table = table.sort_values(["first", "linf_first", "eps"])
    return pd.DataFrame({
        "model": [model_name(m) for m in table["model"]],
        "budget": [budget(norm, eps) for norm, eps in zip(table["norm"], table["eps"])],
        "n": table["n"].to_numpy(), "solver s / image": (table["solver_seconds"] / table["n"]).round(4).to_numpy(),
        "time limit, s": table["time_limit_s"].to_numpy(), "time-limit hits": table["time_limit_hits"].to_numpy(),
    }).set_index(["model", "budget"])


def exact_cost_summary(costs: pd.DataFrame) -> str:
    """One Markdown sentence from :func:`exact_cost`: the solvers' total time and how often one ran out of it."""
    if costs.empty:
        return "No exact solver has run at this profile."
    seconds = float((costs["solver s / image"] * costs["n"]).sum())
    hits = int(costs["time-limit hits"].sum())
    dearest = costs["solver s / image"].idxmax()
    return (f"The exact solvers took {seconds / 60:.1f} minutes of wall time for all "
            f"{len(costs)} rows, the dearest {costs['solver s / image'].max():.3g} s per image "
            f"({dearest[0]}, {dearest[1]}); "
            + ("no solver call reached its time limit." if not hits else
               f"{hits} image(s) met a solver's time limit and stay undecided."))


def cascade_saving(with_cascade: pd.DataFrame, every_image: pd.DataFrame) -> pd.DataFrame:
    """What the adaptive evaluation's cascade saves, per model, in evaluations of the model (per image:
    forward passes and gradients, whatever the machine) and seconds.

    ``with_cascade``: the rows of a family's adaptive evaluation (:attr:`genrob.adaptive.FamilyEvidence.results`);
    ``every_image``: the cascade's attacks run on every correctly classified image
    (:func:`genrob.adaptive.every_image_runs`). The worst case's cost is the attacks run on every image (the
    paper's and margin PGD, the same either way) plus the cascade's, or plus the same attacks on every image.
    """
    cascaded = with_cascade["images"] != EVERY_IMAGE
    shared = with_cascade[~cascaded & with_cascade["attack"].isin(set(PAPER_ATTACKS) | set(COMPLETE_ADAPTIVE))
                          & with_cascade["eps"].isin(set(every_image["eps"]))]
    measures = ["gradient_evals", "forward_evals", "wall_time_s"]

    def per_model(rows: pd.DataFrame) -> pd.DataFrame:
        return rows.groupby("model", sort=False)[measures].sum()

    both, alone, every = per_model(shared), per_model(with_cascade[cascaded]), per_model(every_image)
    table = pd.DataFrame(index=every.index)
    for measure, short in zip(measures, ["gradients", "forwards", "seconds"]):
        table[f"{short} with the cascade"] = both[measure].reindex(table.index) + alone[measure].reindex(table.index)
        table[f"{short} without"] = both[measure].reindex(table.index) + every[measure]
    table["gradients saved"] = 1 - table["gradients with the cascade"] / table["gradients without"]
    table["forwards saved"] = 1 - table["forwards with the cascade"] / table["forwards without"]
    return table
