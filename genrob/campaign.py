"""A profile's evidence regenerated as one resumable background run (``python -m genrob evidence``).

Family by family, the run trains the models (or takes the weights the store
kept), runs the chapter's sweep model by model and attack by attack, the EOT
comparison and the adaptive evaluation, exactly as the chapters and
``python -m genrob adaptive`` would. Every few minutes, and after each model and
family, it publishes what finished into the evidence store
(:func:`genrob.evidence.export`, with the trained weights) and commits the
store to git, so that nothing finished is lost when the run stops, whatever
stops it; stopped in a training, it keeps that training's last finished epoch
too (:func:`genrob.evidence.keep_training`). Started again, on any machine, it
first puts the store back into its cache (:func:`genrob.evidence.restore`) and
goes on from there. Once every family is complete, the kept weights leave the
working tree for git's history (:func:`archive_complete_store`), from which a
later run or ``verify`` restores them.

:func:`status` is the progress report: per family, the results rows planned and
stored, the attack time they took, the training time of its models, and the
hours left estimated from the costs measured so far (seconds per image of each
model and attack; for a run going on in parts, of its finished parts; where a model
or attack has no measurement yet, the default profile's store, scaled by each
attack's budget: :func:`genrob.attacks.cost_ratio`).
"""

from __future__ import annotations

import dataclasses
import datetime
import threading
from pathlib import Path
from types import TracebackType
from typing import Callable

import numpy as np
import pandas as pd

from genrob import adaptive, evaluate, evidence
from genrob.attacks import ATTACKS, attack_config_hash, cost_ratio, make_attack
from genrob.cost import attack_seconds
from genrob.data import MNIST, load_mnist
from genrob.environment import code_version, commit, report
from genrob.models import checkpoint_path, get_spec, load_model
from genrob.models.registry import families
from genrob.params import SweepConfig, eot_config, sweep_config
from genrob.profiles import get_profile
from genrob.results import EVERY_IMAGE, attack_parts_dir, read_results, row_key

#: The order families run in: the cheapest first, so that whole families reach the store early; the
#: convolutional family, about half of the extended profile's compute, last.
RUN_ORDER = ("naive_bayes", "mixture", "markov_random_field", "vae", "reference", "conv_vae")
#: Minutes between two publications of the store while a run goes on.
PUBLISH_EVERY_MIN = 20.0


def chapter_configs(family: str, profile: str) -> list[SweepConfig]:
    """The sweeps a family's chapter runs (its attacks on its models, then the EOT comparison), where the
    family has a chapter: the study's families (the reference has only the adaptive evaluation)."""
    if family not in families(study_only=True):
        return []
    chapter = sweep_config(profile=profile, family=family)
    eot = eot_config(chapter)
    return [chapter, *([eot] if eot.models else [])]


def planned_rows(family: str, profile: str) -> pd.DataFrame:
    """One row per results row the run of ``family`` writes: model, attack, eps, n, its key (cascade rows,
    whose key depends on the images earlier attacks left, by model, attack, eps and n only)."""
    config = adaptive.family_config(family, profile=profile)
    parts = [(c, False) for c in chapter_configs(family, profile)]
    parts += [(dataclasses.replace(config, attacks=adaptive.PAPER_ATTACKS + adaptive.COMPLETE_ADAPTIVE), False),
              *((c, False) for c in adaptive.check_configs(config)),
              *((c, True) for c in adaptive.cascade_configs(config))]
    rows = []
    for part, cascaded in parts:
        for model in part.models:
            model_config = get_spec(model).config_hash(part.profile)
            for attack in part.attacks:
                spec = make_attack(attack, part.profile)
                base = {"profile": part.profile.name, "model": model, "model_config": model_config,
                        "attack": attack, "attack_config": attack_config_hash(spec), "n": part.n,
                        "seed": part.seed, "images": "cascade" if cascaded else EVERY_IMAGE}
                rows += [{"family": family, "model": model, "attack": attack, "eps": eps, "n": part.n,
                          "cascade": cascaded, "minimisation": spec.minimisation,
                          "key": row_key({**base, "eps": eps}), "run": _run_name({**base, "eps": eps})}
                         for eps in part.eps_for(attack)]
    return pd.DataFrame(rows).drop_duplicates("key").reset_index(drop=True)


def _run_name(row: dict) -> str:
    """A planned row's run as :func:`genrob.evaluate.images_in_parts` names it (a cascade's: none yet)."""
    if row["images"] != EVERY_IMAGE:
        return ""
    path = evaluate.per_image_path(row)
    return f"{path.parent.name}/{path.stem}"


def _done(table: pd.DataFrame) -> tuple[set[tuple], set[tuple]]:
    """The keys of ``table``'s rows, and (model, attack, eps, n) of its cascade rows."""
    cascade = table[table["images"] != EVERY_IMAGE]
    return ({row_key(r) for r in table.to_dict("records")},
            {(m, a, round(float(e), 10), int(n)) for m, a, e, n in
             zip(cascade["model"], cascade["attack"], cascade["eps"], cascade["n"])})


def _seconds_per_image(table: pd.DataFrame) -> pd.Series:
    """Measured attack seconds per image, by (model, attack, cascade): a minimisation search's time is on
    each of its eps rows, so it is counted once per search."""
    if not len(table):
        return pd.Series(dtype=float)
    once = table["attack"].map(lambda a: a in ATTACKS and ATTACKS[a].minimisation).astype(bool)
    runs = pd.concat([table[~once], table[once].drop_duplicates(["model", "attack", "n", "seed", "images"])])
    per = runs["wall_time_s"].astype(float) / runs["n"].astype(float)
    return per.groupby([runs["model"], runs["attack"], runs["images"] != EVERY_IMAGE]).mean()


def status(profile: str, *, families: list[str] | None = None) -> pd.DataFrame:
    """Progress of the evidence run of ``profile``: per family, rows planned, stored (in the store or in this
    machine's cache), attack hours they took, training hours of the models whose weights the store keeps
    (a model that two families evaluate counted in the first), and the hours of attacks left estimated
    from measured costs."""
    profile = get_profile(profile).name
    try:
        stored, _, _ = evidence.stored_tables(profile)
        complete = evidence.complete_families(profile)
    except FileNotFoundError:
        stored, complete = read_results(profile).iloc[:0].assign(family=[]), []
    table = pd.concat([stored.drop(columns="family"), read_results(profile)], ignore_index=True)
    table = table[~table.apply(row_key, axis=1).duplicated()]  # a row both stored and in the cache, once
    keys, cascaded = _done(table)
    measured = _seconds_per_image(table)
    try:  # costs not measured yet: the default profile's, scaled by each attack's budget
        fallback = _seconds_per_image(evidence.stored_tables("default")[0])
        fallback *= [cost_ratio(attack, profile, "default") if attack in ATTACKS else 1.0
                     for attack in fallback.index.get_level_values("attack")]
    except FileNotFoundError:
        fallback = pd.Series(dtype=float)
    trained = evidence.training_seconds(profile)
    in_parts = pd.concat([evaluate.images_in_parts(evidence.store_dir(profile) / evidence.PARTS),
                          evaluate.images_in_parts(attack_parts_dir(profile))])  # the cache's may be ahead
    in_parts = in_parts.sort_values("images").groupby(level="run").last()
    rows = []
    # a row two families plan (a counterpart in another family's chapter) is counted once, in the first
    plans = pd.concat([planned_rows(family, profile) for family in RUN_ORDER]).drop_duplicates("key")
    first_family = plans.drop_duplicates("model").set_index("model")["family"]  # where a model's training counts
    for family in families or list(RUN_ORDER):
        plan = plans[plans["family"] == family]
        done = np.array([r.key in keys or (r.cascade and (r.model, r.attack, round(float(r.eps), 10), r.n)
                                           in cascaded) for r in plan.itertuples()], bool)
        left = plan[~done]
        # a minimisation attack searches once for every eps of its grid
        left = pd.concat([left[~left["minimisation"]],
                          left[left["minimisation"]].drop_duplicates(["model", "attack", "n"])])
        seconds = [_seconds_left(r, in_parts, measured, fallback) for r in left.itertuples()]
        family_rows = table[table["model"].isin(plan["model"]) & table["n"].isin(plan["n"])]
        checkpoints = {checkpoint_path(m, profile).stem for m in first_family.index[first_family == family]}
        rows.append({"family": family, "complete": family in complete, "rows": len(plan), "stored": int(done.sum()),
                     "attack_hours": round(float(attack_seconds(family_rows).sum()) / 3600, 2),
                     "training_hours": round(sum(trained.get(c, 0.0) for c in checkpoints) / 3600, 2),
                     "hours_left": round(float(np.nansum(seconds)) / 3600, 1),
                     "unmeasured": int(np.isnan(seconds).sum())})
    return pd.DataFrame(rows)


def _seconds_left(row, in_parts: pd.DataFrame, measured: pd.Series, fallback: pd.Series) -> float:
    """Seconds the planned ``row`` will take: a run going on in parts, the images its finished parts do not
    hold at the seconds per image those parts took; any other, its n at :func:`_cost`."""
    if row.run in in_parts.index:
        done = in_parts.loc[row.run]
        return float(done["seconds"]) / float(done["images"]) * (row.n - float(done["images"]))
    return _cost(measured, fallback, row.model, row.attack, row.cascade) * row.n


def _cost(measured: pd.Series, fallback: pd.Series, model: str, attack: str, cascaded: bool) -> float:
    """Seconds per image of ``attack`` on ``model``: measured here where it was, else the fallback's, else
    the other kind of run of the same attack (a cascade's or one on every image); NaN where none is known."""
    for table in (measured, fallback):
        for kind in (cascaded, not cascaded):
            if (model, attack, kind) in table.index:
                return float(table[(model, attack, kind)])
    return float("nan")


def status_text(table: pd.DataFrame) -> str:
    """One line for the whole run: rows stored of planned, families complete, hours left."""
    unmeasured = int(table["unmeasured"].sum())
    return (f"{int(table['stored'].sum())} of {int(table['rows'].sum())} results rows stored, "
            f"{int(table['complete'].sum())} of {len(table)} families complete, "
            f"about {table['hours_left'].sum():.1f} h of attacks left (training not counted)"
            + (f" (and {unmeasured} runs of unmeasured cost)" if unmeasured else ""))


class Publisher:
    """Publishes the run's finished cells into the evidence store, and commits it, every ``every_min``
    minutes from a thread of its own and whenever called."""

    def __init__(self, profile: str, *, commit_to_git: bool = True, every_min: float = PUBLISH_EVERY_MIN,
                 on_family_complete: Callable[[], list[Path]] | None = None) -> None:
        self.profile, self.commit_to_git, self.every_s = profile, commit_to_git, every_min * 60
        self.on_family_complete = on_family_complete
        # families completed in this run, and those whose publication (README included) was committed: a
        # publication that fails is retried whole by the next
        self.completed: set[str] = set()
        self._announced: set[str] = set()
        self._lock, self._stop = threading.Lock(), threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True, name="publish-evidence")

    def __call__(self, *, complete: tuple[str, ...] = (), stopping: bool = False) -> int:
        """Publish what finished; ``stopping`` (the run ends), also the state of a training cut off (kept
        only then: a training state is megabytes, and the store's history keeps every one committed)."""
        with self._lock:
            self.completed.update(complete)
            newly = sorted(self.completed - self._announced)
            kept = evidence.keep_weights(self.profile)
            training = evidence.keep_training(self.profile, unfinished=stopping)
            memo = evidence.keep_memo(self.profile)
            bench = evidence.keep_side_tables(self.profile)
            added = evidence.export(self.profile, date=datetime.date.today().isoformat(), complete=self.completed)
            parts = evidence.keep_parts(self.profile)  # after the rows: a part outlives its run only briefly
            if added or kept or training or memo or bench or parts or newly:
                line = status_text(status(self.profile))
                report(f"published {added} results rows" + (f", weights of {', '.join(kept)}" if kept else "")
                       + (f", training states of {', '.join(training)}" if training else "")
                       + (f", {len(parts)} attack parts added or dropped" if parts else "")
                       + (f", {', '.join(newly)} complete" if newly else "") + f": {line}")
                also = self.on_family_complete() if newly and self.on_family_complete else []
                if self.commit_to_git:
                    commit([evidence.store_dir(self.profile), *also], f"Evidence ({self.profile}): {line}")
            self._announced.update(newly)
            return added

    def safely(self, *, complete: tuple[str, ...] = (), stopping: bool = False) -> None:
        """Publish; a failure (a full disk, git busy beyond waiting) is reported and the run goes on: the
        cells stay in the cache and the next publication takes them."""
        try:
            self(complete=complete, stopping=stopping)
        except Exception as err:  # noqa: BLE001
            report(f"publishing the evidence failed ({err}); the next publication retries")

    def _loop(self) -> None:
        while not self._stop.wait(self.every_s):
            self.safely()

    def __enter__(self) -> "Publisher":
        self._thread.start()
        return self

    def __exit__(self, kind: type | None, error: BaseException | None, trace: TracebackType | None) -> None:
        self._stop.set()
        self._thread.join()
        self.safely(stopping=True)  # what finished before the run ended, however it ended


def run(profile: str, *, families: list[str] | None = None, commit_to_git: bool = True,
        every_min: float = PUBLISH_EVERY_MIN, data: MNIST | None = None,
        on_family_complete: Callable[[], list[Path]] | None = None,
        on_finished: Callable[[], None] | None = None) -> pd.DataFrame:
    """Regenerate the evidence of ``profile`` (every family of :data:`RUN_ORDER`, or ``families``, which are
    evaluated again even where complete, for the runs that depend on what the others found), resuming from
    its store; returns the final :func:`status`. ``on_family_complete`` writes what shows
    the store (the README's block) when a family is complete, and returns the files to commit with it;
    ``on_finished`` runs once every family of :data:`RUN_ORDER` is complete (the chapters, rendered so
    that what they memoise joins the store)."""
    profile = get_profile(profile).name
    chosen = adaptive.families_to_evaluate(families or list(RUN_ORDER))
    report(f"code version {code_version()}")  # read before the run's own commits move the branch
    report(f"restored {evidence.restore(profile)} results rows from the store into the cache")
    data = data if data is not None else load_mnist()
    # A family is run again where the code has added runs since it was complete (a new check), or where it is
    # named: runs that depend on what earlier ones found (margin PGD's budget ladder) are not planned ahead.
    progress = status(profile, families=chosen).set_index("family")
    with Publisher(profile, commit_to_git=commit_to_git, every_min=every_min,
                   on_family_complete=on_family_complete) as publish:
        for family in chosen:
            if (families is None and family in _complete(profile)
                    and progress.at[family, "stored"] == progress.at[family, "rows"]):
                continue
            for config in chapter_configs(family, profile):
                for model in config.models:
                    load_model(model, profile, data=data)  # trained here, or read from the store's weights
                    for attack in config.attacks:
                        evaluate.sweep(dataclasses.replace(config, models=(model,), attacks=(attack,)), data=data)
                    publish.safely()
            adaptive.evaluate_family(family, profile=profile, data=data)
            publish.safely(complete=(family,))
        if on_finished is not None and set(RUN_ORDER) <= set(_complete(profile)):
            on_finished()
    if commit_to_git and set(RUN_ORDER) <= set(_complete(profile)):
        archive_complete_store(profile)
    return status(profile, families=chosen)


def archive_complete_store(profile: str) -> list[str]:
    """Leave the complete store's weights to git's history (:func:`genrob.evidence.archive_weights`) and
    commit the store without them; returns the checkpoints archived."""
    archived = evidence.archive_weights(profile)
    if archived:
        commit([evidence.store_dir(profile)],
               f"Evidence ({profile}): complete; the weights of {len(archived)} models leave the working tree "
               "for git's history, where the store's weights JSON files name the commit that holds them")
        report(f"archived the weights of {', '.join(archived)}")
    return archived


def _complete(profile: str) -> list[str]:
    try:
        return evidence.complete_families(profile)
    except FileNotFoundError:
        return []
