"""The evidence store: what the adaptive evaluation found, kept in the repository as small open files.

``evidence/<profile>/`` holds, for every family the adaptive chapter evaluates,
the results rows it read (``results.csv``, the results table's columns plus
``family``), which test images it ran on (``images.csv``) and, per row, which of
them the model classified correctly and which the attack fooled
(``outcomes.csv``), and when and where the store was written (``store.json``).
That is everything the worst case, the rulings on the paper's numbers and the
paired claims need: :func:`load` rebuilds the adaptive evidence from it without
a model, MNIST or the cache, so the README's headline is recomputed from files
in git (``evidence/README.md`` gives the schema).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from genrob import adaptive, prose
from genrob.adaptive import FamilyEvidence
from genrob.environment import REPO_ROOT, atomic_write, cpu_model, thread_count
from genrob.models import get_spec
from genrob.profiles import get_profile
from genrob.results import COLUMNS, TEXT_COLUMNS, with_every_column

EVIDENCE_DIR = REPO_ROOT / "evidence"
#: What identifies one attack run's per-image outcome within a profile's store.
OUTCOME_KEY = ["model", "attack", "eps", "n", "seed"]


def store_dir(profile: str) -> Path:
    return EVIDENCE_DIR / get_profile(profile).name


def _bits(values: np.ndarray) -> str:
    """One character per image, ``1`` for True: a 200-image outcome is one short CSV cell."""
    return "".join("1" if v else "0" for v in np.asarray(values, bool))


def _unbits(text: str) -> np.ndarray:
    return np.frombuffer(str(text).encode(), dtype=np.uint8) == ord("1")


def write(evidence: list[FamilyEvidence], *, profile: str, date: str) -> Path:
    """Write the store of ``profile`` from the adaptive ``evidence`` (each row's per-image outcome read
    where the evidence read it, the sweep's cache), replacing what was there; returns its folder."""
    folder = store_dir(profile)
    results, images, outcomes = [], [], []
    for family in evidence:
        config = family.config
        name = get_spec(config.models[0]).family  # the adaptive chapter evaluates each model in its own family
        results.append(family.results.assign(family=name)[[*COLUMNS, "family"]])
        first_key = next(iter(family.survivors))
        subset = family.survivors[first_key].index.to_numpy()
        images.append(pd.DataFrame({"n": config.n, "seed": config.seed, "position": np.arange(len(subset)),
                                    "test_index": subset}))
        for row in family.results.drop_duplicates(OUTCOME_KEY).itertuples():
            arrays = family.outcome(row.model, row.attack, row.eps)
            outcomes.append({"model": row.model, "attack": row.attack, "eps": row.eps, "n": row.n,
                             "seed": row.seed, "clean_correct": _bits(arrays["clean_correct"]),
                             "fooled": _bits(arrays["fooled"])})
    tables = {"results.csv": pd.concat(results, ignore_index=True),
              "images.csv": pd.concat(images, ignore_index=True).drop_duplicates(["n", "seed", "position"]),
              "outcomes.csv": pd.DataFrame(outcomes)}
    folder.mkdir(parents=True, exist_ok=True)
    for name, table in tables.items():
        atomic_write(folder / name, lambda tmp, table=table: table.to_csv(tmp, index=False))
    provenance = {"profile": get_profile(profile).name, "written": date,
                  "code_versions": sorted({str(v) for v in tables["results.csv"]["code_version"]}),
                  "written_on": {"cpu": cpu_model(), "threads": thread_count()},
                  "attack_wall_time_s": round(float(tables["results.csv"]["wall_time_s"].sum()), 1)}
    atomic_write(folder / "store.json",
                 lambda tmp: tmp.write_text(json.dumps(provenance, indent=2) + "\n"))
    return folder


def provenance(profile: str) -> dict:
    """The store's ``store.json``: profile, date written, code versions of its rows, machine."""
    path = store_dir(profile) / "store.json"
    if not path.exists():
        raise FileNotFoundError(f"no evidence store for the {profile!r} profile at {path.parent}; "
                                f"python -m genrob headline --profile {profile} writes it")
    return json.loads(path.read_text())


def stored_tables(profile: str) -> tuple[pd.DataFrame, pd.DataFrame, dict[tuple, dict[str, np.ndarray]]]:
    """The store of ``profile`` as written: its results rows, its images, and each row's per-image
    arrays (``clean_correct``, ``fooled``) by :data:`OUTCOME_KEY` (eps rounded to 10 places)."""
    provenance(profile)  # a clear error where there is no store
    folder = store_dir(profile)
    results = with_every_column(pd.read_csv(folder / "results.csv", dtype=TEXT_COLUMNS))
    images = pd.read_csv(folder / "images.csv")
    outcomes = pd.read_csv(folder / "outcomes.csv", dtype={"clean_correct": str, "fooled": str})
    by_key = {(r.model, r.attack, round(float(r.eps), 10), int(r.n), int(r.seed)):
              {"clean_correct": _unbits(r.clean_correct), "fooled": _unbits(r.fooled)} for r in outcomes.itertuples()}
    return results, images, by_key


def subset_images(images: pd.DataFrame, *, n: int, seed: int) -> np.ndarray:
    """The test-set indices of the store's evaluation subset of ``n`` images drawn with ``seed``, in order."""
    return images[(images["n"] == n) & (images["seed"] == seed)].sort_values("position")["test_index"].to_numpy()


def load(profile: str) -> list[FamilyEvidence]:
    """The adaptive evidence of ``profile`` rebuilt from its store alone: worst cases, checks and
    per-image survivors judged exactly as :func:`genrob.adaptive.evaluate_family` judges the cache."""
    results, images, by_key = stored_tables(profile)
    evidence = []
    for family, rows in results.groupby("family", sort=False):
        rows = rows.drop(columns="family").reset_index(drop=True)
        n, seed = int(rows["n"].iloc[0]), int(rows["seed"].iloc[0])
        config = adaptive.family_config(family, profile=profile, n=n, seed=seed,
                                        models=list(dict.fromkeys(rows["model"])))

        def outcome(model: str, attack: str, eps: float, n: int = n, seed: int = seed) -> dict[str, np.ndarray]:
            return by_key[(model, attack, round(float(eps), 10), n, seed)]

        evidence.append(adaptive.judge_family(config, rows, images=subset_images(images, n=n, seed=seed),
                                              outcome=outcome))
    return evidence


def headline(profile: str) -> tuple[str, pd.DataFrame]:
    """The README's headline block (:func:`headline_markdown`) and the verdicts behind it,
    computed from the store of ``profile`` alone: what ``python -m genrob headline`` writes and what the
    README's test recomputes."""
    found = load(profile)
    verdicts = adaptive.verdicts(found)
    written = provenance(profile)
    block = headline_markdown(verdicts, profile=written["profile"], claims=adaptive.claims(found),
                              code_version=", ".join(written["code_versions"]), date=written["written"],
                              source=f"the evidence store `evidence/{written['profile']}/`")
    return block, verdicts


#: The README's headline block lies between these two lines (written by ``python -m genrob headline``).
HEADLINE_MARKERS = ("<!-- headline: start (written by python -m genrob headline) -->", "<!-- headline: end -->")


def headline_markdown(verdicts: pd.DataFrame, *, profile: str, claims: pd.DataFrame | None = None,
                      code_version: str, date: str, source: str = "the results table") -> str:
    """The headline table (:func:`genrob.adaptive.verdicts`) as Markdown: per model at l_inf eps 0.3,
    the paper's number, ours under its attacks and our worst case over every attack with its 95% interval,
    and the ruling; then the counts of rulings, the claims' findings (:func:`genrob.adaptive.claims`),
    and the provenance (profile, ``source``, code version, date) the README's test checks."""
    lines = [f"Robust accuracy at l_inf eps 0.3 (`{profile}` profile; n test images per model; generative "
             "models in bold). `paper`: the lowest the paper reports for the model under any of its attacks; "
             "the last column rules on it by our worst case's 95% interval (see the adaptive chapter):", "",
             "| model | n | clean | paper | ours, paper's attacks | ours, worst case [95% interval] "
             "| the paper's number |",
             "| --- | ---: | ---: | ---: | ---: | ---: | --- |"]
    for row in verdicts.itertuples():
        name = f"**{row.model}**" if row.kind == "generative" else row.model
        paper = "-" if pd.isna(row.paper) else f"{row.paper:.2f}"
        ruling = row.verdict if pd.isna(row.n_to_decide) else f"{row.verdict} (n = {int(row.n_to_decide)} would decide)"
        lines.append(f"| {name} | {row.n} | {row.clean:.2f} | {paper} | {row.ours_paper_attacks:.2f} "
                     f"| {row.worst_case:.2f} [{row.worst_ci_low:.2f}, {row.worst_ci_high:.2f}] | {ruling} |")
    judged = verdicts[verdicts["verdict"] != "not in the paper"]
    lines += ["", f"Of the paper's {len(judged)} numbers here: {prose.counts(judged['verdict'])}."]
    if claims is not None and len(claims):
        lines += [f"Of its {len(claims)} comparisons ({claims['claim'].nunique()} claims, at l_inf eps 0.3 and "
                  f"l_2 eps 2, each by McNemar's test on the images both models saw): "
                  f"{prose.counts(claims['finding'])}:", "", adaptive.claims_summary(claims)]
    lines += ["", f"Written by `python -m genrob headline --profile {profile}` from {source} "
                  f"(results of code version `{code_version}`, {date})."]
    return "\n".join(lines)


def replace_headline(text: str, block: str) -> str:
    """``text`` (the README) with the lines between :data:`HEADLINE_MARKERS` replaced by ``block``."""
    start, end = HEADLINE_MARKERS
    if text.count(start) != 1 or text.count(end) != 1 or text.index(start) > text.index(end):
        raise ValueError(f"the README needs one {start!r} line and, after it, one {end!r} line")
    before, rest = text.split(start)
    return before + start + "\n" + block.strip() + "\n" + end + rest.split(end, 1)[1]
