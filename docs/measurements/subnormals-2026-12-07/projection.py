"""What the `extended` evidence's attacks on the binary and CRF CNN-VAEs would have taken on CPUs with the
gradients scaled (issue 51): each stored row computed on a CPU, its wall time split by its own counts of
forward passes and gradients, each priced at the per-image times measured before and after the change
(gradient_cost-before.txt and -after.txt, one thread, the same Intel Xeon). Rows computed on a GPU are left as they are (GPUs
compute subnormals at full speed). Run from the repository root.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

FOLDER = Path(__file__).parent


def measured(name: str) -> pd.DataFrame:
    """gradient_cost-<name>.txt's Markdown table, by model."""
    lines = [line for line in (FOLDER / f"gradient_cost-{name}.txt").read_text().splitlines() if line.startswith("| ")]
    header, *body = [[cell.strip() for cell in line.strip("|").split("|")] for line in lines]
    return pd.DataFrame([row for row in body if not row[0].startswith("---")], columns=header).set_index("model")


before_table, after_table = measured("before"), measured("after")
FORWARD, WITH_GRADIENT = "forward, ms per image", "forward + gradient, ms per image"
#: ms per image: (forward, forward + gradient before, forward + gradient after).
MEASURED = {model: (float(before_table.loc[model, FORWARD]), float(before_table.loc[model, WITH_GRADIENT]),
                    float(after_table.loc[model, WITH_GRADIENT])) for model in ("cnn_vae_binary", "cnn_vae_crf")}

results = pd.read_csv("evidence/extended/results.csv")
rows = results[results["model"].isin(MEASURED) & ~results["machine"].fillna("").str.contains("NVIDIA")]
rows = rows.drop_duplicates(["model", "attack", "attack_config", "norm", "eps", "n", "images"])
before, after = 0.0, 0.0
for model, (forward, gradient_before, gradient_after) in MEASURED.items():
    mine = rows[rows["model"] == model]
    # One attack run's wall time covers every eps of a search (its rows repeat it): count it once.
    runs = mine.drop_duplicates(["attack", "attack_config", "wall_time_s", "forward_evals", "gradient_evals"])
    priced_before = runs["forward_evals"] * forward + runs["gradient_evals"] * gradient_before
    priced_after = runs["forward_evals"] * forward + runs["gradient_evals"] * gradient_after
    share = (priced_after / priced_before).where(priced_before > 0, 1.0)
    model_before, model_after = runs["wall_time_s"].sum(), (runs["wall_time_s"] * share).sum()
    before, after = before + model_before, after + model_after
    print(f"{model}: {len(runs)} CPU runs, {model_before / 3600:.2f} h as stored, {model_after / 3600:.2f} h "
          f"with the gradients scaled")
all_hours = results.drop_duplicates(["model", "attack", "attack_config", "wall_time_s", "forward_evals",
                                     "gradient_evals"])["wall_time_s"].sum() / 3600
print(f"both: {before / 3600:.2f} h -> {after / 3600:.2f} h, of the store's {all_hours:.2f} h of attacks")
