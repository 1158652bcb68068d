"""The whole study in a few tables: every model's numbers under the paper's ten attacks.

Each model was attacked in its family's chapter, some in two (the CNN is also the
MRF family's counterpart). The summary takes, for each model, the sweep with the
most images among those that ran all of the paper's attacks, so its numbers carry
the narrowest intervals the book has.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import pandas as pd
import torch
from scipy.ndimage import gaussian_filter
from torch import nn

from genrob import evaluate
from genrob.attacks import ATTACKS, PAPER_ATTACKS, attack_config_hash, make_attack, norm_of
from genrob.contract import model_device, predict
from genrob.data import MNIST
from genrob.models import get_spec, model_names
from genrob.models.registry import families
from genrob.paper import paper_robustness
from genrob.params import sweep_config
from genrob.profiles import PAPER_L2_EPS, PAPER_LINF_EPS, get_profile
from genrob.names import attack_name, model_name
from genrob.results import fraction_text, read_results

#: The paper's model order (its Tables 1 and 2), by paper name.
PAPER_ORDER = ("Logistic Regression", "Gaussian NB", "GMM", "Vanilla NN", "VAE Classifier",
               "VAE Classifier Pre-trained", "CVAE", "Convolutional NN", "CNN VAE", "CNN Binary",
               "CNN VAE Binary", "CNN VAE + CRF", "CNN+MRF", "MRF")


def study_results(profile, *, seed: int = 0, results: pd.DataFrame | None = None) -> pd.DataFrame:
    """Per model, the rows of the paper's ten attacks from its most precise complete sweep.

    A sweep is one (model, n, seed) of the current model and attack configurations;
    it is complete when all ten attacks ran on their whole eps grid. Models
    with no complete sweep are left out (their chapter has not run on ``profile``).
    """
    profile = get_profile(profile)
    table = read_results(profile) if results is None else results
    table = current_rows(table[table["attack"].isin(PAPER_ATTACKS)], profile, seed=seed)
    # The paper's grid only, so that extra eps a reader ran change nothing here.
    grid = {"linf": PAPER_LINF_EPS, "l2": PAPER_L2_EPS}
    on_grid = [eps in grid[norm] for norm, eps in zip(table["norm"], table["eps"])]
    table = table[pd.Series(on_grid, index=table.index, dtype=bool)]  # a plain empty list would select columns
    cells = sum(len(grid[norm_of(a)]) for a in PAPER_ATTACKS)
    kept = []
    study = families(study_only=True)
    for model in study_order(m for m in table["model"].unique() if get_spec(m).family in study):
        rows = table[table["model"] == model]
        sizes = rows.groupby("n").apply(lambda r: len(set(zip(r["attack"], r["eps"]))), include_groups=False)
        complete = sizes[sizes == cells]
        if len(complete):
            kept.append(rows[rows["n"] == complete.index.max()])
    if not kept:
        return table.iloc[0:0]
    # Sorted, so that the tables and figures do not depend on which chapter wrote its rows first.
    order = {a: i for i, a in enumerate(PAPER_ATTACKS)}
    out = pd.concat([rows.sort_values(["attack", "eps"], key=lambda c: c.map(order) if c.name == "attack" else c,
                                      kind="stable") for rows in kept], ignore_index=True)
    out["paper_model"] = out["model"].map(lambda m: get_spec(m).paper_name)
    return out


def current_rows(table: pd.DataFrame, profile, *, seed: int) -> pd.DataFrame:
    """The rows of today's models and attacks at ``seed``: the table keeps earlier configurations too."""
    profile = get_profile(profile)
    table = table[table["attack"].isin(list(ATTACKS)) & table["model"].isin(model_names())]
    current_attack = {a: attack_config_hash(make_attack(a, profile)) for a in set(table["attack"])}
    current_model = {m: get_spec(m).config_hash(profile) for m in set(table["model"])}
    return table[(table["seed"] == seed) & (table["attack_config"] == table["attack"].map(current_attack))
                 & (table["model_config"] == table["model"].map(current_model))]


def run_study(profile, *, seed: int = 0, data: MNIST | None = None) -> pd.DataFrame:
    """Every family chapter's sweep of the paper's attacks (read from the results table, or run
    where missing), then :func:`study_results`. The adversarially trained reference is not part
    of the paper's study and stays in the adaptive chapter."""
    for family in families(study_only=True):
        evaluate.sweep(sweep_config(profile=profile, family=family, seed=seed), data=data)
    return study_results(profile, seed=seed)


def study_order(models) -> list[str]:
    """The study's models in the paper's order, those the paper does not name last."""
    rank = {name: i for i, name in enumerate(PAPER_ORDER)}
    return sorted(dict.fromkeys(models), key=lambda m: rank.get(get_spec(m).paper_name, len(rank)))


def by_family(results: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """``results`` split by the family each model belongs to, in the book's order (families with no rows
    left out): the paper's Figure 4, one figure per family."""
    family = results["model"].map(lambda m: get_spec(m).family)
    return {name: results[family == name] for name in families() if (family == name).any()}


def paper_table(results: pd.DataFrame, *, norm: str, eps: float) -> pd.DataFrame:
    """The paper's Table 1 (``linf``, 0.3) or 2 (0.5), or their ``l2`` analogue: per model (by name, in
    the paper's order) and attack, our robust accuracy with its 95% interval and, on a second line, the
    paper's where it reports one (the book's stylesheet breaks a cell's line)."""
    attacks = [a for a in PAPER_ATTACKS if norm_of(a) == norm]
    ours = results[(results["norm"] == norm) & (results["eps"] == eps) & results["attack"].isin(attacks)]
    paper = paper_robustness().dropna(subset=["robust_accuracy"])
    paper = paper[paper["eps"].astype(float) == eps].set_index(["paper_model", "attack"])["robust_accuracy"]
    columns = {}
    for attack in (a for a in attacks if a in set(ours["attack"])):
        cell = ours[ours["attack"] == attack].set_index("model")
        theirs = {m: paper.get((get_spec(m).paper_name, attack)) for m in cell.index}
        columns[attack_name(attack)] = {
            m: fraction_text(cell.loc[m, "robust_accuracy"], cell.loc[m, "n"])
            + (f"\npaper {theirs[m]:.2f}" if theirs[m] is not None else "") for m in cell.index}
    table = pd.DataFrame(columns)
    table = table.reindex(study_order(table.index))
    table.insert(0, "n", results.groupby("model")["n"].first().reindex(table.index))
    table.index = pd.Index([model_name(m) for m in table.index], name="model")
    return table


def fgm_walk(models: Mapping[str, nn.Module], x: torch.Tensor, y: torch.Tensor, *,
             eps_grid: Sequence[float], profile) -> tuple[torch.Tensor, pd.DataFrame]:
    """The paper's Figure 5: one digit ``x`` (1 x 1 x 28 x 28, label ``y``) under l_2 FGM of growing
    size on each model. Returns the perturbed images (model-major, eps-minor) and a table of
    each model's prediction at each eps."""
    attack = make_attack("fgm_l2", profile)
    images, rows = [], []
    for name, model in models.items():
        device = model_device(model)
        for eps in eps_grid:
            image = x if eps == 0 else attack.generate(model, x.to(device), y.to(device), eps=float(eps),
                                                         device=device).detach().cpu()
            images.append(image[0])
            rows.append({"model": name, "eps": float(eps), "prediction": int(predict(model, image)[0])})
    return torch.stack(images), pd.DataFrame(rows)


def blur_walk(models: Mapping[str, nn.Module], x: torch.Tensor, *,
              widths: Sequence[float]) -> tuple[torch.Tensor, pd.DataFrame]:
    """The paper's Figure 7: one digit blurred with growing standard deviation (in pixels), the
    same images for every model, as the Gaussian blur attack makes them; and each model's
    prediction of each. The l_inf size of each blur is in the table too."""
    blurred = torch.stack([torch.from_numpy(np.clip(gaussian_filter(x[0].numpy(), [0, w, w]), 0.0, 1.0))
                           if w > 0 else x[0] for w in widths])
    sizes = (blurred - x[0]).flatten(1).abs().amax(1)
    rows = [{"model": name, "width": float(w), "linf": float(size), "prediction": int(p)}
            for name, model in models.items()
            for w, size, p in zip(widths, sizes, predict(model, blurred))]
    return blurred, pd.DataFrame(rows)


def walk_table(predictions: pd.DataFrame) -> pd.DataFrame:
    """A :func:`blur_walk` table as model x blur: each prediction, headed by width and l_inf size."""
    sizes = predictions.groupby("width")["linf"].first()
    table = predictions.pivot(index="model", columns="width", values="prediction")
    table = table.reindex(list(dict.fromkeys(predictions["model"])))
    table.columns = [f"{w:g} ({sizes[w]:.2f})" for w in table.columns]
    return table
