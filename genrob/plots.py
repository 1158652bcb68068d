"""Figures the chapters show: graphical models, robustness curves, adversarial examples."""

from __future__ import annotations

import math
import textwrap
from typing import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
from matplotlib.patches import Circle, FancyArrowPatch, FancyBboxPatch

from genrob.attacks import ATTACKS, get_attack_class
from genrob.names import NORM_NAMES, attack_name, model_name

GENERATIVE_STYLE = {"linestyle": "-", "marker": "o"}
DISCRIMINATIVE_STYLE = {"linestyle": "--", "marker": "s"}

#: The book's content column at a 1280 px window is 688 px, 6.88 inches at the 100 dpi the notebooks save
#: figures at; a figure this wide, with the 0.1 inch margins of a tight bounding box, still fits, so none is
#: shrunk and a 9 pt font stays 9 pt on the page.
COLUMN_WIDTH = 6.6
BOOK_COLUMN_PIXELS = 688
FONT_SIZE = 9
plt.rcParams.update({key: FONT_SIZE for key in ("font.size", "axes.titlesize", "axes.labelsize", "xtick.labelsize",
                                                 "ytick.labelsize", "legend.fontsize", "figure.titlesize")})


def _finished(fig: plt.Figure) -> plt.Figure:
    """Close the figure in pyplot and return it: a notebook shows it once, as the cell's value."""
    plt.close(fig)
    return fig


def _wrapped(text: str, width: int = 24) -> str:
    """``text`` broken into lines of at most ``width`` characters (a label that must fit a narrow panel)."""
    return textwrap.fill(text, width, break_long_words=False)


def _style(kind: str) -> dict:
    """Line and marker of a model of ``kind`` (the results tables' ``kind`` column)."""
    return GENERATIVE_STYLE if kind == "generative" else DISCRIMINATIVE_STYLE


# --- graphical models -------------------------------------------------------

def graphical_model(
    nodes: Mapping[str, tuple[float, float, str, bool]],
    edges: Sequence[tuple[str, str]],
    plates: Sequence[tuple[Sequence[str], str]] = (),
    *,
    undirected: Sequence[tuple[str, str]] = (),
    title: str = "",
    ax: plt.Axes | None = None,
) -> plt.Axes:
    """Draw a graphical model: arrows for ``edges``, plain lines for ``undirected`` ones.

    ``nodes`` maps a name to ``(x, y, label, observed)``; observed nodes are shaded.
    ``plates`` are ``(node names, caption)`` boxes drawn around those nodes.
    """
    ax = ax or plt.subplots(figsize=(3, 2.6))[1]
    radius = 0.32
    for members, caption in plates:
        xs = [nodes[m][0] for m in members]
        ys = [nodes[m][1] for m in members]
        x0, y0 = min(xs) - 0.9, min(ys) - 0.85
        width = max(xs) - min(xs) + 1.8
        ax.add_patch(FancyBboxPatch((x0, y0), width, max(ys) - min(ys) + 1.35,
                                    boxstyle="round,pad=0.02", fill=False, linewidth=1))
        ax.text(x0 + width - 0.08, y0 + 0.06, caption, ha="right", va="bottom", fontsize=FONT_SIZE)
    for name, (x, y, label, observed) in nodes.items():
        ax.add_patch(Circle((x, y), radius, facecolor="0.8" if observed else "white", edgecolor="black", zorder=2))
        ax.text(x, y, label, ha="center", va="center", fontsize=12, zorder=3)
    for style, pairs in (("-|>", edges), ("-", undirected)):
        for start, end in pairs:
            (x0, y0), (x1, y1) = nodes[start][:2], nodes[end][:2]
            d = math.hypot(x1 - x0, y1 - y0)
            ux, uy = (x1 - x0) / d, (y1 - y0) / d
            ax.add_patch(FancyArrowPatch((x0 + ux * radius, y0 + uy * radius),
                                         (x1 - ux * radius, y1 - uy * radius),
                                         arrowstyle=style, mutation_scale=14, linewidth=1.2, zorder=1))
    xs = [v[0] for v in nodes.values()]
    ys = [v[1] for v in nodes.values()]
    ax.set_xlim(min(xs) - 1.2, max(xs) + 1.2)
    ax.set_ylim(min(ys) - 1.1, max(ys) + 0.6)
    ax.set_aspect("equal")
    ax.axis("off")
    if title:
        ax.set_title(title, fontsize=10)
    return ax


def graphical_models(graphs: Mapping[str, Mapping], *, width: float = 3.0, height: float = 2.8) -> plt.Figure:
    """Several graphical models side by side, each given as :func:`graphical_model` keywords."""
    scale = min(1.0, COLUMN_WIDTH / (width * len(graphs)))  # side by side within the column
    fig, axes = plt.subplots(1, len(graphs), figsize=(width * len(graphs) * scale, height * scale))
    for ax, (title, graph) in zip(np.atleast_1d(axes), graphs.items()):
        graphical_model(**graph, title=title, ax=ax)
    fig.tight_layout()
    return _finished(fig)


# --- images -------------------------------------------------------------------

def image_grid(images: torch.Tensor | np.ndarray, *, titles: Sequence[str] | None = None,
               rows: int = 1, row_labels: Sequence[str] | None = None, cmap: str = "gray",
               title_colors: Sequence[str] | None = None, vmin: float | None = 0.0,
               vmax: float | None = 1.0, size: float = 1.2) -> plt.Figure:
    """A grid of 28 x 28 images, filled row by row; each image at most ``size`` inches, fewer where the
    grid would be wider than the book's column."""
    images = np.asarray(images).reshape(-1, 28, 28)
    cols = math.ceil(len(images) / rows)
    labels = [_wrapped(label, 22) for label in row_labels] if row_labels else None
    label_width = 1.6 if labels else 0.0
    size = min(size, (COLUMN_WIDTH - label_width) / cols)
    title_lines = max((t.count("\n") + 1 for t in titles), default=0) if titles is not None else 0
    fig, axes = plt.subplots(rows, cols, figsize=(size * cols + label_width,
                                                  (size + 0.18 * title_lines) * rows + 0.2), squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.set_xticks([])
        ax.set_yticks([])
        if i >= len(images):
            ax.axis("off")
            continue
        ax.imshow(images[i], cmap=cmap, vmin=vmin, vmax=vmax)
        if titles is not None:
            ax.set_title(titles[i], color=title_colors[i] if title_colors else "black")
    if labels:
        for ax, label in zip(axes[:, 0], labels):
            ax.set_ylabel(label, rotation=0, ha="right", va="center")
    fig.tight_layout(pad=0.3)
    return _finished(fig)


#: How the adversarial grids mark a prediction: an attack's success, and an image the model got wrong before
#: any attack (which no attack can take credit for).
FOOLED_COLOUR, WRONG_BEFORE_COLOUR = "C3", "0.5"


def adversarial_examples(examples: pd.DataFrame, images: Mapping[tuple[str, str], torch.Tensor],
                         clean: torch.Tensor) -> plt.Figure:
    """Clean images (top row, with their labels) and adversarial versions, one row per (model, attack).

    ``examples`` has one row per (model, attack, image) with the label, the model's prediction on the clean
    image and on the adversarial, and the perturbation size; ``images`` maps (model, attack) to the
    adversarial images (see :func:`genrob.evaluate.adversarial_examples`). A title gives the prediction:
    red with the perturbation's size where the attack fooled the model, grey and marked "was wrong"
    where the model misread the clean image already.
    """
    keys = list(images)
    first = examples.drop_duplicates("image").sort_values("image")
    labels = [f"label {v}" for v in first["label"]]
    pictures, colours = list(clean), ["black"] * len(labels)
    for model, attack in keys:
        part = examples[(examples["model"] == model) & (examples["attack"] == attack)]
        for r in part.itertuples():
            pictures.append(images[(model, attack)][r.image])
            if r.clean_prediction != r.label:
                colours.append(WRONG_BEFORE_COLOUR)
                labels.append(f"{r.prediction}\nwas wrong")
            elif r.prediction != r.label:
                colours.append(FOOLED_COLOUR)
                labels.append(f"{r.prediction}\n({r.size:.2f})")
            else:
                colours.append("black")
                labels.append(f"{r.prediction}\n")
    return image_grid(torch.stack(pictures), titles=labels, title_colors=colours, rows=len(keys) + 1,
                      row_labels=["clean"] + [f"{model_name(m)}: {attack_name(a)}" for m, a in keys], size=1.1)


# --- robustness curves ----------------------------------------------------------

def _merged_name(names: Sequence[str]) -> str:
    """One title for attacks that share a panel: "contrast reduction, linear search = binary search (l∞)"
    where the names share what comes before their first comma and their norm, else the names joined by =."""
    if len(names) == 1:
        return names[0]
    heads = {n.split(", ", 1)[0] for n in names}
    tails = {n.rsplit(" (", 1)[-1] for n in names}
    if len(heads) == 1 and len(tails) == 1 and all(", " in n and " (" in n for n in names):
        middles = [n.split(", ", 1)[1].rsplit(" (", 1)[0] for n in names]
        return f"{heads.pop()}, {' = '.join(middles)} ({tails.pop()}"
    return " = ".join(names)


def _same_curves(results: pd.DataFrame, attacks: Sequence[str]) -> list[list[str]]:
    """``attacks`` grouped where every model's robust accuracy is the same at every eps (one panel each)."""
    groups: dict[tuple, list[str]] = {}
    for attack in attacks:
        part = results[results["attack"] == attack].sort_values(["model", "eps"])
        curve = tuple(zip(part["model"], part["eps"], part["robust_accuracy"].round(6)))
        groups.setdefault(curve, []).append(attack)
    return list(groups.values())


def robustness_curves(results: pd.DataFrame, *, paper: pd.DataFrame | None = None,
                      attacks: Sequence[str] | None = None, cols: int = 3, title: str = "") -> plt.Figure:
    """Robust accuracy against eps, one panel per attack, one line per model (``title`` above them all).

    Each model has its own colour; generative models are solid lines with circles, discriminative ones
    dashed with squares; the band is the 95% interval. The paper's values, where given (``paper``: a
    :func:`genrob.paper.compare_with_paper` table), are crosses. Attacks whose curves are the same for
    every model share one panel, titled with all their names.
    """
    attacks = [a for a in (attacks or ATTACKS) if a in set(results["attack"])]
    panels = _same_curves(results, attacks)
    cols = min(cols, len(panels))
    rows = math.ceil(len(panels) / cols)
    width = COLUMN_WIDTH / cols
    fig, axes = plt.subplots(rows, cols, figsize=(COLUMN_WIDTH, 2.3 * rows), squeeze=False, sharey=True)
    models = list(dict.fromkeys(results["model"]))
    colours = {m: f"C{i}" for i, m in enumerate(models)}
    for ax, group in zip(axes.flat, panels):
        part = results[results["attack"] == group[0]]
        for model, curve in part.groupby("model", sort=False):
            curve = curve.sort_values("eps")
            eps = np.concatenate([[0.0], curve["eps"].to_numpy()])
            acc = np.concatenate([[curve["clean_accuracy"].iloc[0]], curve["robust_accuracy"].to_numpy()])
            ax.plot(eps, acc, color=colours[model], label=model_name(model), markersize=3.5,
                    **_style(curve["kind"].iloc[0]))
            ax.fill_between(curve["eps"], curve["robust_ci_low"], curve["robust_ci_high"],
                            color=colours[model], alpha=0.15, linewidth=0)
            if paper is not None:
                theirs = paper[paper["attack"].isin(group) & (paper["model"] == model)]
                ax.plot(theirs["eps"], theirs["paper"], "x", color=colours[model], markersize=7, mew=2)
        ax.set_title(_wrapped(_merged_name([attack_name(a) for a in group]), int(width * 12)))
        ax.set_xlabel(f"eps ({NORM_NAMES[get_attack_class(group[0]).norm]})")
        ax.set_ylim(-0.03, 1.03)
        ax.grid(alpha=0.3)
    for ax in axes.flat[len(panels):]:
        ax.axis("off")
    for ax in axes[:, 0]:
        ax.set_ylabel("accuracy")
    handles = [plt.Line2D([], [], color=colours[m], markersize=3.5,
                          **_style(results.loc[results["model"] == m, "kind"].iloc[0])) for m in models]
    names = [model_name(m) for m in models]
    if paper is not None:
        handles.append(plt.Line2D([], [], marker="x", linestyle="", color="0.3", mew=2))
        names.append("paper (Tables 1-2)")
    if title:
        fig.suptitle(title, fontsize=FONT_SIZE + 1)
    per_row = 2
    legend_rows = math.ceil(len(names) / per_row)
    fig.legend(handles, names, loc="lower center", ncol=per_row, frameon=False)
    fig.tight_layout(rect=(0, 0.2 * legend_rows / fig.get_figheight(), 1, 1))
    return _finished(fig)


def training_curve(values: Sequence[float], *, xlabel: str, ylabel: str, start: int = 1) -> plt.Figure:
    """One quantity against a step count (a training curve)."""
    fig, ax = plt.subplots(figsize=(4.5, 2.8))
    ax.plot(range(start, start + len(values)), values, "o-", markersize=3)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return _finished(fig)


def selection_curve(values: Sequence[float], scores: Sequence[float], *, chosen: float, xlabel: str,
                    ylabel: str = "validation accuracy", log: bool = True) -> plt.Figure:
    """A hyper-parameter against its validation score, the chosen value marked."""
    fig, ax = plt.subplots(figsize=(4.5, 2.8))
    ax.plot(values, scores, "o-")
    ax.axvline(chosen, color="C3", linestyle=":", label=f"chosen: {chosen:g}")
    if log:
        ax.set_xscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.legend(frameon=False)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return _finished(fig)


def margins_along_rays(ts: np.ndarray, margins: np.ndarray, *, marks: Sequence[float] = ()) -> plt.Figure:
    """Logit margins along attack rays (from :func:`genrob.evaluate.margins_along_fgsm_rays`).

    Below the dotted zero line the image is misclassified; vertical lines mark eps values.
    """
    fig, ax = plt.subplots(figsize=(5.5, 3.2))
    for row in margins:
        ax.plot(ts, row, linewidth=1.2)
    ax.axhline(0, color="black", linestyle=":", linewidth=1)
    for eps in marks:
        ax.axvline(eps, color="0.5", linestyle="--", linewidth=0.8)
    ax.set_xlabel("step size t of the FGSM ray")
    ax.set_ylabel("logit margin (true - best other)")
    ax.set_yscale("symlog", linthresh=10)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return _finished(fig)


def verdict_bars(verdicts: pd.DataFrame, *, eps: float = 0.3) -> plt.Figure:
    """Per model at l_inf ``eps``: the paper's number, ours under the paper's attacks, our worst case.

    Generative models' names are in bold; the worst case carries its 95% interval and, where a solver gives
    it (``exact_low``), a black mark at the exact robust accuracy.
    """
    fig, ax = plt.subplots(figsize=(COLUMN_WIDTH, 3.8))
    x = np.arange(len(verdicts))
    width = 0.27
    ax.bar(x - width, verdicts["paper"], width, color="0.75", label="paper (its strongest attack)")
    ax.bar(x, verdicts["ours_paper_attacks"], width, color="C0", label="ours, the paper's attacks")
    worst = verdicts["worst_case"]
    # clipped at zero: a Wilson bound computed in floating point can lie 1e-19 beyond the share itself
    below, above = (worst - verdicts["worst_ci_low"]).clip(lower=0), (verdicts["worst_ci_high"] - worst).clip(lower=0)
    ax.bar(x + width, worst, width, color="C3", label="ours, worst case over every attack",
           yerr=[below, above], capsize=2, ecolor="0.3")
    if "exact_low" in verdicts and verdicts["exact_low"].notna().any():
        # the exact robust accuracy, where a solver gives it: the bottom of the worst case's bracket
        solved = verdicts["exact_low"].notna().to_numpy()
        ax.scatter(x[solved] + width, verdicts["exact_low"][solved], marker="_", s=120, linewidths=2.2,
                   color="black", zorder=3, label="exact (solved)")
    ax.set_xticks(x, [model_name(m) for m in verdicts["model"]], rotation=40, ha="right", rotation_mode="anchor")
    for label, kind in zip(ax.get_xticklabels(), verdicts["kind"]):
        label.set_fontweight("bold" if kind == "generative" else "normal")
    ax.set_ylabel(f"robust accuracy, l∞ eps {eps:g}")
    ax.set_ylim(0, 1.05)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=2, frameon=False)  # above the bars
    fig.tight_layout()
    return _finished(fig)


def pairwise_worst_case(worst: pd.DataFrame, pairs: Sequence[tuple[str, str]], *, norm: str = "linf",
                        cols: int = 2) -> plt.Figure:
    """The question of the study, one panel per pair: worst-case robust accuracy against eps of a
    generative model (red, solid, circles) beside its discriminative counterpart (blue, dashed, squares),
    each with its 95% band, from clean accuracy at eps 0; the panel's title names the two and n.
    ``worst``: rows of :func:`genrob.adaptive.worst_case` (model, norm, eps, n, clean_accuracy,
    worst_case_accuracy, ci_low, ci_high); pairs with no rows are left out."""
    part = worst[worst["norm"] == norm]
    pairs = [(a, b) for a, b in pairs if {a, b} <= set(part["model"])]
    if not pairs:
        raise ValueError(f"no pair of models with {norm} worst-case rows")
    columns = min(cols, len(pairs))
    rows = math.ceil(len(pairs) / columns)
    width = COLUMN_WIDTH / columns
    fig, axes = plt.subplots(rows, columns, figsize=(COLUMN_WIDTH, 2.9 * rows + 0.4), squeeze=False, sharey=True)
    for ax, pair in zip(axes.flat, pairs):
        for model, colour, kind in zip(pair, ("C3", "C0"), ("generative", "discriminative")):
            curve = part[part["model"] == model].sort_values("eps")
            eps = np.concatenate([[0.0], curve["eps"].to_numpy()])
            acc = np.concatenate([[curve["clean_accuracy"].iloc[0]], curve["worst_case_accuracy"].to_numpy()])
            ax.plot(eps, acc, color=colour, label=model_name(model), markersize=4, **_style(kind))
            ax.fill_between(curve["eps"], curve["ci_low"], curve["ci_high"], color=colour, alpha=0.18, linewidth=0)
        n = int(part[part["model"] == pair[0]]["n"].iloc[0])
        ax.set_title(_wrapped(f"{model_name(pair[0])} against {model_name(pair[1])} (n = {n})", int(width * 12)))
        ax.set_ylim(-0.03, 1.03)
        ax.set_xlabel(f"eps ({NORM_NAMES[norm]})")
        ax.grid(alpha=0.3)
    for ax in axes.flat[len(pairs):]:
        ax.axis("off")
    for ax in axes[:, 0]:
        ax.set_ylabel("worst-case accuracy")
    handles = [plt.Line2D([], [], color="C3", **GENERATIVE_STYLE), plt.Line2D([], [], color="C0", **DISCRIMINATIVE_STYLE),
               plt.Rectangle((0, 0), 1, 1, color="0.5", alpha=0.3)]
    fig.legend(handles, ["generative model", "discriminative counterpart", "95% interval"], loc="lower center",
               ncol=3, frameon=False)
    fig.tight_layout(rect=(0, 0.4 / fig.get_figheight(), 1, 1))
    return _finished(fig)


FINDING_COLOURS = {"stands": "C2", "weakened": "C1", "equal": "C0", "overturned": "C3", "undecided at this n": "0.55",
                   "no shared images": "0.8"}
#: Marker per eps of a grid, smallest first (the claims' forest plot).
EPS_MARKERS = ("o", "s", "D", "^", "v")


def claims_forest(claims: pd.DataFrame, *, margin: float) -> plt.Figure:
    """The paper's claims (:func:`genrob.claims.claims`) over the curve: per claim (a row) and norm (a
    panel), the worst-case difference between the model the claim favours and the other on the images both
    saw, with its 95% interval, at each eps (a marker each, smallest on top), coloured by the finding there;
    the band is the margin within which two models count as equal."""
    order = list(dict.fromkeys(claims["claim"]))
    labels = [_wrapped(claim, 34) for claim in order]
    lines = sum(label.count("\n") + 1 for label in labels)
    fig, axes = plt.subplots(1, 2, figsize=(COLUMN_WIDTH, 0.17 * lines + 0.3 * len(order) + 1.4), sharey=True)
    for ax, norm in zip(axes, ("linf", "l2")):
        part = claims[claims["norm"] == norm]
        grid = sorted(part["eps"].unique())
        ax.axvspan(-margin, margin, color="0.9", zorder=0)
        ax.axvline(0, color="0.5", lw=0.8, zorder=1)
        for row in part.itertuples():
            k = grid.index(row.eps)
            y = order.index(row.claim) + (k - (len(grid) - 1) / 2) * 0.22
            low, high = row.difference_ci
            colour = FINDING_COLOURS.get(row.finding, "0.3")
            ax.errorbar(row.difference, y, xerr=[[max(0.0, row.difference - low)], [max(0.0, high - row.difference)]],
                        fmt=EPS_MARKERS[k % len(EPS_MARKERS)], color=colour, ms=4, capsize=1.5, lw=1, zorder=2)
        ax.set_title(NORM_NAMES[norm] + (f", eps {', '.join(f'{e:g}' for e in grid)} top to bottom" if grid else ""))
        ax.set_xlim(-1.03, 1.03)
        ax.grid(axis="x", alpha=0.3)
    fig.supxlabel("worst-case accuracy: favoured − other", fontsize="medium", y=0.55 / fig.get_figheight())
    axes[0].set_yticks(range(len(order)), labels)
    axes[0].set_ylim(len(order) - 0.5, -0.5)
    handles = [plt.Line2D([], [], color=c, marker="o", ls="", label=f) for f, c in FINDING_COLOURS.items()
               if f in set(claims["finding"])]
    handles.append(plt.Rectangle((0, 0), 1, 1, color="0.9", label=f"within ±{margin:g}: equal"))
    fig.legend(handles=handles, loc="lower center", ncol=3, frameon=False)
    fig.tight_layout(rect=(0, 0.55 / fig.get_figheight(), 1, 1))
    return _finished(fig)


def cost_against_flops(bench: pd.DataFrame, *, reference: str = "cnn", tolerance: float = 1.25) -> plt.Figure:
    """Each model's PGD-40 time against its forward FLOPs, both relative to ``reference``, log-log
    (:func:`genrob.cost.benchmark`). On the diagonal a model costs what its arithmetic says;
    above the dotted line it costs more than ``tolerance`` times that. Models the FLOP counter
    sees no work in (it counts matrix products and convolutions only) are left out."""
    bench = bench[bench["flop_ratio_to_cnn"] > 0]
    fig, ax = plt.subplots(figsize=(COLUMN_WIDTH, 4.6))
    flops, time = bench["flop_ratio_to_cnn"], bench["pgd_ratio_to_cnn"]
    for model in bench.index:
        kind = bench.loc[model, "kind"]
        ax.plot(flops[model], time[model], marker=_style(kind)["marker"], ls="",
                color="C0" if kind == "generative" else "C1")
    low, high = min(flops.min(), time.min()) / 2, max(flops.max(), time.max()) * 2
    # Models whose points lie close (a decade in FLOPs, half a decade in time) share one label, a name a line,
    # to the right of the group, or to its left near the right edge.
    clusters: list[list[str]] = []
    for model in bench.sort_values("flop_ratio_to_cnn").index:
        near = next((c for c in clusters if abs(np.log10(flops[model] / flops[c[0]])) < 1.0
                     and abs(np.log10(time[model] / time[c[0]])) < 0.5), None)
        (near.append(model) if near is not None else clusters.append([model]))
    for cluster in clusters:
        left = np.log10(flops[cluster].max()) > np.log10(high) - 1.5
        ax.annotate("\n".join(model_name(m) for m in cluster),
                    (flops[cluster].min() if left else flops[cluster].max(), np.exp(np.log(time[cluster]).mean())),
                    xytext=(-8 if left else 8, 0), textcoords="offset points", va="center",
                    ha="right" if left else "left")
    line = np.array([low, high])
    ax.plot(line, line, color="0.4", lw=1, label="costs what its FLOPs say")
    ax.plot(line, tolerance * line, color="0.4", lw=1, ls=":", label=f"{tolerance:g} times that")
    ax.set(xscale="log", yscale="log", xlim=(low, high), ylim=(low, high),
           xlabel=f"forward FLOPs per image / the {model_name(reference)}'s",
           ylabel=f"PGD-40 seconds per image / the {model_name(reference)}'s")
    handles = ax.get_legend_handles_labels()[0]
    handles += [plt.Line2D([], [], color="C0", marker="o", ls="", label="generative"),
                plt.Line2D([], [], color="C1", marker="s", ls="", label="discriminative")]
    ax.legend(handles=handles, frameon=False, loc="upper left")
    ax.grid(alpha=0.3, which="both")
    fig.tight_layout()
    return _finished(fig)


#: The states of :func:`genrob.adaptive.attack_breaks`, in the colours the attack map draws them.
BREAK_COLOURS = {"wrong before any attack": "0.55", "broken": "C3", "broken by an attack before it": "#f4c2c2",
                 "survives": "0.95"}


def attack_seconds(runtimes: pd.DataFrame) -> plt.Figure:
    """Seconds per test image of each of the paper's attacks over its eps grid, a row per model and a column
    per attack (:func:`genrob.cost.runtimes_per_image`), on a logarithmic colour scale with each cell's value
    written in it: where a model's cost goes."""
    from matplotlib.colors import LogNorm

    attacks = [a for a in runtimes.columns if a in ATTACKS]
    seconds = runtimes[attacks].astype(float)
    fig, ax = plt.subplots(figsize=(COLUMN_WIDTH, 0.3 * len(seconds) + 3.0))
    positive = seconds.where(seconds > 0)
    ax.imshow(positive.to_numpy(), aspect="auto", cmap="Oranges",
                      norm=LogNorm(vmin=np.nanmin(positive.to_numpy()), vmax=np.nanmax(positive.to_numpy())))
    darkest = np.log(np.nanmax(positive.to_numpy()))
    for (row, column), value in np.ndenumerate(seconds.to_numpy()):
        dark = value > 0 and np.log(value) > darkest - 0.35 * (darkest - np.log(np.nanmin(positive.to_numpy())))
        ax.text(column, row, _short_seconds(value), ha="center", va="center", fontsize=FONT_SIZE,
                color="white" if dark else "black")
    ax.set_xticks(range(len(attacks)), [attack_name(a) for a in attacks], rotation=90)
    ax.set_yticks(range(len(seconds)), [model_name(m) for m in seconds.index])
    ax.set_title("seconds per image (darker: costlier)")
    fig.tight_layout()
    return _finished(fig)


def _short_seconds(value: float) -> str:
    """A cell of :func:`attack_seconds` in at most four characters: ``.02``, ``.4``, ``3.6``, ``13``."""
    if value < 0.01:
        return "<.01"
    return f"{value:.1g}".lstrip("0") if value < 1 else f"{value:.2g}" if value < 10 else f"{value:.0f}"


#: Characters of a panel title of :func:`attack_map` per line: its panel is the column less the attacks' names.
ATTACK_MAP_TITLE_CHARACTERS = 60


def attack_map(breaks: pd.DataFrame) -> plt.Figure:
    """Which attack broke which image (:func:`genrob.adaptive.attack_breaks`), one panel per model: a row per
    attack, a column per test image, red where the attack fooled the model, pink where a cascade's attack never
    met the image (an attack before it had broken it), grey where the model was wrong before any attack, pale
    where the image survived. Columns are sorted so that the images the fewest
    attacks broke come last: the pale columns at the right survive every attack (the worst case)."""
    from matplotlib.colors import ListedColormap

    models = list(dict.fromkeys(breaks["model"]))
    attacks_of = {m: list(dict.fromkeys(breaks.loc[breaks["model"] == m, "attack"])) for m in models}
    heights = [0.18 * len(attacks_of[m]) + 0.55 for m in models]  # a 9 pt line per attack
    fig, axes = plt.subplots(len(models), 1, figsize=(COLUMN_WIDTH, sum(heights) + 0.7), squeeze=False,
                             gridspec_kw={"height_ratios": heights})
    states = list(BREAK_COLOURS)
    for ax, model in zip(axes[:, 0], models):
        part = breaks[breaks["model"] == model]
        grid = part.pivot(index="attack", columns="image", values="state").reindex(attacks_of[model])
        codes = grid.apply(lambda column: column.map(states.index)).to_numpy()
        broken_by = np.isin(codes, [states.index("broken"), states.index("broken by an attack before it")]).sum(0)
        wrong = (codes == states.index("wrong before any attack")).any(0)
        order = np.lexsort((-broken_by, ~wrong))  # wrong first, then the most broken to the least
        ax.imshow(codes[:, order], aspect="auto", interpolation="nearest", vmin=0, vmax=len(states) - 1,
                  cmap=ListedColormap(list(BREAK_COLOURS.values())))
        ax.set_yticks(range(len(grid)), [attack_name(a) for a in grid.index])
        ax.set_xticks([])
        survive = int(((codes == states.index("survives")).all(0)).sum())
        # wrapped so that a long name stays over its panel: a title wider than the panel widens the saved figure
        ax.set_title(_wrapped(f"{model_name(model)}: {survive} of {codes.shape[1]} images survive every attack",
                              ATTACK_MAP_TITLE_CHARACTERS))
    handles = [plt.Rectangle((0, 0), 1, 1, color=c, ec="0.6") for c in BREAK_COLOURS.values()]
    fig.legend(handles, list(BREAK_COLOURS), loc="lower center", ncol=2, frameon=False)
    fig.tight_layout(rect=(0, 0.55 / fig.get_figheight(), 1, 1))
    return _finished(fig)


def minimal_perturbations(sizes: pd.DataFrame, *, cols: int = 2) -> plt.Figure:
    """How large the smallest adversarial perturbation is, per minimisation attack (a panel each) and model
    (a row each), from :func:`genrob.evaluate.minimal_perturbations`: a dot per correctly classified image
    at the size found, a bar at the median, and how many images no perturbation within the grid's largest
    eps fooled."""
    attacks = list(dict.fromkeys(sizes["attack"]))
    models = list(dict.fromkeys(sizes["model"]))
    cols = min(cols, len(attacks))
    rows = math.ceil(len(attacks) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(COLUMN_WIDTH, (0.45 * len(models) + 1.3) * rows), squeeze=False,
                             sharey=True)
    generator = np.random.default_rng(0)  # the dots' vertical jitter only
    for ax, attack in zip(axes.flat, attacks):
        part = sizes[sizes["attack"] == attack]
        limit = part["limit"].max()
        for row, model in enumerate(models):
            found = part.loc[part["model"] == model, "size"]
            shown = found.dropna().to_numpy()
            ax.plot(shown, row + generator.uniform(-0.18, 0.18, len(shown)), "o", ms=2.5, alpha=0.5,
                    color=f"C{row}")
            if len(shown):
                ax.plot([np.median(shown)] * 2, [row - 0.3, row + 0.3], color="black", lw=2)
            missing = int(found.isna().sum())
            if missing:  # between this row and the one above, clear of the dots
                ax.text(limit, row - 0.45, f"{missing} not fooled", ha="right", va="center", color="0.35")
        ax.set_xlim(0, limit * 1.02)
        ax.set_ylim(len(models) - 0.6, -0.75)
        ax.set_title(_wrapped(attack_name(attack), int(COLUMN_WIDTH / cols * 12)))
        ax.set_xlabel(f"smallest perturbation found ({NORM_NAMES[part['norm'].iloc[0]]})")
        ax.grid(axis="x", alpha=0.3)
    for ax in axes.flat[len(attacks):]:
        ax.axis("off")
    axes[0, 0].set_yticks(range(len(models)), [_wrapped(model_name(m), 16) for m in models])
    fig.tight_layout()
    return _finished(fig)
