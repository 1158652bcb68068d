"""The paper's reported numbers (cited data, never typed into the book) beside ours."""

from __future__ import annotations

from importlib import resources

import pandas as pd

from genrob.models import get_spec
from genrob.names import attack_name, model_name
from genrob.results import fraction_text

CITATION = "chan_exploring"


def _read(name: str) -> pd.DataFrame:
    with resources.files("genrob.paper_data").joinpath(name).open() as handle:
        return pd.read_csv(handle)


def paper_robustness() -> pd.DataFrame:
    """Tables 1 and 2 of the paper: robust accuracy per (model, attack, eps)."""
    table = _read("paper_tables.csv")
    return table[table["table"].isin([1, 2])].reset_index(drop=True)


def paper_runtimes() -> pd.DataFrame:
    """Table 3 of the paper: attack run time in seconds (n and hardware not stated)."""
    table = _read("paper_tables.csv")
    return table[table["table"] == 3].reset_index(drop=True)


def paper_claims() -> pd.DataFrame:
    """The comparative conclusions of the paper's Section 4, one row per pair of models (our wording)."""
    return _read("paper_claims.csv")


def paper_clean_accuracy() -> pd.DataFrame:
    """Clean accuracies stated in the paper's text."""
    return _read("paper_clean_accuracy.csv")


#: Where the MNIST challenge's numbers come from (bibliography key).
MNIST_CHALLENGE_CITATION = "mnist_challenge"


def mnist_challenge() -> pd.DataFrame:
    """Madry et al.'s PGD-trained CNN at l_inf eps 0.3 under each attack of their white-box
    leaderboard (a subset: the best submissions and every initial entry), strongest first."""
    table = _read("mnist_challenge.csv").assign(norm="linf", eps=0.3)
    return table.sort_values("robust_accuracy", kind="stable").reset_index(drop=True)


def compare_with_paper(results: pd.DataFrame) -> pd.DataFrame:
    """Our robust accuracy beside the paper's, wherever the paper reports the cell.

    One row per (model, attack, eps) that both have; ``difference`` is ours minus
    the paper's, and ``paper_inside_ci`` says whether the paper's value lies in our
    95% interval.
    """
    ours = results.assign(paper_model=results["model"].map(lambda m: get_spec(m).paper_name))
    paper = paper_robustness().rename(columns={"robust_accuracy": "paper"})
    paper["eps"] = paper["eps"].astype(float)
    merged = ours.merge(paper[["paper_model", "attack", "eps", "paper"]], on=["paper_model", "attack", "eps"])
    merged = merged.dropna(subset=["paper"])
    out = merged[["model", "attack", "eps", "n", "robust_accuracy", "robust_ci_low", "robust_ci_high", "paper"]]
    out = out.rename(columns={"robust_accuracy": "ours"})
    out = out.assign(difference=out["ours"] - out["paper"],
                     paper_inside_ci=(out["paper"] >= out["robust_ci_low"]) & (out["paper"] <= out["robust_ci_high"]))
    return out.reset_index(drop=True)


def comparison_table(comparison: pd.DataFrame) -> pd.DataFrame:
    """:func:`compare_with_paper` as a reader reads it: per model, attack and eps (by name), n, ours with
    its 95% interval, the paper's, and whether the paper's lies inside our interval."""
    return pd.DataFrame({
        "n": comparison["n"].to_numpy(),
        "ours [95%]": [fraction_text(a, n) for a, n in zip(comparison["ours"], comparison["n"])],
        "paper": comparison["paper"].round(3).to_numpy(),
        "paper inside ours": comparison["paper_inside_ci"].map({True: "yes", False: "no"}).to_numpy(),
    }, index=pd.MultiIndex.from_arrays([comparison["model"].map(model_name), comparison["attack"].map(attack_name),
                                        comparison["eps"]], names=["model", "attack", "eps"]))
