"""The paper's ten attacks and the adaptive ones it did not run, by name.

>>> from genrob.attacks import make_attack
>>> make_attack("pgd_linf", "default").settings
{'steps': 40, 'relative_step': 2.5, 'random_start': True}
"""

from __future__ import annotations

import hashlib
import json
import math
from typing import Any

from genrob.attacks.additive_noise import AdditiveGaussianNoiseL2, AdditiveUniformNoiseLinf
from genrob.attacks.autoattack import (AUTOATTACK_PARTS, AutoAttackL2, AutoAttackLinf, RandomisedAutoAttackL2,
                                       RandomisedAutoAttackLinf)
from genrob.attacks.base import Attack, AttackConstraintError, AttackOutcome, Norm, perturbation_norm
from genrob.attacks.contrast_reduction import BinarySearchContrastReduction, LinearSearchContrastReduction
from genrob.attacks.cw import CarliniWagnerL2
from genrob.attacks.eot import EOTPGDLinf
from genrob.attacks.fgm import FGM
from genrob.attacks.fgsm import FGSM
from genrob.attacks.gaussian_blur import GaussianBlur
from genrob.attacks.pgd import PGDL2, PGDLinf
from genrob.attacks.bpda import BPDAPGDMarginL2, BPDAPGDMarginLinf
from genrob.attacks.pgd_margin import (PGDMarginL2, PGDMarginL2Long, PGDMarginL2X4, PGDMarginL2X8, PGDMarginLinf,
                                       PGDMarginLinfLong, PGDMarginLinfX4, PGDMarginLinfX8)
from genrob.attacks.threshold import ThresholdFlipsL2, ThresholdFlipsLinf
from genrob.attacks.transfer import TransferPGDL2, TransferPGDLinf
from genrob.profiles import Profile, get_profile

#: The paper's ten attacks, in its order (white-box, then decision-based).
PAPER_ATTACKS: tuple[str, ...] = tuple(
    cls.name for cls in (
        FGM, FGSM, PGDL2, PGDLinf, CarliniWagnerL2,
        AdditiveUniformNoiseLinf, AdditiveGaussianNoiseL2,
        LinearSearchContrastReduction, BinarySearchContrastReduction, GaussianBlur,
    )
)

#: The adaptive attacks: margin PGD with restarts, transfer from a CNN, and AutoAttack's standard
#: ensemble part by part (APGD-CE, APGD-T, FAB-T and the score-based Square), in the order the adaptive
#: evaluation runs them (:data:`genrob.adaptive.CASCADE`).
ADAPTIVE_ATTACKS: tuple[str, ...] = tuple(
    cls.name for cls in (PGDMarginLinf, PGDMarginL2, TransferPGDLinf, TransferPGDL2,
                         *AUTOATTACK_PARTS["linf"], *AUTOATTACK_PARTS["l2"])
)

#: The attacks in the threat model of a model that thresholds its input (genrob.contract.input_threshold):
#: run on those models only, and counted in their worst case like the others.
THRESHOLD_ATTACKS: tuple[str, ...] = (ThresholdFlipsLinf.name, ThresholdFlipsL2.name)

#: The attacks in the threat model of a model that denoises its input (genrob.contract.purifies_input): margin
#: PGD with the identity's gradient through the denoiser, run on those models only.
PURIFIER_ATTACKS: tuple[str, ...] = (BPDAPGDMarginLinf.name, BPDAPGDMarginL2.name)

#: Margin PGD at growing budgets, per norm, each rung twice the last's steps and restarts: a rung is run where
#: the step from the one below it to the one before broke significantly more images (genrob.adaptive).
MARGIN_PGD_LADDERS: dict[str, tuple[str, ...]] = {
    "linf": (PGDMarginLinf.name, PGDMarginLinfLong.name, PGDMarginLinfX4.name, PGDMarginLinfX8.name),
    "l2": (PGDMarginL2.name, PGDMarginL2Long.name, PGDMarginL2X4.name, PGDMarginL2X8.name),
}

#: Registry: name -> attack class; the paper's ten first, then the ones it did not run.
ATTACKS: dict[str, type[Attack]] = {
    cls.name: cls
    for cls in (
        FGM, FGSM, PGDL2, PGDLinf, CarliniWagnerL2,
        AdditiveUniformNoiseLinf, AdditiveGaussianNoiseL2,
        LinearSearchContrastReduction, BinarySearchContrastReduction, GaussianBlur,
        EOTPGDLinf,
        PGDMarginLinf, PGDMarginL2, AutoAttackLinf, AutoAttackL2, *AUTOATTACK_PARTS["linf"],
        *AUTOATTACK_PARTS["l2"], TransferPGDLinf, TransferPGDL2, ThresholdFlipsLinf, ThresholdFlipsL2,
        PGDMarginLinfLong, PGDMarginL2Long, RandomisedAutoAttackLinf, RandomisedAutoAttackL2,
        PGDMarginLinfX4, PGDMarginL2X4, PGDMarginLinfX8, PGDMarginL2X8, BPDAPGDMarginLinf, BPDAPGDMarginL2,
    )
}

#: Bump when a change to attack code should invalidate every cached result. 3: IEEE arithmetic in every
#: attack (format 2 flushed subnormal floats to zero, which zeroes saturated cross-entropy gradients).
RESULTS_FORMAT = 3


def get_attack_class(name: str) -> type[Attack]:
    """The attack class registered as ``name``; a clear error listing the known ones."""
    try:
        return ATTACKS[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown attack {name!r}; known attacks: {list(ATTACKS)}") from None


def make_attack(name: str, profile: Profile | str = "default", **overrides: Any) -> Attack:
    """An attack with the settings of ``profile``, and any ``overrides``."""
    cls = get_attack_class(name)
    return cls(**{**cls.default_settings(get_profile(profile)), **overrides})


def attack_config_hash(attack: Attack) -> str:
    """Short hash of an attack's name and settings, part of every result's key."""
    blob = json.dumps({"attack": attack.name, "format": RESULTS_FORMAT, **attack.settings}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:12]


def cost_ratio(name: str, profile: Profile | str, reference: Profile | str) -> float:
    """How many times a run of attack ``name`` under ``profile`` costs one under ``reference``: the ratio
    of the products of its :attr:`~genrob.attacks.base.Attack.cost_settings` (an upper bound for an
    attack that leaves broken images early)."""
    cls = get_attack_class(name)
    settings, base = (cls.default_settings(get_profile(p)) for p in (profile, reference))
    return math.prod(settings[key] / base[key] for key in cls.cost_settings)


def norm_of(name: str) -> Norm:
    return get_attack_class(name).norm


__all__ = [
    "ADAPTIVE_ATTACKS", "ATTACKS", "MARGIN_PGD_LADDERS", "PAPER_ATTACKS", "PURIFIER_ATTACKS", "THRESHOLD_ATTACKS", "Attack", "AttackConstraintError", "AttackOutcome", "Norm",
    "attack_config_hash", "cost_ratio", "get_attack_class", "make_attack", "norm_of", "perturbation_norm",
]
