"""Attack seconds of the three CNN-VAEs' adaptive evaluation (n = 30) on the cells two results tables share:
the AMD EPYC's default store against the H200 with chunks of 100, and the H200 with chunks of 5 against
chunks of 100 (issue 22 point 7). Run from the repository root: python docs/measurements/gpu-2026-11-27/compare.py"""
from pathlib import Path

import pandas as pd

from genrob.cost.throughput import machine_comparison

here = Path(__file__).parent
models = ["cnn_vae", "cnn_vae_binary", "cnn_vae_crf"]
store = pd.read_csv("evidence/default/results.csv").query("model in @models")
chunks_of_5 = pd.read_csv(here / "h200-results-n30-cut-off.csv")
chunks_of_100 = pd.read_csv(here / "h200-chunks-of-100-results-n30.csv")
for title, first, second in (("AMD EPYC, 2 threads (default store) / H200, chunks of 100", store, chunks_of_100),
                             ("H200, chunks of 5 / H200, chunks of 100", chunks_of_5, chunks_of_100)):
    table = machine_comparison(first, second)
    print(title)
    print(table[["first_seconds", "second_seconds", "speed_up"]].round(2).to_string())
    print(f"all three: {table.first_seconds.sum():.0f} / {table.second_seconds.sum():.0f} s, "
          f"{table.first_seconds.sum() / table.second_seconds.sum():.1f} times faster\n")
