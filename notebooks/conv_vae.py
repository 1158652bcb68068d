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
# # Convolutional VAEs against CNNs
#
# The convolutional half of the study's deep models {cite}`chan_exploring`
# takes its generative classifier from {cite:t}`li_2019`: a conditional
# variational autoencoder with convolutional encoder and decoder, which
# classifies an image by how well each class explains it. Three variants differ
# in what they say about pixels: grey levels with Gaussian noise, black-or-white
# pixels drawn independently, and black-or-white pixels that depend on their
# neighbours (a conditional random field). Their discriminative counterparts
# are a CNN with the same encoder, on grey and on binarised images.
#
# This chapter derives the three models, trains all five, measures what a
# prediction costs, runs the paper's ten attacks on every model (Carlini-Wagner
# included, which the paper could not finish on the generative ones), times the
# gradient attacks as the paper's Table 3 did, and attacks the sampling models
# with expectation over transformation.

# %% tags=["parameters", "hide-input"]
profile = "smoke"  # "smoke" (seconds, for tests), "default" (the book), "extended" (a day on a CPU), "full" (GPU)
linf_eps = None  # None: the paper's grid 0.1, 0.2, ..., 0.5
l2_eps = None  # None: the paper's grid 1, 2, ..., 5
n = None  # None: the profile's number of test images per attack
seed = 0
attacks = None  # None: all ten of the paper's attacks
models = None  # None: the three convolutional VAEs and the two CNNs

# %% tags=["hide-input"]
from IPython.display import Markdown, display

from genrob import chapter, checks, cost, evaluate, paper, plots, prose
from genrob.data import load_mnist
from genrob.models import load_model, training_report
from genrob.models.conv_vae import GRAPHS

config = chapter.setup(family="conv_vae", profile=profile, linf_eps=linf_eps, l2_eps=l2_eps,
                       n=n, seed=seed, attacks=attacks, models=models, namespace=globals())

# %% tags=["nbval-ignore-output", "hide-input"]
display(Markdown(chapter.provenance(config)))

# %% [markdown]
# ## Li's generative classifier
#
# Li's model draws a latent code $z \sim \mathcal{N}(0, I)$ of 64 dimensions
# first, then a label from it, then the image from both:
#
# $$
# p(x, y) = \int p(z)\, p(y \mid z)\, p(x \mid z, y)\, dz .
# $$
#
# Compared with the fully connected CVAE of the previous chapter, the label
# depends on the code, so $p(y \mid z)$ (an MLP of 500 units) learns which
# styles go with which digit. The decoder maps $(z, y)$ through an MLP of 500
# units to a $64 \times 4 \times 4$ feature map and three $5 \times 5$
# transposed convolutions up to $28 \times 28$, one value per pixel. The
# encoder $q(z \mid x, y)$ runs three $5 \times 5$ stride-2 convolutions of 64
# channels and a layer of 500 units over the image, joins the label and maps
# through 500 more units to the mean and log-variance of a Gaussian. Training
# maximises the evidence lower bound of $\log p(x, y)$,
#
# $$
# \mathbb{E}_{q(z \mid x, y)}\big[\log p(x \mid z, y) + \log p(y \mid z)\big]
# - \operatorname{KL}\big(q(z \mid x, y)\,\|\,p(z)\big),
# $$
#
# with one reparameterised sample per image, by Adam at Li's learning rate of
# $10^{-4}$ for 20 epochs, keeping the epoch with the best validation ELBO (at
# $10^{-3}$, the rate of our other networks, the Gaussian decoder collapsed to
# one blurred image within the first epoch).
#
# The classifier's logit for class $y$ is an importance-weighted estimate of
# $\log p(x, y)$ with $K = 10$ codes proposed by the encoder {cite}`burda_2016`:
#
# $$
# \text{logit}_y = \log \frac{1}{K} \sum_{k=1}^{K}
# \frac{p(x \mid z_k, y)\, p(y \mid z_k)\, p(z_k)}{q(z_k \mid x, y)},
# \qquad z_k = m(x, y) + s(x, y) \odot \varepsilon_k .
# $$
#
# As in the previous chapter, the draws $\varepsilon_k$ are one fixed set for
# evaluation, shared by every image and class, so the classifier is a
# deterministic function that attacks can differentiate; the last section
# attacks it with fresh draws. A prediction runs the decoder for ten classes
# times ten codes. The convolutions of the encoder run once per image (the label
# joins after them), and all hundred decoder passes go through in one batch.
#
# ## Three likelihoods for the pixels
#
# The decoder's output $u(z, y) \in \mathbb{R}^{784}$ becomes a likelihood in
# one of three ways.
#
# **CNN-VAE** (grey images). $p(x \mid z, y) = \mathcal{N}(x;\ \operatorname{sigmoid}(u), \tfrac12 I)$,
# so that $\log p(x \mid z, y) = -\lVert x - \operatorname{sigmoid}(u) \rVert^2$ plus a
# constant: Li's squared-error likelihood, with its fixed scale. (A first
# version learned $\sigma$, as the previous chapter's CVAE does: $\sigma$ shrank
# to a few hundredths, the ELBO kept rising, and test accuracy stayed below the
# paper's 97%: a sharper density of the pixels, a worse classifier.)
#
# **CNN-VAE-Binary.** The image is thresholded at 0.5 first, and each pixel is
# an independent coin with probability $\operatorname{sigmoid}(u_i)$. The
# threshold has zero gradient almost everywhere; the attacks see it as the
# identity (a straight-through gradient), which is the standard way to attack
# through such a step {cite}`athalye_2018`. The **CNN-Binary** counterpart is
# the CNN behind the same threshold.
#
# **CNN-VAE+CRF.** Independent pixels ignore that strokes are continuous. A
# conditional random field on the pixel grid adds a coupling between
# neighbours, with the decoder's outputs as the unary potentials:
#
# $$
# p(x \mid z, y) = \frac{1}{Z(z, y)} \exp\Big(\sum_i u_i(z, y)\, x_i
# + \sum_{i \sim j} J_{ij}\, x_i x_j\Big), \qquad x \in \{0, 1\}^{784},
# $$
#
# where $i \sim j$ runs over horizontally and vertically adjacent pixels, and
# $J_{ij}$ is one learned number for horizontal pairs and one for vertical
# ones. The normaliser $Z(z, y)$ sums over $2^{784}$ images and changes with
# every code and class: a hundred intractable sums per prediction. We replace
# $\log p(x \mid z, y)$ by the **pseudo-likelihood** {cite}`besag_1975`, the sum
# of each pixel's log-probability given all the others. Only the neighbours
# matter in that conditional, and it is a coin with a closed-form logit:
#
# $$
# \log \mathrm{PL}(x \mid z, y) = \sum_i \log p(x_i \mid x_{\partial i}, z, y),
# \qquad
# p(x_i = 1 \mid x_{\partial i}, z, y) = \operatorname{sigmoid}\Big(u_i + \sum_{j \sim i} J_{ij}\, x_j\Big).
# $$
#
# Why this approximation: it needs no $Z$, its maximiser is a consistent
# estimator of the CRF's parameters, it is exact when the couplings are zero
# (it is then the Bernoulli likelihood of the binary model), and it stays a
# smooth function of $u$ and $x$ that attacks can differentiate (mean field or
# Bethe would put an iterative solver inside every one of the hundred decoder
# passes). Its cost: the score is not normalised, so it is not a calibrated
# $\log p(x \mid y)$, and it rewards pixels that are predictable from their
# neighbours, which mostly grey-free binary digits are. The neighbour term
# depends on the image alone, so it is computed once per image for all classes
# and codes. Training and classification both use it in place of
# $\log p(x \mid z, y)$.

# %% mystnb={"figure": {"caption": "This chapter's models as graphical models: shaded nodes are observed, a box (plate) repeats what it holds once per pixel or per draw."}} tags=["hide-input"]
plots.graphical_models(GRAPHS, width=3.0, height=2.8)

# %% [markdown]
# ## Training

# %% mystnb={"figure": {"caption": "The CNN-VAE with CRF: validation ELBO per training epoch."}} tags=["hide-input"]
data = load_mnist()
trained = {name: load_model(name, config.profile, data=data)
           for name in ("cnn_vae", "cnn_vae_binary", "cnn_vae_crf", "cnn", "cnn_binary")}
attacked = {name: trained[name] for name in config.models}
plots.training_curve(training_report("cnn_vae_crf", config.profile)["report"]["val_elbo_per_epoch"],
                     xlabel="epoch", ylabel="validation ELBO of the CNN-VAE+CRF (nats)")

# %% [markdown]
# What the three generative models learned beyond their weights: the epoch
# kept, its validation ELBO and the CRF's horizontal and vertical couplings.

# %% tags=["hide-input"]
chapter.training_summary(("cnn_vae", "cnn_vae_binary", "cnn_vae_crf"), config.profile)

# %% [markdown]
# ## Clean accuracy

# %% tags=["hide-input"]
whole = evaluate.clean_accuracy(attacked, data.test)
attacked_images = evaluate.clean_accuracy(attacked, chapter.evaluation_images(data, config))
display(Markdown(prose.subset_sentence(whole, attacked_images)))
chapter.clean_table(whole, subset=attacked_images)

# %% [markdown]
# ## What a prediction costs
#
# Floating-point operations of one forward pass per image (torch's flop
# counter), and the measured time per image of a forward pass and of a forward
# pass with the input gradient, for a batch of 100 on this machine, relative to
# the CNN. This is what fixes the number of test images this chapter can afford
# (the provenance line above).

# %% tags=["nbval-ignore-output", "hide-input"]
costs = cost.forward_cost(trained, chapter.evaluation_images(data, config).x[:100], reference="cnn").round(3)
costs

# %% [markdown]
# ## The ten attacks

# %% tags=["hide-input"]
results = evaluate.sweep(config, data=data)

# %% tags=["nbval-ignore-output", "hide-input"]
display(Markdown(chapter.results_provenance(results)))

# %% tags=["hide-input"]
chapter.robustness_table(results, norm="linf")

# %% tags=["hide-input"]
chapter.robustness_table(results, norm="l2")

# %% mystnb={"figure": {"caption": "Robust accuracy against eps under each of the paper's attacks, a panel per attack and a colour per model (generative models solid with circles, discriminative ones dashed with squares); shaded bands are 95% intervals, crosses the paper's numbers; attacks with the same curves share a panel."}} tags=["hide-input"]
comparison = paper.compare_with_paper(results)
plots.robustness_curves(results, paper=comparison)

# %% [markdown]
# ### How small a perturbation suffices
#
# The minimisation attacks (Carlini-Wagner, the contrast reductions, the blur)
# search, image by image, for the smallest perturbation that fools the model.
# Their sizes show what a robustness curve averages away: whether a model falls
# to uniformly small perturbations, or resists on some images and not on others.

# %% mystnb={"figure": {"caption": "The smallest adversarial perturbation each minimisation attack found, a dot per correctly classified image and a bar at the median, per model; images that no perturbation within the grid's largest eps fooled are counted at the right."}} tags=["hide-input"]
plots.minimal_perturbations(evaluate.minimal_perturbations(config, results))

# %% [markdown]
# ## The paper's Table 3: what an attack costs
#
# Wall time of each gradient attack over its whole eps grid on the CNN-VAE and
# the CNN, from the sweep above (same images, same machine), their ratio, the
# paper's ratio (its times are for an unstated number of images and hardware),
# and the ratio of forward FLOPs from the cost table. When the time ratio sits
# near the FLOP ratio, the generative model costs what its arithmetic demands
# and no more.

# %% tags=["nbval-ignore-output", "hide-input"]
if {"cnn_vae", "cnn"} <= set(config.models):
    display(cost.pair_runtimes(results, costs, generative="cnn_vae", discriminative="cnn"))

# %% [markdown]
# What the whole sweep cost per model: the ten attacks over both eps grids,
# divided by the number of images. A few minutes per image for each generative
# model, before the EOT comparison below, is why the extended profile attacks
# 200 test images in this family on two CPU cores, and the default profile 30,
# both with a fifth of Li's importance samples: at 30 the intervals are wide, and
# only large differences count.

# %% tags=["nbval-ignore-output", "hide-input"]
cost.sweep_cost(results).round(2)

# %% [markdown]
# ## Are the attacks doing their job?

# %% tags=["hide-input"]
sanity = checks.sanity_checks(results)
sanity

# %% tags=["hide-input"]
health = evaluate.gradient_health(attacked, chapter.evaluation_images(data, config)).round(3)
health

# %% [markdown]
# ## The models that sample: expectation over transformation
#
# Used as intended, the three VAEs draw fresh codes for every prediction. Below,
# PGD $l_\infty$ on the fixed codes beside EOT-PGD on the sampling models
# {cite}`athalye_2018`, each step following the gradient averaged over fresh
# draws, on the same images (the `n` column), at the budgets up to the paper's
# headline $l_\infty$ eps of 0.3 (each costs five PGD runs).

# %% tags=["hide-input"]
eot_results = evaluate.sweep(chapter.eot_config(config), data=data)
chapter.robustness_table(eot_results, norm="linf")

# %% [markdown]
# ## Side by side
#
# Each generative model against its counterpart, at eps 0.3 ($l_\infty$) and
# 2 ($l_2$), image by image on the images both saw: a model counts as more robust only where the difference of the two shares lies
# significantly above 0.05, and the two count as equal where it lies significantly within
# 0.05 (paired tests, as in the methods chapter); otherwise the pair is undecided at this n.

# %% tags=["hide-input"]
for generative, discriminative in (("cnn_vae", "cnn"), ("cnn_vae_binary", "cnn_binary"), ("cnn_vae_crf", "cnn_binary")):
    if {generative, discriminative} <= set(config.models):
        display(Markdown(f"**{generative} against {discriminative}**"))
        display(Markdown(chapter.verdict_summary(chapter.compare_pair(config, results, generative, discriminative))))

# %% mystnb={"figure": {"caption": "A few test digits (top row) and what each attack makes of them, a row per model and attack, titled with the prediction: red, with the perturbation's size, where the attack changed it; grey and marked 'was wrong' where the model misread the digit before any attack."}} tags=["hide-input"]
chapter.adversarial_examples_figure(attacked, data, config)

# %% [markdown]
# ## Our numbers beside the paper's

# %% tags=["hide-input"]
paper.comparison_table(comparison)

# %% [markdown]
# ## What this family shows
#
# First, each generative model beside its counterpart at $l_\infty$ eps 0.3 and
# $l_2$ eps 2: the share of the same test images each keeps under every attack of
# this page (its worst case here), the images only one of them keeps, and the
# difference of the two shares with its 95% interval. The sentences after the table are written by
# the code from it and the tables above, so they hold for the profile this page
# was run on (its first line): every share of images comes with its 95%
# interval, and a model is called more robust than another only where the tests
# separate them.

# %% tags=["hide-input"]
chapter.pair_table(config, results)

# %% tags=["hide-input", "findings"]
display(Markdown(chapter.findings(config, results, checks=sanity, health=health, comparison=comparison)))

# %% [markdown]
# **How to read them.** Unlike the fully connected CVAE of the previous
# chapter, these VAEs' logit margins are of the CNN's order when no image has a
# zero input gradient (the gradient table): what the gradient attacks report is
# then what they found, not a saturated softmax. The binary models threshold
# their input at 0.5: a pixel changes only if the perturbation carries it
# across, which an $l_\infty$ budget of eps cannot do for pixels further than eps
# from grey, and contrast reduction, which blends towards 0.5, cannot move a
# thresholded pixel until it reaches it. PGD follows the threshold's surrogate
# gradient, which is blind to what a pixel costs to flip; the check that PGD do
# as well as C&W in $l_2$ says whether that mattered, and the adaptive chapter
# attacks every binary model again. The binarised CNN is the control: where it
# keeps as much as a binary VAE, the threshold, not the likelihood, buys it.
# The default profile trains these models for a fifth of the epochs and averages
# two importance samples; the clean table shows what that costs them.
#
# **The paper** found its CNN-VAE robust at $l_\infty$ eps 0.3 to PGD and to
# contrast reduction, and its binary VAEs keeping nearly every image under PGD at
# that budget; the comparison above places those numbers against our intervals.
