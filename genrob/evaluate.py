"""Clean accuracy, and the sweep of models x attacks x eps into the results table.

The sweep attacks the same fixed, seeded, class-stratified test subset with
every attack, so clean and robust accuracy are measured on the same images.
Each finished attack run is written to the table at once; rows already in the
table are never recomputed.
"""

from __future__ import annotations

import datetime
import hashlib
import math
import time
from pathlib import Path
from typing import Callable, Mapping

import numpy as np
import pandas as pd
import torch
from torch import nn

from genrob.attacks import Attack, attack_config_hash, make_attack, norm_of
from genrob.attacks.base import AttackOutcome
from genrob.contract import Evaluations, counting_evaluations, logit_margin, model_device, predict
from genrob.data import MNIST, Split, evaluation_subset, load_mnist
from genrob.environment import (
    code_version, machine, progress, refuse_computing, report, seed_everything, thread_count, torch_device,
    use_precision,
)
from genrob.models import get_spec, load_model
from genrob.params import SweepConfig
from genrob.results import (
    EVERY_IMAGE, append_rows, attack_parts_dir, existing_keys, fingerprint, load_per_image, memoised,
    per_image_dir, read_results, row_key, save_per_image, wilson_interval,
)

DEFAULT_BATCH_SIZE = 500


def clean_accuracy(models: dict[str, nn.Module], split: Split) -> pd.DataFrame:
    """Accuracy of each model on ``split``, with its 95% Wilson interval."""
    rows = []
    for name, model in models.items():
        predicted = memoised("predictions", fingerprint(model, split.x),
                             lambda: {"labels": predict(model, split.x).numpy()})["labels"]
        correct = int((torch.from_numpy(predicted) == split.y).sum())
        low, high = wilson_interval(correct, len(split))
        rows.append({"model": name, "kind": get_spec(name).kind, "n": len(split),
                     "accuracy": correct / len(split), "ci_low": low, "ci_high": high})
    return pd.DataFrame(rows)


def _row(base: dict, eps: float, clean_correct: np.ndarray, fooled: np.ndarray,
         perturbation: np.ndarray, seconds: float, evaluations: Evaluations, *, device: torch.device,
         attacked: np.ndarray | None = None, broken_before: np.ndarray | None = None,
         computed_on: str | None = None) -> dict:
    """A results row, with where (``computed_on``, default this machine) and when it was computed; a
    cascade's (``attacked`` given) counts as robust only what survived ``broken_before`` and this attack."""
    n = len(clean_correct)
    clean = int(clean_correct.sum())
    broken = fooled if broken_before is None else fooled | broken_before
    robust = int((clean_correct & ~broken).sum())
    low, high = wilson_interval(robust, n)
    sizes = perturbation[fooled]
    return {**base, "eps": float(eps), "attacked": int((clean_correct if attacked is None else attacked).sum()),
            "clean_correct": clean, "clean_accuracy": clean / n,
            "robust_correct": robust, "robust_accuracy": robust / n, "robust_ci_low": low,
            "robust_ci_high": high, "median_perturbation": float(np.median(sizes)) if len(sizes) else math.nan,
            "forward_evals": evaluations.forward, "gradient_evals": evaluations.gradient,
            "wall_time_s": round(seconds, 3), "code_version": code_version(),
            "machine": computed_on or machine(device),
            "threads": thread_count(), "date": datetime.date.today().isoformat()}


def _summary(model: str, attack: str, rows: list[dict], seconds: float) -> str:
    accs = " ".join(f"{r['eps']:g}:{r['robust_accuracy']:.3f}" for r in rows)
    return f"{model} x {attack}: clean {rows[0]['clean_accuracy']:.3f}, robust {accs} ({seconds:.1f}s)"


def _cell_base(config: SweepConfig, model_name: str, attack) -> dict:
    spec = get_spec(model_name)
    return {"profile": config.profile.name, "model": model_name, "model_config": spec.config_hash(config.profile),
            "kind": spec.kind, "attack": attack.name, "attack_config": attack_config_hash(attack),
            "norm": attack.norm, "n": config.n, "seed": config.seed, "images": EVERY_IMAGE}


def per_image_path(row: Mapping, *, minimal: bool = False) -> Path:
    """Where the per-image arrays of a results ``row`` (or of a cell's ``base`` with its ``eps``) live in the
    cache: one file per eps, one per minimisation search (``minimal``)."""
    folder = per_image_dir(row["profile"]) / f"{row['model']}-{row['model_config']}"
    stem = f"{row['attack']}-{row['attack_config']}-n{int(row['n'])}-s{int(row['seed'])}"
    if row["images"] != EVERY_IMAGE:
        stem += f"-{row['images']}"
    return folder / (f"{stem}-minimal.npz" if minimal else f"{stem}-eps{float(row['eps']):g}.npz")


def _per_image_path(config: SweepConfig, base: dict, eps: float | None) -> Path:
    return per_image_path({**base, "eps": eps}, minimal=eps is None)


def per_image_outcome(config: SweepConfig, model: str, attack: str, eps: float, *,
                      data: MNIST | None = None, images: str = EVERY_IMAGE) -> dict[str, np.ndarray]:
    """The per-image arrays of a sweep cell at ``eps`` (``clean_correct``, ``fooled``, ``perturbation``),
    or of a cascade's run on ``images`` (its row's ``images``; ``fooled`` marks what it broke).

    A minimisation attack's search is stored once; what it means at ``eps`` is
    worked out from its adversarials (one forward pass of the model) and kept.
    """
    spec = make_attack(attack, config.profile)
    base = {**_cell_base(config, model, spec), "images": images}
    path = _per_image_path(config, base, eps)
    arrays = load_per_image(path)
    search = load_per_image(_per_image_path(config, base, None)) if spec.minimisation and arrays is None else None
    if search is not None:
        data = data if data is not None else load_mnist()
        subset = evaluation_subset(data.test, config.n, seed=config.seed).to(config.profile.torch_dtype)
        out = spec.outcome(load_model(model, config.profile, data=data), subset.x, subset.y,
                           search["clean_correct"], torch.from_numpy(search["adversarial"]), [eps])
        arrays = {"clean_correct": out.clean_correct, "fooled": out.fooled[0], "perturbation": out.perturbation[0]}
        save_per_image(path, **arrays)
    if arrays is None:
        raise FileNotFoundError(f"no per-image results for {model} x {attack} at eps {eps:g}; run the sweep first")
    return arrays


def minimal_perturbations(config: SweepConfig, results: pd.DataFrame) -> pd.DataFrame:
    """The smallest adversarial perturbation each minimisation attack of ``results`` found, per model and
    image the model got right: its size in the attack's norm, or NaN where none was found within the
    largest eps of the grid (``limit``), read from the sweep's per-image files."""
    rows = []
    for (model, attack), cell in results.groupby(["model", "attack"], sort=False):
        if not make_attack(attack, config.profile).minimisation:
            continue
        limit = float(cell["eps"].max())
        arrays = per_image_outcome(config, model, attack, limit)
        correct = np.flatnonzero(arrays["clean_correct"])
        rows.append(pd.DataFrame({"model": model, "attack": attack, "norm": cell["norm"].iloc[0], "image": correct,
                                  "size": np.where(arrays["fooled"][correct], arrays["perturbation"][correct],
                                                   np.nan), "limit": limit}))
    return pd.concat(rows, ignore_index=True) if rows else pd.DataFrame(
        columns=["model", "attack", "norm", "image", "size", "limit"])


def load_surrogate(attack: Attack, device: torch.device) -> Attack:
    """``attack``, given the trained surrogate model its settings name, if it is a transfer attack
    (attacks load no model themselves)."""
    if "surrogate" in attack.settings and attack.surrogate is None:
        attack.surrogate = load_model(attack.settings["surrogate"], attack.settings["surrogate_profile"], device=device)
    return attack


def _run_cell(model: nn.Module, attack, subset: Split, base: dict, todo: list[float], config: SweepConfig,
              device: torch.device, batch_size: int) -> list[dict]:
    """Run one (model, attack) cell for the eps in ``todo``, writing rows as they finish."""
    refuse_computing(f"{base['model']} x {attack.name} at eps {', '.join(f'{e:g}' for e in todo)}")
    bar = progress(total=len(subset) * (1 if attack.minimisation else len(todo)),
                   desc=f"{base['model']} x {attack.name}", unit="img", leave=False)
    rows: list[dict] = []
    started = time.perf_counter()
    if attack.minimisation:
        # One search answers every eps: keep its adversarials, so a new eps grid
        # needs forward passes only.
        path = _per_image_path(config, base, None)
        cached = load_per_image(path)
        if cached is None:
            t0 = time.perf_counter()
            with counting_evaluations(model) as evaluations:
                clean_correct, adversarial = attack.search(model, subset.x, subset.y, device=device,
                                                           seed=config.seed, batch_size=batch_size, bar=bar)
            cached = {"clean_correct": clean_correct, "adversarial": adversarial.numpy(),
                      "seconds": np.array(time.perf_counter() - t0),
                      "evaluations": np.array([evaluations.forward, evaluations.gradient])}
            save_per_image(path, **cached)
        # A search stored before evaluations were counted reads as none counted.
        searched = Evaluations(*(int(v) for v in cached.get("evaluations", (0, 0))))
        out = attack.outcome(model, subset.x, subset.y, cached["clean_correct"],
                             torch.from_numpy(cached["adversarial"]), todo)
        for k, eps in enumerate(todo):  # what the search means at each eps, for the worst case
            save_per_image(_per_image_path(config, base, eps), clean_correct=out.clean_correct,
                           fooled=out.fooled[k], perturbation=out.perturbation[k])
        rows = [_row(base, eps, out.clean_correct, out.fooled[k], out.perturbation[k], float(cached["seconds"]),
                     searched, device=device) for k, eps in enumerate(todo)]
        append_rows(config.profile, rows)
    else:
        for eps in todo:
            path = _per_image_path(config, base, eps)
            out, seconds, evaluations = attack_in_parts(model, attack, subset, eps, path=path, config=config,
                                                        device=device, batch_size=batch_size, bar=bar)
            save_per_image(path, clean_correct=out.clean_correct, fooled=out.fooled[0],
                           perturbation=out.perturbation[0])
            row = _row(base, eps, out.clean_correct, out.fooled[0], out.perturbation[0], seconds, evaluations,
                       device=device, computed_on=machines_of_parts(path, device))
            append_rows(config.profile, [row])  # written at once: an interruption loses at most this eps
            drop_parts(path)
            rows.append(row)
    bar.close()
    report(_summary(base["model"], attack.name, rows, time.perf_counter() - started))
    return rows


def part_path(path: Path, start: int, stop: int) -> Path:
    """Where the arrays of images ``start:stop`` of the run whose per-image file is ``path`` are kept until
    that run is whole (under :func:`genrob.results.attack_parts_dir`, mirroring the per-image folder)."""
    profile = path.parent.parent.name
    return attack_parts_dir(profile) / path.parent.name / f"{path.stem}-images{start}-{stop}.npz"


def machines_of_parts(path: Path, device: torch.device) -> str:
    """Where the run whose per-image file is ``path`` was computed, for its row: this machine, or, where
    parts of it (:func:`attack_in_parts`) were computed on others (a run stopped here and finished on a
    GPU), each machine once in the order of its parts, joined by `` + `` (the row's ``threads`` stay the
    finishing machine's)."""
    here, names = machine(device), []
    for part in sorted(part_path(path, 0, 0).parent.glob(f"{path.stem}-images*-*.npz"),
                       key=lambda p: int(p.stem.rsplit("-images", 1)[1].split("-")[0])):
        arrays = load_per_image(part)
        name = str(arrays["machine"]) if arrays is not None and "machine" in arrays else "an unrecorded machine"
        if name not in names:
            names.append(name)
    return " + ".join(names) if names and names != [here] else here


def drop_parts(path: Path) -> None:
    """Remove the parts of the run whose per-image file is ``path`` (it is written whole)."""
    for part in part_path(path, 0, 0).parent.glob(f"{path.stem}-images*-*.npz"):
        part.unlink()


def images_in_parts(folder: Path) -> pd.DataFrame:
    """The images the parts kept under ``folder`` (laid out as :func:`part_path` lays them out) hold, and the
    seconds they took, by the run they belong to (index ``<model folder>/<stem of its per-image file>``)."""
    rows = []
    for part in folder.glob("*/*.npz") if folder.is_dir() else ():
        stem, span = part.stem.rsplit("-images", 1)
        start, stop = (int(v) for v in span.split("-"))
        seconds = float(load_per_image(part)["seconds"])
        rows.append({"run": f"{part.parent.name}/{stem}", "images": stop - start, "seconds": seconds})
    return pd.DataFrame(rows, columns=["run", "images", "seconds"]).groupby("run").sum()


def attack_in_parts(model: nn.Module, attack: Attack, subset: Split, eps: float, *, path: Path,
                    config: SweepConfig, device: torch.device, batch_size: int, bar=None,
                    only: np.ndarray | None = None) -> tuple[AttackOutcome, float, Evaluations]:
    """``attack`` at ``eps`` on ``subset`` (on the images of ``only`` where given), with its seconds and
    evaluations: in one go, or where the profile sets :attr:`~genrob.profiles.Profile.attack_part_images`,
    part by part, each seeded on its own and kept (:func:`part_path`) as it finishes, so that a run stopped
    and started again, here or on another machine with the store's parts, computes only the parts missing."""
    size = config.profile.attack_part_images
    if not size or size >= len(subset.y):
        with counting_evaluations(model) as evaluations:
            t0 = time.perf_counter()
            out = attack.run(model, subset.x, subset.y, [eps], device=device, seed=config.seed,
                             batch_size=batch_size, bar=bar, only=only)
        return out, time.perf_counter() - t0, evaluations
    parts = []
    for start in range(0, len(subset.y), size):
        stop = min(start + size, len(subset.y))
        kept = part_path(path, start, stop)
        arrays = load_per_image(kept)
        if arrays is None:
            seed_everything(config.seed)
            t0 = time.perf_counter()
            with counting_evaluations(model) as evaluations:
                out = attack.run(model, subset.x[start:stop], subset.y[start:stop], [eps], device=device,
                                 seed=config.seed, batch_size=batch_size, bar=bar,
                                 only=None if only is None else only[start:stop])
            arrays = {"clean_correct": out.clean_correct, "fooled": out.fooled[0],
                      "perturbation": out.perturbation[0], "seconds": np.array(time.perf_counter() - t0),
                      "evaluations": np.array([evaluations.forward, evaluations.gradient]),
                      "machine": np.array(machine(device))}
            save_per_image(kept, **arrays)
        elif bar is not None:
            bar.update(stop - start)
        parts.append(arrays)
    joined = {k: np.concatenate([part[k] for part in parts]) for k in ("clean_correct", "fooled", "perturbation")}
    out = AttackOutcome(np.array([eps], dtype=float), joined["clean_correct"], joined["fooled"][None],
                        joined["perturbation"][None])
    return (out, float(sum(float(part["seconds"]) for part in parts)),
            Evaluations(*(int(sum(int(part["evaluations"][k]) for part in parts)) for k in (0, 1))))


def _prepared(config: SweepConfig, data: MNIST | None, device: torch.device | str | None
              ) -> tuple[torch.device, MNIST, Split, set[tuple]]:
    """What a sweep or a cascade starts from: the device, MNIST in the profile's precision, the evaluation
    subset, and the keys of the rows the results table already holds."""
    device = torch.device(device) if device is not None else torch_device()
    use_precision(config.profile.torch_dtype)
    data = (data if data is not None else load_mnist()).to(config.profile.torch_dtype)
    return device, data, evaluation_subset(data.test, config.n, seed=config.seed), existing_keys(
        read_results(config.profile))


def sweep(config: SweepConfig, *, data: MNIST | None = None, device: torch.device | str | None = None,
          batch_size: int = DEFAULT_BATCH_SIZE) -> pd.DataFrame:
    """Run every (model, attack, eps) of ``config`` not yet in the results table.

    Returns the rows of the table that ``config`` asks for, in sweep order.
    """
    device, data, subset, done = _prepared(config, data, device)
    wanted: list[tuple] = []
    for model_name in config.models:
        model = None
        for attack_name in config.attacks:
            attack = make_attack(attack_name, config.profile)
            base = _cell_base(config, model_name, attack)
            grid = config.eps_for(attack_name)
            wanted += [row_key({**base, "eps": eps}) for eps in grid]
            todo = [eps for eps in grid if row_key({**base, "eps": eps}) not in done]
            if not todo:
                continue
            if model is None:
                model = load_model(model_name, config.profile, data=data, device=device)
            load_surrogate(attack, device)
            seed_everything(config.seed)
            _run_cell(model, attack, subset, base, todo, config, device, batch_size)
    return _rows_of(config, wanted)


#: Per (model, norm, eps), what a cascade starts from: which images the model classifies correctly and
#: which of them the attacks run before it (on every image) already broke.
BrokenBefore = Callable[[str, str, float], tuple[np.ndarray, np.ndarray]]


def images_id(attacked: np.ndarray) -> str:
    """The ``images`` of a cascade row: a short hash of which images its attack ran on."""
    return "cascade-" + hashlib.sha256(np.packbits(np.asarray(attacked, bool)).tobytes()).hexdigest()[:10]


def cascade(config: SweepConfig, *, before: BrokenBefore, data: MNIST | None = None,
            device: torch.device | str | None = None, batch_size: int = DEFAULT_BATCH_SIZE) -> pd.DataFrame:
    """Run the attacks of ``config`` as a cascade: in their order, each on the images nothing has broken yet.

    Per model and norm, eps by eps from the smallest: an image starts broken if ``before`` says so or if it
    was broken at a smaller eps of the norm (an adversarial within a smaller ball lies in every larger
    one); each attack then runs only on the correctly classified images still standing, and what it breaks
    is taken from the attacks after it. Each run is a results row (its ``images`` name the images it ran
    on, so a change earlier in the cascade reruns what follows) with per-image arrays whose ``fooled`` marks
    the images this attack broke: every broken image is credited to the first attack that broke it.
    Fixed-eps attacks only. Returns the rows in cascade order.
    """
    device, data, subset, done = _prepared(config, data, device)
    wanted: list[tuple] = []
    for model_name in config.models:
        model = None
        for norm in ("linf", "l2"):
            attacks = [make_attack(a, config.profile) for a in config.attacks if norm_of(a) == norm]
            carried = np.zeros(config.n, dtype=bool)
            for eps in (config.linf_eps if norm == "linf" else config.l2_eps) if attacks else ():
                clean_correct, broken = before(model_name, norm, eps)
                broken = broken | carried
                for attack in attacks:
                    todo = clean_correct & ~broken
                    base = {**_cell_base(config, model_name, attack), "images": images_id(todo)}
                    key = row_key({**base, "eps": eps})
                    path = _per_image_path(config, base, eps)
                    arrays = load_per_image(path) if key in done else None
                    if arrays is None:
                        if model is None and todo.any():
                            model = load_model(model_name, config.profile, data=data, device=device)
                        arrays, row = _cascade_cell(model, attack, subset, base, eps, todo, clean_correct, broken,
                                                    path=path, config=config, device=device,
                                                    batch_size=batch_size)
                        save_per_image(path, **arrays)
                        append_rows(config.profile, [row])  # written at once: an interruption loses one run
                        drop_parts(path)
                        done.add(key)
                    wanted.append(key)
                    broken = broken | arrays["fooled"]
                carried = broken
    return _rows_of(config, wanted)


def _cascade_cell(model: nn.Module | None, attack: Attack, subset: Split, base: dict, eps: float,
                  todo: np.ndarray, clean_correct: np.ndarray, broken: np.ndarray, *, path: Path,
                  config: SweepConfig, device: torch.device, batch_size: int) -> tuple[dict[str, np.ndarray], dict]:
    """One cascade run: ``attack`` at ``eps`` on the images of ``todo`` (none: nothing to run)."""
    evaluations, seconds = Evaluations(), 0.0
    fooled, perturbation = np.zeros(len(todo), dtype=bool), np.full(len(todo), np.nan)
    if todo.any():
        refuse_computing(f"{base['model']} x {attack.name} at eps {eps:g} (cascade)")
        load_surrogate(attack, device)
        seed_everything(config.seed)
        bar = progress(total=len(subset), desc=f"{base['model']} x {attack.name} (cascade)", unit="img",
                       leave=False)
        out, seconds, evaluations = attack_in_parts(model, attack, subset, eps, path=path, config=config,
                                                    device=device, batch_size=batch_size, bar=bar, only=todo)
        bar.close()
        fooled, perturbation = out.fooled[0], out.perturbation[0]
    row = _row(base, eps, clean_correct, fooled, perturbation, seconds, evaluations, device=device, attacked=todo,
               broken_before=broken, computed_on=machines_of_parts(path, device))
    report(f"{base['model']} x {attack.name} at {eps:g}: broke {int(fooled.sum())} of the {int(todo.sum())} "
           f"images left ({seconds:.1f}s)")
    return {"clean_correct": clean_correct, "fooled": fooled, "perturbation": perturbation,
            "attacked": todo}, row


def _rows_of(config: SweepConfig, wanted: list[tuple]) -> pd.DataFrame:
    """The rows of the results table with the keys ``wanted``, in that order."""
    table = read_results(config.profile)
    keys = [row_key(r) for r in table.to_dict("records")]
    position = {key: i for i, key in enumerate(keys)}
    missing = [k for k in wanted if k not in position]
    if missing:
        raise RuntimeError(f"{len(missing)} results are missing after the sweep, e.g. {missing[0]}")
    return table.iloc[[position[k] for k in wanted]].reset_index(drop=True)


def adversarial_examples(models: dict[str, nn.Module], attacks: list[str], images: Split, *, profile,
                         linf_eps: float = 0.3, l2_eps: float = 2.0, seed: int = 0,
                         device: torch.device | str | None = None) -> tuple[pd.DataFrame, dict]:
    """Adversarial versions of a few images, for showing, not for counting.

    Fixed-eps attacks are run at ``linf_eps`` or ``l2_eps``; minimisation attacks
    show the smallest adversarial they found. Returns a table (model, attack,
    image, label, clean_prediction, prediction, size) and the adversarial images per (model, attack).
    """
    device = torch.device(device) if device is not None else torch_device()
    rows, pictures = [], {}
    x, y = images.x.to(device), images.y.to(device)
    for model_name, model in models.items():
        clean_prediction = predict(model, images.x)
        for attack_name in attacks:
            attack = load_surrogate(make_attack(attack_name, profile), device)
            eps = None if attack.minimisation else (linf_eps if attack.norm == "linf" else l2_eps)

            def generate() -> dict[str, np.ndarray]:
                seed_everything(seed)
                return {"adversarial": attack.generate(model, x, y, eps=eps, device=device).detach().cpu().numpy()}

            key = fingerprint(model, attack.name, attack.settings, x, y, eps, seed)
            adversarial = torch.from_numpy(memoised("adversarial_examples", key, generate)["adversarial"])
            prediction = predict(model, adversarial)
            size = (adversarial - images.x).flatten(1)
            size = size.abs().amax(1) if attack.norm == "linf" else size.norm(dim=1)
            pictures[(model_name, attack_name)] = adversarial
            rows += [{"model": model_name, "attack": attack_name, "image": i, "label": int(images.y[i]),
                      "clean_prediction": int(clean_prediction[i]), "prediction": int(prediction[i]),
                      "size": float(size[i])} for i in range(len(images))]
    return pd.DataFrame(rows), pictures


def gradient_health(models: dict[str, nn.Module], images: Split) -> pd.DataFrame:
    """Does cross-entropy give the attacks a gradient to follow?

    For the correctly classified ``images`` of each model: the median logit margin
    (top logit minus runner-up) and the share of images whose cross-entropy
    gradient with respect to the input is exactly zero in the run's precision (float32;
    the smoke profile's float64 underflows far later). Log-likelihood logits can differ
    by hundreds of nats; softmax then saturates, the gradient underflows to zero, and a
    gradient attack stands still: robustness that is only apparent.
    """
    rows = []
    for name, model in models.items():
        x = images.x.detach().to(model_device(model)).clone().requires_grad_(True)
        y = images.y.to(x.device)
        logits = model(x)
        correct = logits.argmax(1) == y
        loss = nn.functional.cross_entropy(logits, y, reduction="sum")
        (grad,) = torch.autograd.grad(loss, x)
        margin = logit_margin(logits.detach(), y)[correct]
        zero = (grad.flatten(1).abs().amax(1) == 0)[correct]
        rows.append({"model": name, "kind": get_spec(name).kind, "correct": int(correct.sum()),
                     "median_margin": float(margin.median()) if len(margin) else math.nan,
                     "zero_gradient_share": float(zero.double().mean()) if len(zero) else math.nan})
    return pd.DataFrame(rows)


def reversals(config: SweepConfig, model: str, attack: str) -> np.ndarray:
    """Images of the evaluation subset that a fixed-eps attack fools at some eps but not at a larger one.

    Returns their indices into the subset (empty where the attack was not run).
    An honest attack never has any: whatever fools at eps also lies inside every larger ball.
    """
    if attack not in config.attacks:
        return np.array([], dtype=int)
    fooled = np.stack([per_image_outcome(config, model, attack, eps)["fooled"] for eps in config.eps_for(attack)])
    fooled_before = np.maximum.accumulate(fooled, axis=0)
    return np.flatnonzero((fooled_before[:-1] & ~fooled[1:]).any(axis=0))


def margins_along_fgsm_rays(model: nn.Module, images: Split, *, eps_max: float,
                            steps: int = 51) -> tuple[np.ndarray, np.ndarray]:
    """The logit margin (true class minus best other) along each image's FGSM ray.

    FGSM moves every pixel by t in the direction of its cross-entropy gradient's
    sign; the margin is followed for t from 0 to ``eps_max``. A margin that dips
    below zero and climbs back means a large single step overshoots: the image is
    fooled at a small eps and not at a larger one.
    """
    device = model_device(model)
    x = images.x.detach().to(device).clone().requires_grad_(True)
    y = images.y.to(device)
    (grad,) = torch.autograd.grad(nn.functional.cross_entropy(model(x), y, reduction="sum"), x)
    ts = np.linspace(0.0, eps_max, steps)
    with torch.no_grad():
        margins = [logit_margin(model((x + t * grad.sign()).clamp(0, 1)), y).cpu().numpy() for t in ts]
    return ts, np.stack(margins, axis=1)
