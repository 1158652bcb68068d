import pandas as pd
from genrob import adaptive, cost
from genrob.adaptive import CASCADE
rows = []
for family in ["naive_bayes", "mixture", "markov_random_field", "vae", "reference", "conv_vae"]:
    ev = adaptive.evaluate_family(family, profile="default")
    every = adaptive.every_image_runs(family, profile="default")
    s = cost.cascade_saving(ev.results, every)
    casc = ev.results[(ev.results["images"] != "all") & ev.results["attack"].isin(CASCADE)]
    for model, r in s.iterrows():
        c = casc[casc.model == model]; e = every[every.model == model]
        ce = c.gradient_evals.sum() + c.forward_evals.sum(); ee = e.gradient_evals.sum() + e.forward_evals.sum()
        rows.append(f"| {model} | {int(r['gradients with the cascade']):,} / {int(r['gradients without']):,} ({r['gradients saved']:.0%}) "
                    f"| {int(r['forwards with the cascade']):,} / {int(r['forwards without']):,} ({r['forwards saved']:.0%}) "
                    f"| {int(ce):,} / {int(ee):,} ({1 - ce / ee:.0%}) |")
print("| model | worst case, gradients: with / without the cascade (saved) | forward passes: with / without (saved) | the cascade's attacks alone, all evaluations: with / without (saved) |")
print("|---|---|---|---|")
print("\n".join(rows))
