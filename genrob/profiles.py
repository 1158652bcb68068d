"""Run profiles: how much data, training and attack effort a run spends.

``smoke`` runs each notebook in seconds (nbval and CI), ``default`` is what
``make book PROFILE=default`` runs on a 2-core CPU in 77 min (measured from a clean clone), ``extended`` is
the evidence: full training and five times the images (about a day on the same CPU,
resumable), ``full`` is the paper's scale (all 10 000 test images) for
a machine with a GPU.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch

#: The paper's eps grids (Section 4): l_inf 0.1..0.5 and l_2 1..5.
PAPER_LINF_EPS: tuple[float, ...] = (0.1, 0.2, 0.3, 0.4, 0.5)
PAPER_L2_EPS: tuple[float, ...] = (1.0, 2.0, 3.0, 4.0, 5.0)


@dataclass(frozen=True)
class Profile:
    """Scale of a run; every page states the profile its numbers come from."""

    name: str
    n_eval: int  # test images each (model, attack) is evaluated on
    max_train: int | None  # training images used for fitting (None: all 50 000)
    epoch_scale: float  # multiplies each model's epoch count
    attack_effort: float  # multiplies iteration counts of optimising attacks (C&W)
    description: str
    #: Shrink the costliest models (the convolutional VAEs) so that a run takes seconds; smoke only.
    small_models: bool = False
    #: Smaller n for families whose forward pass costs far more (planned from measured per-image costs).
    family_n_eval: tuple[tuple[str, int], ...] = ()
    #: Multiplies the budgets of the adaptive attacks (AutoAttack's 100 iterations and 5000 queries).
    adaptive_effort: float = 1.0
    #: Importance samples per class of the convolutional VAEs' logits where fewer than Li's
    #: (each is one decoder pass per class: the cost of every attack on them scales with it).
    importance_samples: int | None = None
    #: Precision of every tensor of a run. The smoke profile computes in float64 so that its stored
    #: notebook outputs hold on any CPU: in float32, the rounding differences between CPUs' vector
    #: kernels grow through training into different predictions (README, "make test").
    dtype: str = "float32"
    #: Run each fixed-eps attack on this many images at a time (a minimisation search runs whole), each part
    #: kept as it finishes (in the cache and the evidence store), so that a stopped run loses at most one
    #: part of an attack that outlasts a sitting (the binary CNN-VAE's randomised AutoAttack: hours on 2
    #: cores). None: all images in one part.
    #: A part draws its random starts and samples from the run's seed on its own, so the per-image outcomes
    #: depend on it: fixed per profile, never on the machine.
    attack_part_images: int | None = None

    @property
    def torch_dtype(self) -> torch.dtype:
        return getattr(torch, self.dtype)

    def n_eval_for(self, family: str | None) -> int:
        """Test images per attack for a family's chapter and its adaptive evaluation (the same images, so
        that the paper's attacks run once for both)."""
        return dict(self.family_n_eval).get(family, self.n_eval)

    def epochs(self, full_epochs: int) -> int:
        return max(1, round(full_epochs * self.epoch_scale))

    def as_dict(self) -> dict:
        return asdict(self)


PROFILES: dict[str, Profile] = {
    "smoke": Profile(
        name="smoke", n_eval=60, max_train=6000, epoch_scale=0.1, attack_effort=0.5,
        description="seconds per notebook, to check that everything runs (nbval, CI); not evidence",
        family_n_eval=(("vae", 10), ("conv_vae", 10)), small_models=True, adaptive_effort=0.1,
        dtype="float64",
    ),
    "default": Profile(
        name="default", n_eval=200, max_train=None, epoch_scale=0.2, attack_effort=0.5,
        description="what `make book PROFILE=default` runs on a 2-core CPU in 77 min: every model "
                    "trained on all 50 000 images for a fifth of its epochs, 200 test images (50 for the "
                    "fully connected VAE family, 30 for the convolutional one, whose logits use 2 "
                    "importance samples instead of 10), the paper's attacks' budgets halved and the adaptive "
                    "attacks' at a fifth",
        # Sized so that a clean clone's `make book` fits 90 minutes on 2 cores. Measured on an AMD EPYC
        # from a clean clone with the convolutional family on 10 images: 49 min, of which 9 for its
        # chapter (5 of them training) and 29 for the adaptive one (some 12 of them on that family);
        # on 30: 85 min with the unit tests beside it for 24 of them, about 75 alone (its chapter 15, the
        # adaptive one 50). The convolutional VAEs' logits are
        # 5x cheaper with K = 2, and each family's adaptive evaluation reuses the chapter's images.
        family_n_eval=(("vae", 50), ("conv_vae", 30)),
        # The adaptive attacks' budgets at a fifth (Square 1 000 queries, APGD 20 iterations, margin PGD 20
        # steps), for every model alike: at a half they took 4 824 of the 8 041 s a clean clone's
        # `make book` took on an AMD EPYC (134 min), 3 678 s of them on the convolutional family; at a fifth
        # 1 542 of 4 624 s (77 min) on a machine as fast (the paper's attacks' rows took 1.01 times as long).
        adaptive_effort=0.2,
        importance_samples=2,
    ),
    "extended": Profile(
        name="extended", n_eval=1000, max_train=None, epoch_scale=1.0, attack_effort=1.0,
        description="the evidence profile for a 2-core CPU (about a day, run in the background by "
                    "`python -m genrob evidence`): full training, full attack budgets, 1 000 test images "
                    "(200 for the convolutional family, whose VAEs' logits use 2 importance samples "
                    "instead of 10), every attack on every model",
        # Sized from the default profile's measured costs (seconds of attack per image and model on 2 cores
        # of an AMD EPYC, budgets halved there): the three convolutional VAEs 29, 39 and 40 s at K = 2, the
        # CVAE 7, the CNN+MRF 2.5, the reference 1.5, every other model under 1. Doubled for full budgets:
        # 200 images of the convolutional family take about 12.5 h and 1 000 of every other about 8 h, with
        # some 4 h of training (the PGD-trained reference alone about 2). With K = 10 the convolutional
        # VAEs cost five times as much (60 h for 200 images), so they keep the default profile's K = 2.
        # Each family's adaptive evaluation runs on its chapter's images, every attack on every model.
        family_n_eval=(("conv_vae", 200),),
        importance_samples=2,
        attack_part_images=20,
    ),
    "full": Profile(
        name="full", n_eval=10_000, max_train=None, epoch_scale=1.0, attack_effort=1.0,
        description="the paper's scale, all 10 000 test images, for a machine with a GPU",
    ),
}


def get_profile(name: str | Profile) -> Profile:
    """The profile called ``name``; a clear error for an unknown one."""
    if isinstance(name, Profile):
        return name
    try:
        return PROFILES[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown profile {name!r}; choose one of {sorted(PROFILES)}") from None
