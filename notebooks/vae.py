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
# # A conditional VAE against VAE classifiers and an MLP
#
# The fully connected part of the study's deep models {cite}`chan_exploring`: a
# conditional variational autoencoder (CVAE) used as a classifier, against three
# discriminative networks of about the same size. The CVAE learns how each class
# generates its images, through a latent code $z$ for everything the label does
# not say (slant, thickness, style); the others learn only which label goes with
# an image.
#
# This chapter derives the CVAE and two ways of classifying with it (the paper's
# and a principled one), trains all models, measures clean accuracy and the cost
# of a prediction, runs the paper's ten attacks, and attacks the models that
# sample at test time with expectation over transformation.

# %% tags=["parameters", "hide-input"]
profile = "smoke"  # "smoke" (seconds, for tests), "default" (the book), "extended" (a day on a CPU), "full" (GPU)
linf_eps = None  # None: the paper's grid 0.1, 0.2, ..., 0.5
l2_eps = None  # None: the paper's grid 1, 2, ..., 5
n = None  # None: the profile's number of test images per attack
seed = 0
attacks = None  # None: all ten of the paper's attacks
models = None  # None: both CVAE rules, the two VAE classifiers and the MLP

# %% tags=["hide-input"]
import torch
from IPython.display import Markdown, display

from genrob import chapter, checks, cost, evaluate, paper, plots, prose
from genrob.data import load_mnist
from genrob.models import load_model, training_report
from genrob.models.vae import GRAPHS

config = chapter.setup(family="vae", profile=profile, linf_eps=linf_eps, l2_eps=l2_eps,
                       n=n, seed=seed, attacks=attacks, models=models, namespace=globals())

# %% tags=["nbval-ignore-output", "hide-input"]
display(Markdown(chapter.provenance(config)))

# %% [markdown]
# ## The conditional VAE
#
# The generative model draws a class $y$, a latent code $z \sim \mathcal{N}(0, I)$
# of 20 dimensions, and an image from a decoder network:
#
# $$
# p(x, y) = p(y) \int p(z)\, p(x \mid z, y)\, dz,
# \qquad
# p(x \mid z, y) = \mathcal{N}\big(x;\ \mu_\theta(z, y),\ \sigma^2 I\big).
# $$
#
# The decoder $\mu_\theta$ has two ReLU layers of 500 units and a sigmoid
# output; the class enters as a one-hot vector. The paper trains on the
# Euclidean reconstruction error; a Gaussian likelihood with one learned scale
# $\sigma$ is that error made into a proper density, so that the classifier's
# logits are log-likelihoods. The integral over $z$ has no closed form. An
# encoder $q_\phi(z \mid x, y) = \mathcal{N}(m_\phi(x, y), \operatorname{diag} s^2_\phi(x, y))$,
# of the same size, proposes the codes that could have produced $x$, and
# training maximises the evidence lower bound of {cite:t}`kingma_2014`,
#
# $$
# \log p(x \mid y) \;\ge\; \mathbb{E}_{q_\phi(z \mid x, y)}\big[\log p(x \mid z, y)\big]
# - \operatorname{KL}\big(q_\phi(z \mid x, y)\,\|\,p(z)\big),
# $$
#
# over encoder and decoder together, with one reparameterised sample per image.
#
# Its discriminative counterparts keep the encoder's shape and drop the
# decoder: the **VAE classifier** maps $x$ through an encoder $q(z \mid x)$ to a
# latent code and a ReLU head of 500 units to the label, trained end to end on
# cross-entropy; the **pre-trained VAE classifier** is the same network whose
# encoder comes from an unconditional VAE trained on its ELBO first and is then
# frozen, so that only the head learns the labels; the **MLP** is the paper's
# plain network, two ReLU layers of 500 units.

# %% mystnb={"figure": {"caption": "This chapter's models as graphical models: shaded nodes are observed, a box (plate) repeats what it holds once per pixel or per draw."}} tags=["hide-input"]
plots.graphical_models(GRAPHS, width=3.0, height=2.8)

# %% [markdown]
# ### Two ways to classify with it
#
# **The paper's rule.** Decode 100 fixed draws $z_k \sim p(z)$ for each class
# once, and give $x$ to the class with the nearest decoded image. As a logit we
# use $-\min_k \lVert x - \mu_\theta(z_k, y) \rVert^2 / 2\sigma^2$: the largest
# term of the equal-weight Gaussian mixture at those 100 means, so the rule is
# a (crude) estimate of $\log p(x \mid y)$. Prior draws cover a class thinly:
# 100 prototypes must stand for every way of writing a digit.
#
# **The principled rule.** Estimate $\log p(x \mid y)$ by importance sampling
# from the encoder, which proposes codes that fit *this* image
# {cite}`burda_2016`:
#
# $$
# \text{logit}_y = \log p(y) + \log \frac{1}{K} \sum_{k=1}^{K}
# \frac{p(x \mid z_k, y)\, p(z_k)}{q_\phi(z_k \mid x, y)},
# \qquad z_k = m_\phi(x, y) + s_\phi(x, y) \odot \varepsilon_k,
# $$
#
# with $K = 10$. The estimate is a lower bound of $\log p(x \mid y)$ in
# expectation, and tightens as $K$ grows. The draws $\varepsilon_k$ make the
# classifier random; for evaluation they are one fixed set of $K$ standard
# normal vectors, shared by every image and class, so the model is a
# deterministic function that attacks can differentiate. The same holds for the
# VAE classifiers, which use the posterior mean at test time. The last section
# attacks the sampling versions as well.
#
# Both rules read the same trained CVAE. Every class and every sample goes
# through the decoder in one batched pass, and the image's share of the
# encoder's first layer is computed once for all ten classes.

# %% mystnb={"figure": {"caption": "The conditional VAE's validation ELBO per training epoch."}} tags=["hide-input"]
data = load_mnist()
trained = {name: load_model(name, config.profile, data=data)
           for name in ("cvae", "cvae_prototypes", "vae_classifier", "vae_classifier_pretrained", "mlp")}
attacked = {name: trained[name] for name in config.models}
cvae_report = training_report("cvae", config.profile)["report"]
plots.training_curve(cvae_report["val_elbo_per_epoch"], xlabel="epoch", ylabel="validation ELBO (nats)")

# %% [markdown]
# The decoded means of the paper's rule, eight of the hundred per class: what
# the CVAE thinks each digit looks like for codes drawn from the prior.

# %% mystnb={"figure": {"caption": "Prototypes of the paper's rule: decoded draws of the conditional VAE, a row per class."}} tags=["hide-input"]
plots.image_grid(trained["cvae_prototypes"].prototypes[:, :8].flatten(0, 1), rows=10, size=0.8)

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
# Floating-point operations of one forward pass per image, counted by torch's
# flop counter, and the measured time of a forward pass and of a forward pass
# with the input gradient (what every step of a gradient attack costs), per
# image, for a batch of 500 on this machine. The principled CVAE rule runs the
# decoder $10 \times K$ times per image; that is the price of its robustness
# numbers below.

# %% tags=["nbval-ignore-output", "hide-input"]
cost.forward_cost(trained, chapter.evaluation_images(data, config).x[:500], reference="mlp").round(3)

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
# At test time the principled CVAE and the VAE classifiers above use fixed noise
# (or none). Used as intended, they draw fresh noise for each prediction, and
# an attack on one draw may not transfer to the next. Expectation over
# transformation {cite}`athalye_2018` attacks the random model itself: each PGD
# step follows the cross-entropy gradient averaged over 5 fresh draws, and
# the adversarial is judged by the sampling model on a fresh draw. Below, PGD
# $l_\infty$ on the fixed model beside EOT-PGD on the sampling one. EOT costs
# five PGD runs, so both run on 100 of the subset's images (drawn the same
# stratified way; the `n` column says how many), the same images for both, and
# at the budgets up to the paper's headline $l_\infty$ eps of 0.3.

# %% tags=["hide-input"]
eot_results = evaluate.sweep(chapter.eot_config(config), data=data)
chapter.robustness_table(eot_results, norm="linf")

# %% [markdown]
# ## Side by side
#
# The CVAE (principled rule) against each discriminative counterpart, at eps 0.3
# ($l_\infty$) and 2 ($l_2$), image by image on the images both saw: a model counts as more robust only where the difference of the two shares lies
# significantly above 0.05, and the two count as equal where it lies significantly within
# 0.05 (paired tests, as in the methods chapter); otherwise the pair is undecided at this n.

# %% tags=["hide-input"]
for counterpart in ("vae_classifier", "vae_classifier_pretrained", "mlp"):
    if {"cvae", counterpart} <= set(config.models):
        display(Markdown(f"**cvae against {counterpart}**"))
        display(Markdown(chapter.verdict_summary(chapter.compare_pair(config, results, "cvae", counterpart))))

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
# **How to read them.** The principled rule classifies by the
# importance-weighted likelihood, running the decoder for ten classes times ten
# samples, about a hundred times the arithmetic of the MLP (the cost table),
# which is why this chapter runs on fewer images; the paper's nearest-prototype
# rule runs on the same trained model. Both rules' logits are log-likelihoods:
# where they lie hundreds of nats apart the softmax saturates and the
# cross-entropy gradient is zero, so FGSM, FGM and PGD report an upper bound and
# the check against Carlini-Wagner, which follows the logit margin, tells
# whether they did their job. The EOT table attacks the models as they are
# used, sampling afresh for every prediction; its numbers are judged by the
# sampling model. A Gaussian likelihood with a small learned $\sigma$ punishes
# every pixel that strays from a decoded digit, so a grey veil or a blur costs
# every class much and can change their order easily: what the gradient-free
# attacks test.
#
# **The paper** found its CVAE more robust than its discriminative
# counterparts under contrast reduction and the gradient attacks; the pairs above
# say what this page's evidence makes of that, image by image.
