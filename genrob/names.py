"""The names a reader sees for models and attacks: one map, used by tables, figures and sentences.

Code names (``linear_search_contrast_reduction_linf``) stay the keys of every
results table; only what is shown is translated.
"""

from __future__ import annotations

import re

MODEL_NAMES: dict[str, str] = {
    "gaussian_nb": "naive Bayes",
    "logistic_regression": "logistic regression",
    "gmm": "Gaussian mixture",
    "mrf": "Ising MRF",
    "cnn_mrf": "CNN behind the MRF denoiser",
    "cvae": "conditional VAE",
    "cvae_prototypes": "conditional VAE (prototype rule)",
    "vae_classifier": "VAE classifier",
    "vae_classifier_pretrained": "pre-trained VAE classifier",
    "mlp": "MLP",
    "cnn": "CNN",
    "cnn_vae": "CNN-VAE (Gaussian)",
    "cnn_vae_binary": "CNN-VAE (binary)",
    "cnn_vae_crf": "CNN-VAE with CRF",
    "cnn_binary": "CNN on binarised input",
    "cnn_adversarial": "adversarially trained CNN",
}

ATTACK_NAMES: dict[str, str] = {
    "fgm_l2": "FGM (l2)",
    "fgsm_linf": "FGSM (l∞)",
    "pgd_l2": "PGD (l2)",
    "pgd_linf": "PGD (l∞)",
    "cw_l2": "Carlini-Wagner (l2)",
    "additive_uniform_noise_linf": "uniform noise (l∞)",
    "additive_gaussian_noise_l2": "Gaussian noise (l2)",
    "linear_search_contrast_reduction_linf": "contrast reduction, linear search (l∞)",
    "binary_search_contrast_reduction_linf": "contrast reduction, binary search (l∞)",
    "gaussian_blur_linf": "Gaussian blur (l∞)",
    "eot_pgd_linf": "EOT-PGD (l∞)",
    "pgd_margin_linf": "margin PGD (l∞)",
    "pgd_margin_l2": "margin PGD (l2)",
    "autoattack_linf": "AutoAttack (l∞)",
    "autoattack_l2": "AutoAttack (l2)",
    "apgd_ce_linf": "AutoAttack's APGD-CE (l∞)",
    "apgd_ce_l2": "AutoAttack's APGD-CE (l2)",
    "apgd_t_linf": "AutoAttack's APGD-T (l∞)",
    "apgd_t_l2": "AutoAttack's APGD-T (l2)",
    "fab_t_linf": "AutoAttack's FAB-T (l∞)",
    "fab_t_l2": "AutoAttack's FAB-T (l2)",
    "square_linf": "AutoAttack's Square (l∞)",
    "square_l2": "AutoAttack's Square (l2)",
    "transfer_pgd_linf": "transfer PGD from a CNN (l∞)",
    "transfer_pgd_l2": "transfer PGD from a CNN (l2)",
    "threshold_flips_linf": "flips across the threshold (l∞)",
    "threshold_flips_l2": "flips across the threshold (l2)",
    "pgd_margin_linf_long": "margin PGD, twice the budget (l∞)",
    "pgd_margin_l2_long": "margin PGD, twice the budget (l2)",
    "pgd_margin_linf_x4": "margin PGD, 4 times the budget (l∞)",
    "pgd_margin_l2_x4": "margin PGD, 4 times the budget (l2)",
    "pgd_margin_linf_x8": "margin PGD, 8 times the budget (l∞)",
    "pgd_margin_l2_x8": "margin PGD, 8 times the budget (l2)",
    "bpda_pgd_margin_linf": "margin PGD with BPDA (l∞)",
    "bpda_pgd_margin_l2": "margin PGD with BPDA (l2)",
    "autoattack_rand_linf": "randomised AutoAttack (l∞)",
    "autoattack_rand_l2": "randomised AutoAttack (l2)",
}

NORM_NAMES: dict[str, str] = {"linf": "l∞", "l2": "l2"}

#: The families by their chapters' titles.
FAMILY_NAMES: dict[str, str] = {
    "naive_bayes": "Naive Bayes against logistic regression",
    "mixture": "Gaussian mixtures against logistic regression",
    "markov_random_field": "A Markov random field against a CNN behind an MRF denoiser",
    "vae": "A conditional VAE against VAE classifiers and an MLP",
    "conv_vae": "Convolutional VAEs against CNNs",
    "reference": "The adversarially trained reference",
}


def model_name(model: str) -> str:
    """What a reader calls ``model`` (its code name where the map has none)."""
    return MODEL_NAMES.get(model, model)


def family_name(family: str) -> str:
    """A family as its chapter's title names it (its code name where the map has none)."""
    return FAMILY_NAMES.get(family, family)


def attack_name(attack: str) -> str:
    """What a reader calls ``attack`` (its code name where the map has none)."""
    return ATTACK_NAMES.get(attack, attack)


def budget(norm: str, eps: float) -> str:
    """"l∞ eps 0.3": a norm and its budget, as the pages write them."""
    return f"{NORM_NAMES.get(norm, norm)} eps {eps:g}"


def readable(text: str) -> str:
    """``text`` with every model and attack code name in it replaced by what a reader calls it
    (for generated strings such as a check's description: ``pgd_l2 at least as strong as cw_l2``)."""
    return _CODE_NAME.sub(lambda match: _READER_NAME[match.group(0)], text)


_READER_NAME = {**MODEL_NAMES, **ATTACK_NAMES}
# Longest first, whole words only: ``pgd_margin_linf_long`` before ``pgd_margin_linf``, never inside another name.
_CODE_NAME = re.compile(r"\b(" + "|".join(map(re.escape, sorted(_READER_NAME, key=len, reverse=True))) + r")\b")
