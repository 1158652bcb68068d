"""What every family chapter does at its start and in its tables, in one place."""

from __future__ import annotations

import re
from typing import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from torch import nn

from genrob import adaptive, claims, exactness, plots, prose
from genrob.attacks import ATTACKS
from genrob.cost import attack_seconds
from genrob.data import MNIST, Split, evaluation_subset
from genrob.environment import code_version, seed_everything, store_only, use_precision
from genrob.evaluate import adversarial_examples, per_image_outcome
from genrob.models import get_spec, training_report
from genrob.names import NORM_NAMES, attack_name, budget, model_name, readable
from genrob.paired import Paired, paired
from genrob.paper import paper_clean_accuracy
from genrob import params
from genrob.params import SweepConfig, refuse_unknown_parameters, sweep_config
from genrob.profiles import Profile, get_profile
from genrob.results import fraction_text

#: Decimal places of the floats a chapter prints, so nbval reruns compare equal.
DECIMALS = 3

#: The attacks whose adversarial examples a chapter shows.
EXAMPLE_ATTACKS = ("fgsm_linf", "pgd_linf", "cw_l2", "linear_search_contrast_reduction_linf", "gaussian_blur_linf")


def setup(*, family: str, profile: str, seed: int = 0, namespace: Mapping[str, object] | None = None,
          **params) -> SweepConfig:
    """Check the notebook's parameters (before any work; with ``namespace``, the notebook's ``globals()``, no
    value under a name it does not take), then :func:`start`."""
    if namespace is not None:
        refuse_unknown_parameters(namespace, {"profile", "seed", *params})
    config = sweep_config(profile=profile, family=family, seed=seed, **params)
    start(config.profile, seed=seed)
    return config


def start(profile: Profile | str, *, seed: int = 0, namespace: Mapping[str, object] | None = None,
          parameters: Sequence[str] = ()) -> Profile:
    """Seed everything and compute from here on in the profile's precision (load MNIST after it); in a
    notebook, tables show a missing value as a blank cell. With ``namespace`` (the notebook's ``globals()``),
    first refuse a value under a name other than ``profile``, ``seed`` and ``parameters``
    (:func:`genrob.params.refuse_unknown_parameters`)."""
    if namespace is not None:
        refuse_unknown_parameters(namespace, {"profile", "seed", *parameters})
    profile = get_profile(profile)
    use_precision(profile.torch_dtype)
    seed_everything(seed)
    _blank_missing_values()
    return profile


def table_html(table: pd.DataFrame) -> str:
    """A table as the book shows it: pandas' notebook HTML, with a missing value as a blank cell, not ``NaN``,
    and every model or attack code name in its labels and text cells as a reader calls it (:func:`readable`)."""
    def named(value):
        return readable(value) if isinstance(value, str) else value

    table = table.rename(index=named, columns=named)
    for position, dtype in enumerate(table.dtypes):
        if not pd.api.types.is_numeric_dtype(dtype):
            table.iloc[:, position] = table.iloc[:, position].map(named)
    with pd.option_context("display.max_colwidth", None):  # a claim or a check is read whole, never cut at "..."
        html = table.to_html(na_rep="", notebook=True, max_rows=pd.get_option("display.max_rows"),
                             max_cols=pd.get_option("display.max_columns"),
                             show_dimensions=pd.get_option("display.show_dimensions"))
    # A narrow column may break "0.43 [0.37, 0.50]" between the share and its interval, never inside the interval.
    return INTERVAL.sub(r"[\1,&nbsp;\2]", html)


#: An interval as :func:`genrob.results.interval_text` writes it.
INTERVAL = re.compile(r"\[(\d+\.\d+), (\d+\.\d+)\]")


def _blank_missing_values() -> None:
    """Render every DataFrame of the running notebook with :func:`table_html` (no-op outside IPython)."""
    try:
        from IPython import get_ipython
    except ImportError:
        return
    shell = get_ipython()
    if shell is not None:
        shell.display_formatter.formatters["text/html"].for_type(pd.DataFrame, table_html)


def which_book(profile: Profile | str) -> str:
    """One Markdown line: whether the page was rendered from the evidence store or computed here."""
    name = get_profile(profile).name
    if store_only():
        return (f"**Which book:** the `{name}` evidence, rendered from the evidence store `evidence/{name}/` "
                "in the repository (`make book`): every number on this page was computed by the "
                "evidence run (`python -m genrob evidence`), and nothing was trained or attacked to show it.")
    return (f"**Which book:** computed on the machine that built it (`make book`, profile `{name}`), from "
            "scratch or from that machine's cache, not read from the evidence store.")


def provenance(config: SweepConfig, *, book: bool = True) -> str:
    """Markdown: the profile, n, grids and code version behind a page's numbers, and (``book``) which book
    the page belongs to (:func:`which_book`)."""
    line = (f"**Numbers on this page:** profile `{config.profile.name}` ({config.profile.description}); "
            f"n = {config.n} test images per attack (seed {config.seed}); l_inf eps {list(config.linf_eps)}, "
            f"l_2 eps {list(config.l2_eps)}; code version `{code_version()}`.")
    return f"{which_book(config.profile)}\n\n{line}" if book else line


def results_provenance(results: pd.DataFrame, *, book: bool = False) -> str:
    """One Markdown line: which code versions computed the rows shown, and their summed wall time; with
    ``book``, which book the page belongs to first (:func:`which_book`)."""
    versions = ", ".join(f"`{v}`" for v in sorted(results["code_version"].astype(str).unique()))
    line = (f"**Results table:** {len(results)} rows for this page, computed by code version {versions} "
            f"in {attack_seconds(results).sum():.0f} s of attack time.")
    return f"{which_book(results['profile'].iloc[0])}\n\n{line}" if book and len(results) else line


def robustness_table(results: pd.DataFrame, *, norm: str) -> pd.DataFrame:
    """Robust accuracy of the ``norm`` attacks as a (model, attack) x eps table, n and clean accuracy
    first, each share with its 95% interval (``0.43 [0.37, 0.50]``), models and attacks by the names a
    reader knows (:mod:`genrob.names`)."""
    part = results[results["norm"] == norm]
    rows = {}
    for model in dict.fromkeys(part["model"]):
        for attack in (a for a in ATTACKS if a in set(part["attack"])):
            cell = part[(part["model"] == model) & (part["attack"] == attack)].sort_values("eps")
            if len(cell):
                n = int(cell["n"].iloc[0])
                robust = {f"{eps:g}": fraction_text(acc, n)
                          for eps, acc in zip(cell["eps"], cell["robust_accuracy"])}
                rows[(model_name(model), attack_name(attack))] = {
                    "n": n, "clean": fraction_text(cell["clean_accuracy"].iloc[0], n), **robust}
    if not rows:
        return pd.DataFrame()
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.names = ["model", "attack"]
    table.columns.name = f"{NORM_NAMES[norm]} eps"
    return table


def evaluation_images(data: MNIST, config: SweepConfig) -> Split:
    """The test images every attack of the chapter runs on."""
    return evaluation_subset(data.test, config.n, seed=config.seed)


def adversarial_examples_figure(models: dict[str, nn.Module], data: MNIST, config: SweepConfig, *,
                                images: int = 6, attacks: tuple[str, ...] = EXAMPLE_ATTACKS) -> plt.Figure:
    """A few test digits (drawn with another seed than the evaluated ones) and what each attack makes of them."""
    shown = evaluation_subset(data.test, images, seed=config.seed + 1)
    examples, adversarials = adversarial_examples(models, list(attacks), shown, profile=config.profile,
                                                  seed=config.seed)
    return plots.adversarial_examples(examples, adversarials, shown.x)


#: The EOT comparison's sweep of a chapter (:func:`genrob.params.eot_config`), as the notebooks call it.
eot_config = params.eot_config


def training_summary(models: tuple[str, ...], profile) -> pd.DataFrame:
    """Per model, what its training reported beyond the weights: the epoch kept, its validation
    score, and any fitted scalars (a noise level, couplings). Training times vary run to run and
    are in :func:`genrob.models.training_report`."""
    rows = []
    for name in models:
        report = training_report(name, profile)["report"]
        rows.append({"model": name, "best_epoch": report["best_epoch"],
                     **{key: value for key, value in report.items()
                        if key.startswith("val_") and not key.endswith("_per_epoch")},
                     **{key: report[key] for key in ("sigma", "couplings") if key in report}})
    return pd.DataFrame(rows).set_index("model").round(DECIMALS)


def clean_table(clean: pd.DataFrame, *, subset: pd.DataFrame | None = None) -> pd.DataFrame:
    """Clean accuracy (from :func:`genrob.evaluate.clean_accuracy`) on the whole test set and, given
    ``subset`` (the same on the images the attacks run on), on the attacked images, each with its n and
    95% interval, beside what the paper's text states (where it says so, quoted)."""
    stated = paper_clean_accuracy().set_index("paper_model")
    table = pd.DataFrame(index=pd.Index([model_name(m) for m in clean["model"]], name="model"))
    table["test set, n"] = clean["n"].to_numpy()
    table["test set"] = [fraction_text(a, n) for a, n in zip(clean["accuracy"], clean["n"])]
    if subset is not None:
        attacked = subset.set_index("model")
        table["attacked images, n"] = [int(attacked.loc[m, "n"]) for m in clean["model"]]
        table["attacked images"] = [fraction_text(attacked.loc[m, "accuracy"], attacked.loc[m, "n"])
                                    for m in clean["model"]]
    table["the paper states"] = [stated["source"].get(get_spec(m).paper_name, "not stated") for m in clean["model"]]
    return table


def compare_pair(config: SweepConfig, results: pd.DataFrame, first: str, second: str, *,
                 linf_eps: float = 0.3, l2_eps: float = 2.0) -> pd.DataFrame:
    """Per attack, at one eps per norm: which of two models keeps more accuracy, image by image.

    Each model's robust accuracy is shown with its 95% interval; ``<model> only`` counts the
    images that survive for that model and not the other.

    Both models were attacked on the chapter's images (``config``'s subset), so
    the comparison is paired (:func:`genrob.prose.judged`): one is more robust by
    more than the margin, the two are equal within it, or the verdict is
    *undecided at this n*, with the number of images that would decide it at the
    observed rates. The eps used is the one of the results' grid closest to
    ``linf_eps`` or ``l2_eps``.
    """
    rows = []
    for attack in (a for a in ATTACKS if a in set(results["attack"])):
        cell = results[results["attack"] == attack]
        target = linf_eps if cell["norm"].iloc[0] == "linf" else l2_eps
        eps = min(cell["eps"].unique(), key=lambda e: abs(e - target))
        a = cell[(cell["model"] == first) & (cell["eps"] == eps)]
        b = cell[(cell["model"] == second) & (cell["eps"] == eps)]
        if a.empty or b.empty:
            continue
        survives = {}
        for model in (first, second):
            outcome = per_image_outcome(config, model, attack, eps)
            survives[model] = pd.Series(outcome["clean_correct"] & ~outcome["fooled"])
        pair = paired(survives[first], survives[second])
        finding, needed = prose.judged(pair)
        one, other = model_name(first), model_name(second)
        verdict = prose.ordering(first, second, finding)
        rows.append({"attack": attack_name(attack), "eps": eps,
                     one: fraction_text(a["robust_accuracy"].iloc[0], a["n"].iloc[0]),
                     other: fraction_text(b["robust_accuracy"].iloc[0], b["n"].iloc[0]),
                     f"{one} only": pair.model_only, f"{other} only": pair.than_only,
                     "verdict": verdict, "n_to_decide": needed})
    return pd.DataFrame(rows).set_index("attack")


def counterpart_pairs(models: Sequence[str]) -> list[tuple[str, str]]:
    """(generative model, discriminative counterpart) for every such pair among ``models``."""
    return [(model, other) for model in models if get_spec(model).kind == "generative"
            for other in get_spec(model).counterparts if other in models]


def _page_pairs(config: SweepConfig, results: pd.DataFrame, pairs: list[tuple[str, str]], *,
                linf_eps: float, l2_eps: float) -> list[tuple[str, float, int, str, str, Paired]]:
    """(norm, eps, attacks, first, second, paired outcome) for each pair, at the page's eps nearest
    ``linf_eps`` and ``l2_eps``: each model's worst case over the page's attacks there, image by image."""
    compared = []
    for norm, target in (("linf", linf_eps), ("l2", l2_eps)):
        rows = results[results["norm"] == norm]
        if rows.empty:
            continue
        eps = min(rows["eps"].unique(), key=lambda e: abs(e - target))
        rows = rows[rows["eps"] == eps]
        survivors: dict[tuple[str, str, float], np.ndarray] = {}
        adaptive.worst_case(config, norm=norm, results=rows, survivors=survivors)
        compared += [(norm, eps, rows["attack"].nunique(), first, second,
                      paired(pd.Series(survivors[(first, norm, eps)]), pd.Series(survivors[(second, norm, eps)])))
                     for first, second in pairs if (first, norm, eps) in survivors and (second, norm, eps) in survivors]
    return compared


def _study_pairs(evidence: list[adaptive.FamilyEvidence], *, linf_eps: float,
                 l2_eps: float) -> list[tuple[str, float, str, str, Paired]]:
    """(norm, eps, first, second, paired outcome) for each generative model and counterpart of the adaptive
    evaluation: worst case against worst case on the images both saw (nested subsets across families)."""
    survivors = {key: alive for family in evidence for key, alive in family.survivors.items()}
    return [(norm, eps, first, second, paired(survivors[(first, norm, eps)], survivors[(second, norm, eps)]))
            for norm, eps in (("linf", linf_eps), ("l2", l2_eps)) for first, second in study_pairs(evidence)
            if (first, norm, eps) in survivors and (second, norm, eps) in survivors]


def conclusions(config: SweepConfig, results: pd.DataFrame, pairs: list[tuple[str, str]], *,
                linf_eps: float = 0.3, l2_eps: float = 2.0) -> str:
    """What this page's results say about each (generative, counterpart) pair, in generated sentences
    (:func:`genrob.prose.compare_sentence`): at one eps per norm, each model's worst case over the page's
    attacks, image by image on the page's images, and McNemar's test on the difference (the numbers of
    :func:`pair_table`)."""
    return "\n\n".join(
        prose.compare_sentence(first, second, pair, norm=norm, eps=eps,
                               under=prose.attacks_of_page(attacks, NORM_NAMES[norm]))
        for norm, eps, attacks, first, second, pair in _page_pairs(config, results, pairs, linf_eps=linf_eps,
                                                                   l2_eps=l2_eps))


def pair_table(config: SweepConfig, results: pd.DataFrame, pairs: list[tuple[str, str]] | None = None, *,
               linf_eps: float = 0.3, l2_eps: float = 2.0) -> pd.DataFrame:
    """The numbers :func:`conclusions` states, as a table: per pair and budget, each model's worst case
    over the page's attacks on the same images with its 95% interval, the images only one keeps,
    McNemar's p-value and the finding (:func:`genrob.prose.compare_row`)."""
    pairs = pairs if pairs is not None else counterpart_pairs(config.models)
    rows = [prose.compare_row(first, second, pair, norm=norm, eps=eps)
            for norm, eps, _, first, second, pair in _page_pairs(config, results, pairs, linf_eps=linf_eps,
                                                                 l2_eps=l2_eps)]
    return pd.DataFrame(rows).set_index("budget") if rows else pd.DataFrame()


def study_pair_table(evidence: list[adaptive.FamilyEvidence], *, linf_eps: float = adaptive.HEADLINE_EPS,
                     l2_eps: float = 2.0) -> pd.DataFrame:
    """:func:`pair_table` for the adaptive evaluation: every generative model against every counterpart,
    worst case over every attack run on both, on the images both saw."""
    rows = [prose.compare_row(first, second, pair, norm=norm, eps=eps)
            for norm, eps, first, second, pair in _study_pairs(evidence, linf_eps=linf_eps, l2_eps=l2_eps)]
    return pd.DataFrame(rows).set_index("budget") if rows else pd.DataFrame()


def findings(config: SweepConfig, results: pd.DataFrame, *, checks: pd.DataFrame | None = None,
             health: pd.DataFrame | None = None, comparison: pd.DataFrame | None = None,
             pairs: list[tuple[str, str]] | None = None) -> str:
    """A family chapter's findings, every sentence generated from the tables on its page: each
    (generative, counterpart) pair compared image by image (:func:`conclusions`; default pairs:
    :func:`counterpart_pairs`), the sanity checks that failed, what the gradient table says, and where
    the paper's numbers lie against our intervals (as Markdown, one paragraph each)."""
    paragraphs = [conclusions(config, results, pairs if pairs is not None else counterpart_pairs(config.models))]
    if checks is not None:
        paragraphs.append(prose.checks_sentence(checks))
    if health is not None:
        paragraphs.append(prose.gradient_sentence(health))
    if comparison is not None:
        paragraphs.append(prose.paper_sentence(comparison))
    return "\n\n".join(p for p in paragraphs if p)


def study_pairs(evidence: list[adaptive.FamilyEvidence]) -> list[tuple[str, str]]:
    """:func:`counterpart_pairs` of every model the adaptive evaluation attacked."""
    return counterpart_pairs([m for family in evidence for m in family.config.models])


def adaptive_findings(evidence: list[adaptive.FamilyEvidence], verdicts: pd.DataFrame, claims_table: pd.DataFrame,
                      *, linf_eps: float = adaptive.HEADLINE_EPS, l2_eps: float = adaptive.HEADLINE_L2_EPS) -> str:
    """The adaptive chapter's findings, generated from its tables: each generative model against each
    counterpart, worst case against worst case on the images both saw (nested subsets across families),
    then the counts of rulings on the paper's numbers and of the findings on its claims over the curve."""
    sentences = [prose.compare_sentence(first, second, pair, norm=norm, eps=eps, under="every attack run on both")
                 for norm, eps, first, second, pair in _study_pairs(evidence, linf_eps=linf_eps, l2_eps=l2_eps)]
    judged = verdicts[verdicts["verdict"].map(adaptive.is_ruling)]
    sentences.append(f"Of the paper's {len(judged)} numbers at l∞ eps {linf_eps:g} ruled on this page: "
                     f"{prose.counts(judged['verdict'])}.")
    if len(claims_table):
        curves = claims.curves(claims_table)
        sentences.append(f"Of its {prose.plural(curves['claim'].nunique(), 'claim')}, each judged in both norms at "
                         f"every eps: {claims.counts(curves)}.")
    return "\n\n".join(sentences)


#: The answer's figure, written beside its page (book/chapters/) and shown from the introduction that includes
#: the page (an included page's paths are the including page's).
ANSWER_FIGURE = "answer-claims.png"


def answer(profile: Profile | str, *, seed: int = 0, data: MNIST | None = None) -> tuple[str, plt.Figure]:
    """The study's answer as the adaptive evidence of ``profile`` gives it, for the book's introduction:
    which book (:func:`which_book`), which profile and how many images, then a few generated paragraphs
    that group the findings (the rulings on the paper's numbers, its claims by the kind of comparison, what
    the thresholding models owe to the threshold), the claims as a picture (:func:`genrob.plots.claims_forest`,
    returned for the page to show as :data:`ANSWER_FIGURE`) and over the curve as one table (as Markdown).
    The sentences pair by pair are the adaptive chapter's."""
    profile = start(profile, seed=seed)
    evidence = [adaptive.evaluate_family(family, profile=profile.name, seed=seed, data=data)
                for family in adaptive.families_to_evaluate()]
    figure = plots.claims_forest(judged_claims(evidence, profile=profile.name), margin=claims.MARGIN)
    return answer_markdown(evidence, profile=profile.name), figure


def _answer_figure() -> str:
    """The MyST figure of :data:`ANSWER_FIGURE`, captioned as :func:`genrob.plots.claims_forest` draws it."""
    return (f"```{{figure}} chapters/{ANSWER_FIGURE}\n:name: answer-claims\n\n"
            "The paper's claims at a glance: for each claim (a row) and norm (a panel), the worst-case robust "
            "accuracy of the model the claim favours minus the other's on the images both saw, with its 95% "
            "interval, at each eps (smallest on top), coloured by the finding there. The grey band is the margin "
            f"of ±{claims.MARGIN:g} within which two models count as equal.\n```")


def verdicts(evidence: list[adaptive.FamilyEvidence], *, profile: str) -> pd.DataFrame:
    """The rulings on the paper's numbers (:func:`genrob.adaptive.verdicts`), on the exact robust accuracy
    where the profile's exact table holds it (:mod:`genrob.exactness`)."""
    return adaptive.verdicts(evidence, exact=exactness.read_exact(profile))


def judged_claims(evidence: list[adaptive.FamilyEvidence], *, profile: str) -> pd.DataFrame:
    """The paper's claims judged at every eps (:func:`genrob.claims.claims`), on the exact outcomes where the
    profile's exact table holds them (:mod:`genrob.exactness`)."""
    return claims.claims(evidence, exact=exactness.read_exact(profile))


def exact_bracket(evidence: list[adaptive.FamilyEvidence], *, profile: str) -> pd.DataFrame:
    """The exact robust accuracy beside the attacks' worst case (:func:`genrob.exactness.bracket`)."""
    return exactness.bracket(evidence, exactness.read_exact(profile))


def exact_bracket_text(evidence: list[adaptive.FamilyEvidence], *, profile: str) -> str:
    """:func:`exact_bracket` in words (:func:`genrob.prose.exact_sentence`)."""
    return prose.exact_sentence(exact_bracket(evidence, profile=profile), profile=profile)


def exact_coverage_text(evidence: list[adaptive.FamilyEvidence], *, profile: str) -> str:
    """For the models of ``evidence``: how each one's exact robust accuracy is solved, or why it is not
    (:func:`genrob.prose.coverage_text`)."""
    models = list(dict.fromkeys(m for family in evidence for m in family.config.models))
    return prose.coverage_text(exactness.coverage(models, profile))


#: How many of the images the attacks missed the bracket table names (by test-set index).
MISSED_LISTED = 6


def exact_bracket_table(evidence: list[adaptive.FamilyEvidence], *, profile: str) -> pd.DataFrame:
    """:func:`exact_bracket` as a reader reads it: per model and budget, the exact robust accuracy (with its
    95% interval; a bracket where images stay undecided), the attacks' worst case on the same images, the
    images they missed (the first :data:`MISSED_LISTED` by test-set index) and those they broke against a
    certificate, and the solver's seconds per image."""
    bracket = exact_bracket(evidence, profile=profile)
    return pd.DataFrame({
        "model": [model_name(m) for m in bracket["model"]],
        "budget": [budget(norm, eps) for norm, eps in zip(bracket["norm"], bracket["eps"])],
        "exact": [fraction_text(low, n) if low == high else f"[{low:.3f}, {high:.3f}] ({undecided} undecided)"
                  for low, high, n, undecided in zip(bracket["lower"], bracket["upper"], bracket["n"],
                                                     bracket["undecided"])],
        "attacks' worst case": [fraction_text(a, n) for a, n in zip(bracket["attacked"], bracket["n"])],
        "missed by the attacks": bracket["missed"].to_numpy(),
        "missed: test images": [", ".join(map(str, images[:MISSED_LISTED])) + (
            f" and {len(images) - MISSED_LISTED} more" if len(images) > MISSED_LISTED else "")
            for images in bracket["missed_images"]],
        "broken yet certified": bracket["contradicted"].to_numpy(),
        "solver s / image": (bracket["solver_seconds"] / bracket["n"]).round(3).to_numpy(),
    }).set_index(["model", "budget"])


def answer_markdown(evidence: list[adaptive.FamilyEvidence], *, profile: str) -> str:
    """:func:`answer` from the evidence at hand."""
    sizes = sorted({int(family.config.n) for family in evidence})
    thresholding = {m for family in evidence for m in params.thresholding_models(family.config)}
    rulings = verdicts(evidence, profile=profile)
    claims_table = judged_claims(evidence, profile=profile)
    curves = claims.curves(claims_table)
    worst = pd.concat([family.worst_case for family in evidence], ignore_index=True)
    lead = (f"From the `{profile}` profile's adaptive evaluation ({', '.join(map(str, sizes))} test images per "
            "model, by family; every attack of the *Are they really robust?* chapter, an image counted robust only "
            "if it survives all of them). Each sentence is written by the code from those results; the comparisons "
            "pair by pair are in that chapter.")
    parts = [which_book(profile), lead, prose.rulings_sentence(rulings, eps=adaptive.HEADLINE_EPS),
             *prose.claims_paragraphs(claims_table, thresholding=thresholding),
             prose.threshold_sentence(worst, thresholding=thresholding, linf_eps=adaptive.HEADLINE_EPS,
                                      l2_eps=adaptive.HEADLINE_L2_EPS),
             _answer_figure(),
             "The paper's claims over the curve, norm by norm:", prose.markdown_table(claims.table(curves))]
    return "\n\n".join(part for part in parts if part)


def verdict_summary(verdicts: pd.DataFrame) -> str:
    """The verdicts of :func:`compare_pair` as Markdown, attacks grouped by verdict."""
    lines = []
    for verdict, group in verdicts.groupby("verdict", sort=False):
        attacks = ", ".join(f"{a} (eps {e:g})" for a, e in zip(group.index, group["eps"]))
        lines.append(f"- **{verdict}**: {attacks}")
    return "\n".join(lines)
