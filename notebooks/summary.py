# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # The study at a glance
#
# Every model of the study {cite}`chan_exploring` under the paper's ten attacks,
# in the shape of the paper's own tables and figures: Tables 1 and 2 ($l_\infty$
# at eps 0.3 and 0.5) with our number, the paper's and the difference in each
# cell, the same for $l_2$ at eps 2 and 5 (which the paper shows only in a
# figure), its Figure 4 with every model in every panel, its Table 3 (what the
# attacks cost) for every model, and its Figures 5 and 7, one digit under a
# growing perturbation; then the paper's conclusions, one by one, against the
# worst case of the adaptive chapter, and what the whole study cost. Each
# model's numbers come from its family's chapter, from the sweep with the most
# test images (the `n` column); the chapters say how each model was built and
# what its numbers mean.

# %% tags=["parameters", "hide-input"]
profile = "smoke"  # "smoke" (seconds, for tests), "default" (the book), "extended" (a day on a CPU), "full" (GPU)
seed = 0

# %% tags=["hide-input"]
import pandas as pd
import torch
from IPython.display import Markdown, display

from genrob import adaptive, chapter, claims, cost, paper, plots, summary
from genrob.data import load_mnist
from genrob.models import load_model
from genrob.names import family_name, model_name

chapter.start(profile, seed=seed, namespace=globals())
data = load_mnist()
results = summary.run_study(profile, seed=seed, data=data)

# %% tags=["nbval-ignore-output", "hide-input"]
display(Markdown(chapter.results_provenance(results, book=True)))

# %% [markdown]
# ## The paper's Table 1: $l_\infty$ attacks at eps 0.3
#
# Per model and attack: our robust accuracy with its 95% interval and, below it,
# the paper's number where it reports one. Models in the paper's order; the
# conditional VAE's "prototype rule" is the paper's own way of classifying with
# it, the plain conditional VAE the principled one (see the VAE chapter).

# %% tags=["hide-input"]
summary.paper_table(results, norm="linf", eps=0.3)

# %% [markdown]
# ## The paper's Table 2: $l_\infty$ attacks at eps 0.5

# %% tags=["hide-input"]
summary.paper_table(results, norm="linf", eps=0.5)

# %% [markdown]
# ## $l_2$ attacks at eps 2 and 5
#
# The paper reports no $l_2$ numbers in its tables, so its columns are blank.

# %% tags=["hide-input"]
summary.paper_table(results, norm="l2", eps=2.0)

# %% tags=["hide-input"]
summary.paper_table(results, norm="l2", eps=5.0)

# %% [markdown]
# ## The paper's Figure 4: every model under every attack
#
# Robust accuracy against eps, one figure per family so that each model keeps a
# colour of its own; generative models solid with circles, discriminative ones
# dashed with squares, bands the 95% intervals, crosses the paper's numbers from
# its tables.

# %% mystnb={"figure": {"caption": "The paper's Figure 4, one figure per family: robust accuracy against eps under each of the paper's attacks, a panel per attack and a colour per model (generative models solid with circles, discriminative ones dashed with squares); shaded bands are 95% intervals, crosses the paper's numbers; attacks with the same curves share a panel."}} tags=["hide-input"]
comparison = paper.compare_with_paper(results)
for family, rows in summary.by_family(results).items():
    display(plots.robustness_curves(rows, paper=comparison, title=family_name(family)))

# %% [markdown]
# ## The paper's Table 3: what the attacks cost, for every model
#
# Seconds per test image of the ten attacks over their whole eps grids, as the
# sweeps measured them (one thread; `n` images per sweep), and each model's
# cost against the CNN's: over all ten attacks, over the four the paper timed,
# the paper's own ratio for those four (it timed only the CNN-VAE and the CNN),
# and the ratio of the FLOPs of one forward pass (from the benchmark below).

# %% tags=["nbval-ignore-output", "hide-input"]
benchmark = cost.benchmark_table(profile)
runtimes = cost.runtimes_per_image(results, mflops=benchmark["mflops_per_image"])
cost.runtime_overview(runtimes).round(3)

# %% [markdown]
# Where each model's time goes, attack by attack:

# %% mystnb={"figure": {"caption": "Seconds per test image of each of the paper's ten attacks over its eps grid, per model, as the sweeps measured them on one thread (darker: costlier, on a logarithmic scale)."}} tags=["nbval-ignore-output", "hide-input"]
plots.attack_seconds(runtimes)

# %% [markdown]
# A sweep's time mixes a model's speed with how hard it is to fool (a search
# stops when every image is fooled; a robust model keeps it going). The
# benchmark (`make bench`, read here from its table, or run once if missing)
# separates the two: per model, its FLOPs per image, its images per second for
# a forward pass and with the input gradient at its sweeps' batch size (and the
# ratio of those two times against the Gaussian CNN-VAE's: the three CNN-VAEs
# share its decoder, so a ratio well above 1 is a backward pass computing with
# subnormal floats), the GFLOP/s that achieves beside this machine's own
# matrix-multiply rate, and PGD-40, which takes the same 40 steps on every image. A model on the diagonal
# below costs what its arithmetic demands; one far above it spends time on
# overheads (Python loops, small batches, memory traffic).

# %% tags=["nbval-ignore-output", "hide-input"]
overview, measured_on = cost.benchmark_overview(benchmark)
display(Markdown(measured_on))
display(overview.round(3))

# %% mystnb={"figure": {"caption": "Each model's PGD-40 time per image against its forward FLOPs, both relative to the CNN's, on log scales: on the diagonal a model costs what its arithmetic says, above the dotted line more."}} tags=["nbval-ignore-output", "hide-input"]
plots.cost_against_flops(benchmark)

# %% [markdown]
# ## The paper's Figures 5 and 7: one digit, a growing perturbation
#
# The first test digit under an $l_2$ FGM step of growing size, made on each
# model's own gradient, and each model's prediction (red where wrong). A
# generative model whose image does not change has no gradient at that digit:
# its softmax is saturated.

# %% mystnb={"figure": {"caption": "The paper's Figure 5: one test digit under an l2 FGM step of growing size on each model's own gradient, a row per model, titled with eps and the prediction (red where wrong)."}} tags=["hide-input"]
models = {name: load_model(name, profile, data=data) for name in dict.fromkeys(results["model"])}
digit = data.test.x[:1], data.test.y[:1]
eps_grid = [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]
walked, predictions = summary.fgm_walk(models, *digit, eps_grid=eps_grid, profile=profile)
wrong = (predictions["prediction"] != int(digit[1][0])).tolist()
plots.image_grid(walked, titles=[f"eps {e:g}: {p}" for e, p in zip(predictions["eps"], predictions["prediction"])],
                 title_colors=["red" if w else "black" for w in wrong], rows=len(models),
                 row_labels=[model_name(m) for m in models], size=1.0)

# %% [markdown]
# The same digit blurred with a growing standard deviation (in pixels), as the
# blur attack makes it: the same images for every model. Below them, each
# model's prediction; a column's heading is the blur's width and, in brackets,
# its $l_\infty$ size.

# %% mystnb={"figure": {"caption": "The same digit under Gaussian blur of growing width (in pixels), the same images for every model."}} tags=["hide-input"]
blurred, blur_predictions = summary.blur_walk(models, digit[0], widths=[0.0, 0.5, 1.0, 1.5, 2.0, 3.0])
plots.image_grid(blurred, titles=[f"width {w:g}" for w in blur_predictions["width"].unique()], size=1.2)

# %% tags=["hide-input"]
summary.walk_table(blur_predictions)

# %% [markdown]
# ## Findings
#
# The paper's conclusions compare models, pair by pair. Each is judged in both
# norms at every eps of the adaptive grids, on the worst case over the paper's
# attacks and the adaptive ones (read from the adaptive chapter, which explains
# them), image by image on the test images both models saw, against a margin of
# 0.05 with the tests of one claim and norm corrected together: it *stands* at an
# eps, is *overturned* there, reads *equal* there (which counts against a claim
# that one model is more robust), or is *undecided at this n*, with the number of
# shared images that would decide it at the observed rates.

# %% mystnb={"figure": {"caption": "The paper's claims over the curve: per claim and norm, the worst-case difference between the model the claim favours and the other on the images both saw, with its 95% interval, at each eps (top to bottom: smallest to largest), coloured by the finding there; the grey band is the margin of equality."}} tags=["hide-input"]
evidence = [adaptive.evaluate_family(family, profile=profile, seed=seed, data=data)
            for family in adaptive.families_to_evaluate()]
findings = chapter.judged_claims(evidence, profile=profile)
plots.claims_forest(findings, margin=claims.MARGIN)

# %% tags=["hide-input"]
claims.table(claims.curves(findings))

# %% [markdown]
# ## What the study cost, and what the full profile would
#
# Per model: its training time, the time of every attack run for this book
# (family chapters, adaptive evaluation and its checks, each on one thread),
# those attacks' cost per test image (a cell run at several n counted once), and
# what training plus the same attacks on all test images would take on this
# machine's one thread, the measure for planning a `full` run. The times are
# wall times as recorded: runs that shared the cores with others, or ran before
# a speed-up, took longer than a run alone would, so the sums are upper bounds.
# A GPU divides the attack part by its speed-up over one CPU thread.

# %% tags=["nbval-ignore-output", "hide-input"]
costs = cost.study_cost(profile, seed=seed)
display(Markdown(cost.cost_summary(costs, profile=profile)))
costs.round(1)

# %% [markdown]
# What the exact solvers of the adaptive chapter ("How far from the truth")
# cost: per model and budget, their seconds per test image (wall time), and
# how many images a solver call's time limit left undecided.

# %% tags=["nbval-ignore-output", "hide-input"]
solver_costs = cost.exact_cost(profile)
display(Markdown(cost.exact_cost_summary(solver_costs)))
solver_costs

# %% [markdown]
# ## The answer
#
# Each generative model's worst case against eps beside its discriminative
# counterpart's ($l_\infty$, then $l_2$), with 95% bands: the one view that
# answers the question. The sentences under it are written by the code from the
# same evidence, so they hold for the profile named at the top of this page.

# %% mystnb={"figure": {"caption": "Worst-case accuracy against l\u221e eps of each generative model (red, solid) beside its discriminative counterpart (blue, dashed), from clean accuracy at eps 0, with 95% bands, on the images both saw."}} tags=["hide-input"]
pairs = chapter.study_pairs(evidence)
worst = pd.concat([family.worst_case for family in evidence])
plots.pairwise_worst_case(worst, pairs, norm="linf")

# %% mystnb={"figure": {"caption": "Worst-case accuracy against l2 eps of each generative model (red, solid) beside its discriminative counterpart (blue, dashed), from clean accuracy at eps 0, with 95% bands, on the images both saw."}} tags=["hide-input"]
plots.pairwise_worst_case(worst, pairs, norm="l2")

# %% tags=["hide-input"]
chapter.study_pair_table(evidence)

# %% tags=["hide-input", "findings"]
display(Markdown(chapter.adaptive_findings(evidence, adaptive.verdicts(evidence), findings)))
