"""Figures the chapters show: graphical models, robustness curves, adversarial examples."""

from __future__ import annotations

import math
from typing import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
from matplotlib.patches import Circle, FancyArrowPatch, FancyBboxPatch

from genrob.attacks import ATTACKS, get_attack_class

GENERATIVE_STYLE = {"linestyle": "-", "marker": "o"}
DISCRIMINATIVE_STYLE = {"linestyle": "--", "marker": "s"}


def _finished(fig: plt.Figure) -> plt.Figure:
    """Close the figure in pyplot and return it: a notebook shows it once, as the cell's value."""
    plt.close(fig)
    return fig


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
        ax.text(x0 + width - 0.08, y0 + 0.06, caption, ha="right", va="bottom", fontsize=8)
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
    fig, axes = plt.subplots(1, len(graphs), figsize=(width * len(graphs), height))
    for ax, (title, graph) in zip(np.atleast_1d(axes), graphs.items()):
        graphical_model(**graph, title=title, ax=ax)
    fig.tight_layout()
    return _finished(fig)


# --- images -------------------------------------------------------------------

def image_grid(images: torch.Tensor | np.ndarray, *, titles: Sequence[str] | None = None,
               rows: int = 1, row_labels: Sequence[str] | None = None, cmap: str = "gray",
               title_colors: Sequence[str] | None = None, vmin: float | None = 0.0,
               vmax: float | None = 1.0, size: float = 1.2) -> plt.Figure:
    """A grid of 28 x 28 images, filled row by row."""
    images = np.asarray(images).reshape(-1, 28, 28)
    cols = math.ceil(len(images) / rows)
    fig, axes = plt.subplots(rows, cols, figsize=(size * cols + (1 if row_labels else 0), size * rows + 0.3),
                             squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.set_xticks([])
        ax.set_yticks([])
        if i >= len(images):
            ax.axis("off")
            continue
        ax.imshow(images[i], cmap=cmap, vmin=vmin, vmax=vmax)
        if titles is not None:
            ax.set_title(titles[i], fontsize=8, color=title_colors[i] if title_colors else "black")
    if row_labels:
        for ax, label in zip(axes[:, 0], row_labels):
            ax.set_ylabel(label, rotation=0, ha="right", va="center", fontsize=8)
    fig.tight_layout()
    return _finished(fig)


def adversarial_examples(examples: pd.DataFrame, images: Mapping[tuple[str, str], torch.Tensor],
                         clean: torch.Tensor) -> plt.Figure:
    """Clean images (top row, with their labels) and adversarial versions, one row per (model, attack).

    ``examples`` has one row per (model, attack, image) with the label, the
    prediction and the perturbation size; ``images`` maps (model, attack) to the
    adversarial images (see :func:`genrob.evaluate.adversarial_examples`).
    Titles give the prediction, red with the perturbation size where it is wrong.
    """
    keys = list(images)
    first = examples.drop_duplicates("image").sort_values("image")
    labels = [f"label {v}" for v in first["label"]]
    pictures, colours = list(clean), ["black"] * len(labels)
    for model, attack in keys:
        part = examples[(examples["model"] == model) & (examples["attack"] == attack)]
        for r in part.itertuples():
            pictures.append(images[(model, attack)][r.image])
            fooled = r.prediction != r.label
            colours.append("red" if fooled else "black")
            labels.append(f"{r.prediction} ({r.size:.2f})" if fooled else f"{r.prediction}")
    return image_grid(torch.stack(pictures), titles=labels, title_colors=colours, rows=len(keys) + 1,
                      row_labels=["clean"] + [f"{m}\n{a}" for m, a in keys], size=1.1)


# --- robustness curves ----------------------------------------------------------

def robustness_curves(results: pd.DataFrame, *, paper: pd.DataFrame | None = None,
                      attacks: Sequence[str] | None = None, cols: int = 5) -> plt.Figure:
    """Robust accuracy against eps, one panel per attack, one line per model.

    Generative models are solid lines with circles, discriminative ones dashed
    with squares; the band is the 95% interval. The paper's values, where given
    (``paper``: a :func:`genrob.paper.compare_with_paper` table), are crosses.
    """
    attacks = [a for a in (attacks or ATTACKS) if a in set(results["attack"])]
    rows = math.ceil(len(attacks) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.0 * cols, 2.7 * rows), squeeze=False, sharey=True)
    colours = {m: f"C{i}" for i, m in enumerate(dict.fromkeys(results["model"]))}
    for ax, attack in zip(axes.flat, attacks):
        part = results[results["attack"] == attack]
        for model, curve in part.groupby("model", sort=False):
            curve = curve.sort_values("eps")
            eps = np.concatenate([[0.0], curve["eps"].to_numpy()])
            acc = np.concatenate([[curve["clean_accuracy"].iloc[0]], curve["robust_accuracy"].to_numpy()])
            ax.plot(eps, acc, color=colours[model], label=model, markersize=3.5, **_style(curve["kind"].iloc[0]))
            ax.fill_between(curve["eps"], curve["robust_ci_low"], curve["robust_ci_high"],
                            color=colours[model], alpha=0.15, linewidth=0)
            if paper is not None:
                theirs = paper[(paper["attack"] == attack) & (paper["model"] == model)]
                ax.plot(theirs["eps"], theirs["paper"], "x", color=colours[model], markersize=7, mew=2)
        cls = get_attack_class(attack)
        ax.set_title(f"{attack}", fontsize=9)
        ax.set_xlabel(f"eps ({cls.norm})", fontsize=8)
        ax.set_ylim(-0.03, 1.03)
        ax.grid(alpha=0.3)
    for ax in axes.flat[len(attacks):]:
        ax.axis("off")
    for ax in axes[:, 0]:
        ax.set_ylabel("accuracy")
    handles, names = axes.flat[0].get_legend_handles_labels()
    if paper is not None:
        handles.append(plt.Line2D([], [], marker="x", linestyle="", color="0.3", mew=2))
        names.append("paper (Tables 1-2)")
    per_row = 7  # the whole study has fourteen names: two rows
    fig.legend(handles, names, loc="lower center", ncol=min(len(names), per_row), frameon=False, fontsize=9,
               bbox_to_anchor=(0.5, -0.02))
    fig.tight_layout(rect=(0, 0.05 * math.ceil(len(names) / per_row), 1, 1))
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

    Generative models' names are in bold; the worst case carries its 95% interval.
    """
    fig, ax = plt.subplots(figsize=(max(6.0, 0.75 * len(verdicts)), 3.4))
    x = np.arange(len(verdicts))
    width = 0.27
    ax.bar(x - width, verdicts["paper"], width, color="0.75", label="paper (its strongest attack)")
    ax.bar(x, verdicts["ours_paper_attacks"], width, color="C0", label="ours, the paper's attacks")
    worst = verdicts["worst_case"]
    ax.bar(x + width, worst, width, color="C3", label="ours, worst case over every attack",
           yerr=[worst - verdicts["worst_ci_low"], verdicts["worst_ci_high"] - worst], capsize=2, ecolor="0.3")
    ax.set_xticks(x, verdicts["model"], rotation=35, ha="right", fontsize=8)
    for label, kind in zip(ax.get_xticklabels(), verdicts["kind"]):
        label.set_fontweight("bold" if kind == "generative" else "normal")
    ax.set_ylabel(f"robust accuracy, l_inf eps {eps:g}")
    ax.set_ylim(0, 1.05)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=8, loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=3, frameon=False)  # above the bars
    fig.tight_layout()
    return _finished(fig)


def pairwise_worst_case(worst: pd.DataFrame, pairs: Sequence[tuple[str, str]], *, norm: str = "linf",
                        cols: int = 4, names: Mapping[str, str] | None = None) -> plt.Figure:
    """The question of the study, one panel per pair: worst-case robust accuracy against eps of a
    generative model (red, solid, circles) beside its discriminative counterpart (blue, dashed, squares),
    each with its 95% band, from clean accuracy at eps 0; the panel's title names the two and n.
    ``worst``: rows of :func:`genrob.adaptive.worst_case` (model, norm, eps, n, clean_accuracy,
    worst_case_accuracy, ci_low, ci_high); pairs with no rows are left out; ``names`` maps code names
    to what a reader calls them."""
    names = names or {}
    part = worst[worst["norm"] == norm]
    pairs = [(a, b) for a, b in pairs if {a, b} <= set(part["model"])]
    if not pairs:
        raise ValueError(f"no pair of models with {norm} worst-case rows")
    columns = min(cols, len(pairs))
    rows = math.ceil(len(pairs) / columns)
    fig, axes = plt.subplots(rows, columns, figsize=(3.3 * columns, 3.0 * rows + 0.5), squeeze=False, sharey=True)
    for ax, pair in zip(axes.flat, pairs):
        for model, colour, kind in zip(pair, ("C3", "C0"), ("generative", "discriminative")):
            curve = part[part["model"] == model].sort_values("eps")
            eps = np.concatenate([[0.0], curve["eps"].to_numpy()])
            acc = np.concatenate([[curve["clean_accuracy"].iloc[0]], curve["worst_case_accuracy"].to_numpy()])
            ax.plot(eps, acc, color=colour, label=names.get(model, model), markersize=4, **_style(kind))
            ax.fill_between(curve["eps"], curve["ci_low"], curve["ci_high"], color=colour, alpha=0.18, linewidth=0)
        n = int(part[part["model"] == pair[0]]["n"].iloc[0])
        ax.set_title(f"{names.get(pair[0], pair[0])}\nagainst {names.get(pair[1], pair[1])} (n = {n})", fontsize=9)
        ax.set_ylim(-0.03, 1.03)
        ax.set_xlabel(f"eps ({'l∞' if norm == 'linf' else 'l2'})", fontsize=9)
        ax.grid(alpha=0.3)
    for ax in axes.flat[len(pairs):]:
        ax.axis("off")
    for ax in axes[:, 0]:
        ax.set_ylabel("worst-case accuracy", fontsize=9)
    handles = [plt.Line2D([], [], color="C3", **GENERATIVE_STYLE), plt.Line2D([], [], color="C0", **DISCRIMINATIVE_STYLE),
               plt.Rectangle((0, 0), 1, 1, color="0.5", alpha=0.3)]
    fig.legend(handles, ["generative model", "discriminative counterpart", "95% interval"], loc="lower center",
               ncol=3, frameon=False, fontsize=9)
    fig.tight_layout(rect=(0, 0.5 / (3.0 * rows + 0.5), 1, 1))
    return _finished(fig)


FINDING_COLOURS = {"stands": "C2", "weakened": "C1", "overturned": "C3", "undecided at this n": "0.55",
                   "no shared images": "0.8"}


def claims_dots(claims: pd.DataFrame) -> plt.Figure:
    """The paper's claims (:func:`genrob.adaptive.claims`) at a glance: per claim and norm, the worst
    case of the model it favours (filled) and of the other (open), with 95% intervals, coloured by finding."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 0.32 * claims["claim"].nunique() + 1.4), sharey=True)
    order = list(dict.fromkeys(claims["claim"]))
    for ax, norm in zip(axes, ("linf", "l2")):
        part = claims[claims["norm"] == norm]
        for row in part.itertuples():
            y = order.index(row.claim)
            colour = FINDING_COLOURS[row.finding]
            for value, interval, filled, shift in ((row.model_worst, row.model_ci, True, -0.15),
                                                  (row.than_worst, row.than_ci, False, 0.15)):
                # Clipped at 0: a Wilson bound of 0 or 1 may sit a rounding error inside the value.
                error = [[max(0.0, value - interval[0])], [max(0.0, interval[1] - value)]]
                ax.errorbar(value, y + shift, xerr=error, fmt="o",
                            color=colour, mfc=colour if filled else "white", ms=5, capsize=2, lw=1)
        eps = part["eps"].iloc[0] if len(part) else float("nan")
        ax.set_title(f"{'l_inf' if norm == 'linf' else 'l_2'} eps {eps:g}", fontsize=9)
        ax.set_xlim(-0.03, 1.03)
        ax.set_xlabel("worst-case robust accuracy")
        ax.grid(axis="x", alpha=0.3)
    axes[0].set_yticks(range(len(order)), order, fontsize=7)
    axes[0].invert_yaxis()
    handles = [plt.Line2D([], [], color=c, marker="o", ls="", label=f) for f, c in FINDING_COLOURS.items()
               if f in set(claims["finding"])]
    handles += [plt.Line2D([], [], color="0.4", marker="o", ls="", label="model the paper favours"),
                plt.Line2D([], [], color="0.4", marker="o", mfc="white", ls="", label="the other")]
    fig.legend(handles=handles, loc="lower center", ncol=5, fontsize=8, frameon=False)
    fig.tight_layout(rect=(0, 0.06, 1, 1))
    return _finished(fig)


def cost_against_flops(bench: pd.DataFrame, *, reference: str = "cnn", tolerance: float = 1.25) -> plt.Figure:
    """Each model's PGD-40 time against its forward FLOPs, both relative to ``reference``, log-log
    (:func:`genrob.cost.benchmark`). On the diagonal a model costs what its arithmetic says;
    above the dotted line it costs more than ``tolerance`` times that. Models the FLOP counter
    sees no work in (it counts matrix products and convolutions only) are left out."""
    bench = bench[bench["flop_ratio_to_cnn"] > 0]
    fig, ax = plt.subplots(figsize=(6.0, 4.2))
    flops, time = bench["flop_ratio_to_cnn"], bench["pgd_ratio_to_cnn"]
    for model in bench.index:
        kind = bench.loc[model, "kind"]
        ax.plot(flops[model], time[model], marker=_style(kind)["marker"], ls="",
                color="C0" if kind == "generative" else "C1")
        ax.annotate(model, (flops[model], time[model]), fontsize=7, xytext=(4, 2), textcoords="offset points")
    low, high = min(flops.min(), time.min()) / 2, max(flops.max(), time.max()) * 2
    line = np.array([low, high])
    ax.plot(line, line, color="0.4", lw=1, label="costs what its FLOPs say")
    ax.plot(line, tolerance * line, color="0.4", lw=1, ls=":", label=f"{tolerance:g} times that")
    ax.set(xscale="log", yscale="log", xlim=(low, high), ylim=(low, high),
           xlabel=f"forward FLOPs per image / {reference}'s", ylabel=f"PGD-40 seconds per image / {reference}'s")
    handles = ax.get_legend_handles_labels()[0]
    handles += [plt.Line2D([], [], color="C0", marker="o", ls="", label="generative"),
                plt.Line2D([], [], color="C1", marker="s", ls="", label="discriminative")]
    ax.legend(handles=handles, fontsize=8, frameon=False, loc="upper left")
    ax.grid(alpha=0.3, which="both")
    fig.tight_layout()
    return _finished(fig)
