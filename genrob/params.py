"""Notebook parameters, checked before any work starts.

Each family notebook has a papermill ``parameters`` cell (profile, eps grids,
n, seed, attacks, models); :func:`sweep_config` turns it into a
:class:`SweepConfig` or stops with a message that says what is wrong.
"""

from __future__ import annotations

import ast
import dataclasses
import difflib
import math
from dataclasses import dataclass
from numbers import Real
from typing import Iterable, Mapping, Sequence

from genrob.attacks import ATTACKS, PAPER_ATTACKS, get_attack_class
from genrob.contract import input_threshold, purifies_input, samples_noise
from genrob.models import chapter_models, get_spec, model_names
from genrob.profiles import PAPER_L2_EPS, PAPER_LINF_EPS, Profile, get_profile

#: Largest meaningful eps: l_inf distance between images in [0, 1] is at most 1,
#: l_2 distance at most sqrt(784) = 28.
MAX_EPS = {"linf": 1.0, "l2": 28.0}
N_TEST = 10_000


class ParameterError(ValueError):
    """A notebook parameter is invalid; raised before any work is done."""


#: What IPython itself puts in a kernel's namespace, beside names that start with an underscore.
_KERNEL_NAMES = frozenset({"In", "Out", "exit", "quit", "get_ipython", "open"})
#: The kinds of value a papermill parameter can be (its ``-p`` and ``-y`` give these and nothing else).
_PARAMETER_TYPES = (str, bytes, bool, int, float, list, tuple, dict, type(None))


def _literal_assignments(source: str) -> set[str]:
    """The names a cell assigns, where it does nothing but assign literals (a parameters cell, papermill's
    injected one); empty for any other cell."""
    try:
        body = ast.parse(source).body
    except SyntaxError:
        return set()
    names = set()
    for node in body:
        if not (isinstance(node, ast.Assign) and all(isinstance(t, ast.Name) for t in node.targets)):
            return set()
        try:
            ast.literal_eval(node.value)
        except ValueError:
            return set()
        names.update(target.id for target in node.targets)
    return names


def _assigned_in_earlier_cells(namespace: Mapping[str, object]) -> set[str] | None:
    """The names that the parameter-like cells run before the current one assign (IPython's input history,
    ``In``: the parameters cell and papermill's injected one, cells of literal assignments only), or None
    outside IPython."""
    history = namespace.get("In")
    if not isinstance(history, list) or not history:
        return None
    return set().union(*map(_literal_assignments, history[:-1]))


def refuse_unknown_parameters(namespace: Mapping[str, object], known: Iterable[str]) -> None:
    """Stop with a :class:`ParameterError` where ``namespace`` (a notebook's ``globals()``) holds a parameter
    value under a name the notebook does not take: papermill only warns of a misspelt ``-p`` and runs the
    notebook's defaults, which is a long wrong run. In a kernel, the candidates are the names that the cells
    of literal assignments run so far assigned (the parameters cell and papermill's injected one), so that
    imports and a later cell's results are none; elsewhere, every plain value (what ``-p`` can inject)."""
    known = set(known)
    earlier = _assigned_in_earlier_cells(namespace)
    unknown = sorted(name for name, value in namespace.items()
                     if not name.startswith("_") and name not in known and name not in _KERNEL_NAMES
                     and isinstance(value, _PARAMETER_TYPES) and (earlier is None or name in earlier))
    if not unknown:
        return
    hints = [f"{name!r} (did you mean {close[0]!r}?)" if (close := difflib.get_close_matches(name, known, n=1))
             else repr(name) for name in unknown]
    raise ParameterError(f"unknown parameter{'s' if len(unknown) > 1 else ''} {', '.join(hints)}: this notebook "
                         f"takes {', '.join(sorted(known))}")


@dataclass(frozen=True)
class SweepConfig:
    """What a sweep runs: models x attacks x eps, on n seeded test images."""

    profile: Profile
    models: tuple[str, ...]
    attacks: tuple[str, ...]
    linf_eps: tuple[float, ...]
    l2_eps: tuple[float, ...]
    n: int
    seed: int

    def eps_for(self, attack: str) -> tuple[float, ...]:
        return self.linf_eps if get_attack_class(attack).norm == "linf" else self.l2_eps


def _eps_grid(value, norm: str, default: tuple[float, ...]) -> tuple[float, ...]:
    name = f"{norm}_eps"
    if value is None:
        return default
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
        raise ParameterError(f"{name} must be a list of numbers, got {value!r}")
    if len(value) == 0:
        raise ParameterError(f"{name} is empty; give at least one eps")
    grid = []
    for eps in value:
        if isinstance(eps, bool) or not isinstance(eps, Real) or math.isnan(eps):
            raise ParameterError(f"{name} holds {eps!r}, which is not a number")
        if eps <= 0:
            raise ParameterError(f"{name} holds {eps}: every eps must be positive")
        if eps > MAX_EPS[norm]:
            hint = " (that looks like an l2 grid: pass it as l2_eps)" if norm == "linf" else ""
            raise ParameterError(
                f"{name} holds {eps}, beyond the largest {norm} distance between two images "
                f"in [0, 1] ({MAX_EPS[norm]:g}){hint}")
        grid.append(float(eps))
    if len(set(grid)) != len(grid):
        raise ParameterError(f"{name} repeats a value: {grid}")
    return tuple(sorted(grid))


def _names(value, known: Sequence[str], what: str, default: Sequence[str]) -> tuple[str, ...]:
    if value is None:
        return tuple(default)
    if isinstance(value, str):
        value = [value]
    unknown = [v for v in value if v not in known]
    if unknown:
        raise ParameterError(f"unknown {what} {unknown}; known {what}s: {list(known)}")
    if not value:
        raise ParameterError(f"no {what}s given")
    return tuple(value)


def sweep_config(
    *,
    profile: str = "default",
    family: str | None = None,
    models: Sequence[str] | str | None = None,
    attacks: Sequence[str] | str | None = None,
    linf_eps: Sequence[float] | None = None,
    l2_eps: Sequence[float] | None = None,
    n: int | None = None,
    seed: int = 0,
) -> SweepConfig:
    """Check a notebook's parameters and return the sweep they describe.

    ``None`` means the default: the family's models with their counterparts and
    baselines, the paper's ten attacks and eps grids, and the profile's n.
    """
    try:
        chosen = get_profile(profile)
    except ValueError as err:
        raise ParameterError(str(err)) from None
    family_models = chapter_models(family) if family is not None else model_names()
    if family is not None and not family_models:
        raise ParameterError(f"unknown family {family!r}")
    if family is not None and models is not None:
        strangers = [m for m in ([models] if isinstance(models, str) else models)
                     if m in model_names() and m not in family_models]
        if strangers:
            raise ParameterError(f"model {strangers} is not of the {family} family (its chapter's models: "
                                 f"{list(family_models)}); sweep the family that has it")
    models = _names(models, model_names(), "model", family_models)
    for name in models:
        get_spec(name)
    attacks = _names(attacks, list(ATTACKS), "attack", PAPER_ATTACKS)
    if n is None:
        n = chosen.n_eval_for(family)
    if isinstance(n, bool) or not isinstance(n, int) or not 0 < n <= N_TEST:
        raise ParameterError(f"n must be a whole number of test images between 1 and {N_TEST}, got {n!r}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ParameterError(f"seed must be a non-negative whole number, got {seed!r}")
    return SweepConfig(
        profile=chosen, models=models, attacks=attacks,
        linf_eps=_eps_grid(linf_eps, "linf", PAPER_LINF_EPS),
        l2_eps=_eps_grid(l2_eps, "l2", PAPER_L2_EPS),
        n=n, seed=seed,
    )


def thresholding_models(config: SweepConfig) -> tuple[str, ...]:
    """The models of ``config`` that see their input only thresholded (:func:`genrob.contract.input_threshold`)."""
    return tuple(m for m in config.models if input_threshold(get_spec(m).build_for(config.profile)) is not None)


def purifying_models(config: SweepConfig) -> tuple[str, ...]:
    """The models of ``config`` that denoise their input before classifying it (:func:`genrob.contract.purifies_input`)."""
    return tuple(m for m in config.models if purifies_input(get_spec(m).build_for(config.profile)))


def sampling_models(config: SweepConfig) -> tuple[str, ...]:
    """The models of ``config`` that draw noise at test time (see :func:`genrob.contract.samples_noise`)."""
    return tuple(m for m in config.models if samples_noise(get_spec(m).build_for(config.profile)))


#: Images for the EOT check: it costs ``draws`` times a PGD run.
EOT_N = 100

#: Largest l_inf eps of the EOT check: the paper's headline budget. Above it PGD on the fixed noise
#: already leaves little to find, and each eps costs ``draws`` PGD runs.
EOT_MAX_EPS = 0.3


def eot_config(config: SweepConfig, *, attack: str = "eot_pgd_linf", fixed_attack: str = "pgd_linf",
               n: int = EOT_N, max_eps: float = EOT_MAX_EPS) -> SweepConfig:
    """``config`` narrowed to its models that sample at test time: ``fixed_attack`` on their fixed
    noise and ``attack`` (expectation over transformation) on the sampling model, both on the same
    ``n`` images (a stratified part of the chapter's subset; fewer, if it has fewer), at the
    chapter's l_inf eps up to ``max_eps`` (its smallest eps, if all are larger)."""
    linf_eps = tuple(eps for eps in config.linf_eps if eps <= max_eps) or (min(config.linf_eps),)
    return dataclasses.replace(config, models=sampling_models(config), attacks=(fixed_attack, attack),
                               n=min(n, config.n), linf_eps=linf_eps)
