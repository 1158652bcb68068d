"""Command line: run a family's sweep outside its notebook, e.g. in the background.

    python -m genrob sweep conv_vae --profile default [--models cnn_vae cnn] [--n 30]
    python -m genrob adaptive markov_random_field --profile default [--n 50] [--without-cascade]
    python -m genrob headline --profile default
    python -m genrob answer --profile default
    python -m genrob verify --profile extended [--cells 10] [--images N] [--from-cell 1] [--retrain]
    python -m genrob evidence --profile extended [--families vae conv_vae] [--status] [--no-commit]
    python -m genrob exact --profile extended [--models mrf] [--norms linf] [--time-limit 20]
    python -m genrob restore --profile extended
    python -m genrob bench --profile default [--models cnn cnn_vae] [--batch 500]
    python -m genrob throughput conv_vae --profile default [--seconds 300] [--first 30] [--out DIR]

``sweep`` trains what is not cached, then runs the chapter's attacks and, for
models that sample, its EOT comparison; ``adaptive`` runs what the adaptive
chapter needs for a family (the paper's attacks, the adaptive ones and the
check runs; ``--without-cascade`` also runs the cascade's attacks on every image
and prints what the cascade saved). Both write the same results table the chapters read. ``headline``
runs (or reads, from the cache and the store) every family's adaptive evidence, writes it to the evidence store
``evidence/<profile>/`` (:mod:`genrob.evidence`) and then the README's headline
table and figure from that store alone. ``answer`` writes the study's answer, as
the adaptive evidence gives it, to the page the book's introduction includes. ``verify``
recomputes random cells of an evidence store in an empty cache and compares them with it
(:mod:`genrob.verify`). ``evidence`` regenerates a profile's evidence as one resumable
background run that publishes its finished cells into the store and commits them to git as it goes
(:mod:`genrob.campaign`); ``--status`` prints its progress. ``exact`` computes, for each model that admits
it, the exact robust accuracy image by image on its family's evidence images (:mod:`genrob.exactness`) and,
for a profile with a store, keeps it there. ``restore`` puts a store into the cache, so
that the chapters read it instead of computing (``make evidence-book``). ``bench``
measures what each model costs on this machine (:mod:`genrob.cost.measure`) and sets
the seconds per image the sweeps recorded beside it (the book's Table 3). ``throughput`` times a
family's adaptive evaluation at growing n, each the largest that fits a time budget at the last run's cost
per image (what a GPU gets through, :mod:`genrob.cost.throughput`).
Sweeps of different models can run side by side (``GENROB_THREADS=1`` each on a
2-core machine); an interrupted one resumes where it stopped.
"""

from __future__ import annotations

import argparse
import datetime
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Sequence

import pandas as pd

from genrob import adaptive, campaign, chapter, cost, evaluate, evidence, exactness, plots, summary, verify
from genrob.environment import REPO_ROOT, cache_dir, edited, thread_count
from genrob.data import MnistDataError, check_data_directory
from genrob.models import model_names
from genrob.params import ParameterError
from genrob.profiles import PROFILES, get_profile

PROFILE_HELP = f"one of {', '.join(PROFILES)} (default: %(default)s)"

def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m genrob", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    sweep = commands.add_parser("sweep", help="train and attack a family's models, as its chapter does")
    sweep.add_argument("family", help="a model family, e.g. naive_bayes, mixture, markov_random_field, vae, conv_vae")
    sweep.add_argument("--profile", default="default", help=PROFILE_HELP)
    sweep.add_argument("--models", nargs="+", help="only these models (default: the chapter's)")
    sweep.add_argument("--attacks", nargs="+", help="only these attacks (default: the paper's ten)")
    sweep.add_argument("--n", type=int, help="test images per attack (default: the profile's for the family)")
    sweep.add_argument("--seed", type=int, default=0)
    sweep.add_argument("--no-eot", action="store_true", help="skip the EOT comparison for models that sample")
    robust = commands.add_parser("adaptive", help="run the adaptive chapter's attacks and checks on a family")
    robust.add_argument("family", help="a model family, e.g. naive_bayes, reference")
    robust.add_argument("--profile", default="default", help=PROFILE_HELP)
    robust.add_argument("--models", nargs="+", help="only these of the family's models (default: all)")
    robust.add_argument("--n", type=int, help="test images (default: the profile's for the family)")
    robust.add_argument("--seed", type=int, default=0)
    robust.add_argument("--without-cascade", action="store_true",
                        help="also run the cascade's attacks on every image, and print what the cascade saved")
    headline = commands.add_parser("headline", help="write the evidence store of a profile from its adaptive "
                                                    "evaluation, then the README's table and figure from the store")
    headline.add_argument("--profile", default="default", help=PROFILE_HELP)
    headline.add_argument("--from-store", action="store_true",
                          help="write the README's table and figure from the store as it is, computing nothing")
    answer = commands.add_parser("answer", help="write the book's answer (book/chapters/answer.md, its figure beside "
                                                "it) from the adaptive evidence; the introduction includes it")
    answer.add_argument("--profile", default="default", help=PROFILE_HELP)
    check = commands.add_parser("verify", help="recompute random cells of an evidence store from a clean cache and "
                                               "compare them with it (exit status 1 where one disagrees)")
    check.add_argument("--profile", default="extended", help=PROFILE_HELP)
    check.add_argument("--cells", type=int, default=10, help="cells (results rows) to recompute (default: %(default)s)")
    check.add_argument("--images", type=int, default=verify.DEFAULT_IMAGES,
                       help="images of each cell to recompute, or all it met where fewer (default: %(default)s, "
                            f"which fails a cell whose stored robust accuracy overstates the truth by "
                            f"{verify.OVERSTATED:g} with probability {verify.power_to_catch(verify.DEFAULT_IMAGES):.2f} "
                            f"(at least {verify.POWER:g}) when the comparison is paired; 0: every image it met)")
    check.add_argument("--seed", type=int, default=0, help="which cells and images are drawn")
    check.add_argument("--from-cell", type=int, default=1,
                       help="go on from this cell with a verification stopped in it (the same arguments draw "
                            "the same cells; default: %(default)s)")
    check.add_argument("--cache", help="the cache to compute in (default: a new empty one)")
    check.add_argument("--retrain", action="store_true",
                       help="train every model again rather than take the store's weights (then only rows that met "
                            "every image of their subset are drawn, no cascade row)")
    run = commands.add_parser("evidence", help="regenerate a profile's evidence as a resumable background run "
                                               "that commits its finished cells to the store as it goes")
    run.add_argument("--profile", default="extended", help=PROFILE_HELP)
    run.add_argument("--families", nargs="+",
                     help=f"only these (default, in this order: {' '.join(campaign.RUN_ORDER)})")
    run.add_argument("--status", action="store_true", help="print the progress report and stop")
    run.add_argument("--no-commit", action="store_true", help="publish into the store without committing it")
    run.add_argument("--every", type=float, default=campaign.PUBLISH_EVERY_MIN,
                     help="minutes between two publications of the store (default: %(default)s)")
    exact = commands.add_parser("exact", help="solve the exact robust accuracy of the models that admit it, image "
                                              "by image, on their family's evidence images")
    exact.add_argument("--profile", default="extended", help=PROFILE_HELP)
    exact.add_argument("--models", nargs="+", help="only these (default: every model that admits a solver)")
    exact.add_argument("--norms", nargs="+", choices=("linf", "l2"), default=["linf", "l2"])
    exact.add_argument("--time-limit", type=float, default=exactness.TIME_LIMIT_S,
                       help="seconds one solver call may take before its image is left undecided "
                            "(default: %(default)s)")
    restore = commands.add_parser("restore", help="put an evidence store into the cache (results, per-image "
                                                  "outcomes, kept weights, unfinished trainings and memoised "
                                                  "arrays); computes nothing")
    restore.add_argument("--profile", default="extended", help=PROFILE_HELP)
    bench = commands.add_parser("bench", help="measure what each model costs on this machine (not a test)")
    bench.add_argument("--profile", default="default", help=PROFILE_HELP)
    bench.add_argument("--models", nargs="+", help="default: every registered model")
    bench.add_argument("--batch", type=int, default=evaluate.DEFAULT_BATCH_SIZE)
    rate = commands.add_parser("throughput", help="time a family's adaptive evaluation at growing n, each the largest "
                                                  "that fits a time budget at the last run's cost per image")
    rate.add_argument("family", help="a model family, e.g. conv_vae")
    rate.add_argument("--profile", default="default", help=PROFILE_HELP)
    rate.add_argument("--models", nargs="+", help="only these of the family's models (default: all)")
    rate.add_argument("--seconds", type=float, default=300.0,
                      help="time budget of each run (default: %(default)s)")
    rate.add_argument("--first", type=int, default=30, help="images of the first run (default: %(default)s)")
    rate.add_argument("--within", type=float,
                      help="seconds from now by which the last run must end (default: no limit)")
    rate.add_argument("--out", help="folder for throughput.csv and results.csv (default: print only)")
    return parser


def _throughput(args: argparse.Namespace) -> int:
    try:
        adaptive.families_to_evaluate(args.family)
        adaptive.family_config(args.family, profile=args.profile, models=args.models)
    except ParameterError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    until = time.time() + args.within if args.within else None

    def save(table: pd.DataFrame, results: pd.DataFrame) -> None:
        if args.out:
            folder = Path(args.out)
            folder.mkdir(parents=True, exist_ok=True)
            table.to_csv(folder / "throughput.csv", index=False)
            results.to_csv(folder / "results.csv", index=False)

    try:
        table, _ = cost.adaptive_throughput(args.family, profile=args.profile, models=args.models,
                                            seconds=args.seconds, first=args.first, until=until, on_run=save)
    except ParameterError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(table.round(3).to_string(index=False), flush=True)
    walls = table.drop_duplicates("run_n")[["run_n", "run_wall_s"]].itertuples(index=False)
    points = [(int(n), float(wall)) for n, wall in walls]
    if len(points) > 1:
        print(f"the line through the last two runs puts the largest n for {args.seconds:.0f} s at "
              f"{cost.fitted_n(points, args.seconds, most=10_000)} (an extrapolation)", flush=True)
    if args.out:
        print(f"written to {args.out}", flush=True)
    return 0


def _known_models(chosen: list[str] | None) -> list[str] | None:
    """``chosen`` (default: every registered model), or None after saying which of them are unknown."""
    models = chosen or model_names()
    unknown = [m for m in models if m not in model_names()]
    if unknown:
        print(f"error: unknown models {unknown}; known: {model_names()}", file=sys.stderr)
        return None
    return models


def _bench(args: argparse.Namespace) -> int:
    models = _known_models(args.models)
    if models is None:
        return 2
    print(f"threads: {thread_count()}, batch {args.batch}, profile {get_profile(args.profile).name}", flush=True)
    table = cost.benchmark_table(args.profile, models=models, refresh=True, batch=args.batch)
    path = cost.bench_path(args.profile)
    print(table.round(3).to_string())
    print(f"written to {path}")
    # The paper's ten attacks as the sweeps timed them at the profile's n (the book's Table 3).
    swept = summary.study_results(args.profile)
    if len(swept):
        attacks = cost.runtimes_per_image(swept, mflops=table["mflops_per_image"])
        attacks_path = path.with_name(f"bench-{get_profile(args.profile).name}-attacks.csv")
        attacks.round(5).to_csv(attacks_path)
        print("seconds per image of each of the paper's attacks, from the sweeps:")
        print(attacks.round(3).to_string())
        print(f"written to {attacks_path}")
    return 0


def _headline(args: argparse.Namespace) -> int:
    if not args.from_store:
        # The store is evidence already computed (a day of it for `extended`): evaluate on top of it, so
        # that only what it lacks is trained and attacked, and the store keeps its rows' provenance.
        restored = evidence.restore(args.profile)
        print(f"restored {restored} results rows from the store into the cache", flush=True)
        found = [adaptive.evaluate_family(family, profile=args.profile)
                 for family in adaptive.families_to_evaluate()]
        folder = evidence.write(found, profile=args.profile, date=datetime.date.today().isoformat())
        print(f"wrote the evidence store {folder}", flush=True)
    for path in write_headline(args.profile):
        print(f"wrote {path}", flush=True)
    return 0


def _headline_of_the_run(profile: str) -> list[Path]:
    """The README's block written by the evidence run when a family completes; the files for it to commit.
    A README with edits of someone's own gets the block too, but is left for them to commit."""
    readme_edited = edited(REPO_ROOT / "README.md")
    # In a fresh interpreter: a run lasts days and keeps the code it started with, while the README's test
    # recomputes the block with the code checked out (the results rows keep the version that computed them).
    subprocess.run([sys.executable, "-m", "genrob", "headline", "--profile", profile, "--from-store"],
                   cwd=REPO_ROOT, check=True)
    written = [path for path in (REPO_ROOT / "README.md", REPO_ROOT / evidence.headline_figure(profile))
               if path.exists()]
    if readme_edited:
        print("README.md has edits of its own: its block was rewritten but not committed", flush=True)
        return [path for path in written if path.name != "README.md"]
    return written


def book_chapters() -> list[Path]:
    """The notebooks of the book's chapters, in the order of ``_toc.yml``."""
    names = re.findall(r"book/chapters/(\w+)", (REPO_ROOT / "_toc.yml").read_text())
    return [REPO_ROOT / "notebooks" / f"{name}.ipynb" for name in names]


def render_chapters(profile: str) -> None:
    """Run every chapter with ``profile`` into a scratch folder, as ``make book PROFILE=...`` does: what the pages
    compute beyond the results table (clean predictions, example adversarials) is memoised in the cache,
    for the evidence store to keep."""
    import papermill

    with tempfile.TemporaryDirectory(prefix="genrob-chapters-") as scratch:
        for notebook in book_chapters():
            print(f"rendering {notebook.name} ({profile} profile)", flush=True)
            papermill.execute_notebook(str(notebook), str(Path(scratch) / notebook.name),
                                       parameters={"profile": profile}, cwd=str(notebook.parent), progress_bar=False)


def write_headline(profile: str) -> list[Path]:
    """Write the README's block for the store of ``profile`` and its figure from that store alone (as the
    README's test recomputes it); returns the files written."""
    block, verdicts = evidence.headline(profile)
    readme = REPO_ROOT / "README.md"
    readme.write_text(evidence.replace_headline(readme.read_text(), block, profile=profile))
    if not len(verdicts):
        return [readme]
    figure = REPO_ROOT / evidence.headline_figure(profile)
    figure.parent.mkdir(parents=True, exist_ok=True)
    plots.verdict_bars(verdicts).savefig(figure, dpi=110, bbox_inches="tight")
    return [readme, figure]


#: Where the introduction of the book includes the answer from (git-ignored, like the executed chapters).
ANSWER_PAGE = "book/chapters/answer.md"


def _answer(args: argparse.Namespace) -> int:
    page = REPO_ROOT / ANSWER_PAGE
    page.parent.mkdir(parents=True, exist_ok=True)
    text, figure = chapter.answer(args.profile)
    page.write_text(text + "\n")
    # 100 dpi: about 650 px wide, what the book's column shows at a laptop's 1 280 px without shrinking it
    figure.savefig(page.with_name(chapter.ANSWER_FIGURE), dpi=100, bbox_inches="tight")
    print(f"wrote the book's answer to {page}, its figure beside it", flush=True)
    return 0


def _adaptive(args: argparse.Namespace) -> int:
    chosen = {"profile": args.profile, "n": args.n, "seed": args.seed, "models": args.models}
    config = adaptive.family_config(args.family, **chosen)
    print(chapter.provenance(config), flush=True)
    evidence = adaptive.evaluate_family(args.family, **chosen)
    for norm in ("linf", "l2"):
        print(adaptive.worst_case_table([evidence], norm=norm).to_string(), flush=True)
    print(adaptive.worst_case_credits([evidence]).to_string(), flush=True)
    failed = adaptive.failed_checks([evidence])
    print(f"{len(evidence.checks)} checks, {len(failed)} failed", flush=True)
    if len(failed):
        print(failed.to_string(), flush=True)
    if args.without_cascade:
        saving = cost.cascade_saving(evidence.results, adaptive.every_image_runs(args.family, **chosen))
        print("what the cascade saved (evaluations of the model, per image; seconds on this machine):", flush=True)
        print(saving.round(3).to_string(), flush=True)
    return 0


def _verify(args: argparse.Namespace) -> int:
    try:
        profile = get_profile(args.profile).name
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    published = _verify_published(profile)
    os.environ["GENROB_CACHE"] = args.cache or tempfile.mkdtemp(prefix="genrob-verify-")
    print(f"verifying the {profile} evidence store in the cache {os.environ['GENROB_CACHE']}", flush=True)
    rows = []
    try:
        for row in verify.verified_cells(profile, cells=args.cells, images=args.images or None, seed=args.seed,
                                         from_cell=args.from_cell, retrain=args.retrain):
            print(verify.cell_line(row), flush=True)  # as it comes: a long verification stopped keeps these
            rows.append(row)
    except (ParameterError, FileNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    report = pd.DataFrame(rows)
    print(report.to_string(index=False), flush=True)
    disagreeing = verify.disagreements(report)
    if disagreeing:
        print(f"{int((~report['agrees']).sum())} of {len(report)} cells disagree with the store:\n{disagreeing}",
              flush=True)
        return 1
    print(f"all {len(report)} cells agree with the store", flush=True)
    return 0 if published else 1


def _verify_published(profile: str) -> bool:
    """What the store publishes, checked before any cell is recomputed: every number of its results.csv
    against its outcome line, and the README's block against what the code writes from the store."""
    numbers = verify.published_numbers(profile)
    rows = len(evidence.stored_tables(profile)[0])
    if len(numbers):
        print(f"results.csv: {len(numbers)} numbers differ from what their outcome lines give:\n"
              f"{numbers.to_string(index=False)}", flush=True)
    else:
        print(f"results.csv: every number of its {rows} rows is what its outcome line gives", flush=True)
    block = verify.published_block(profile, (REPO_ROOT / "README.md").read_text())
    if block is None:
        print(f"README.md: shows no block for the {profile} store", flush=True)
    elif block:
        print(f"README.md: the {profile} block differs from what the code writes from the store (worst cases, "
              f"rulings, claims):\n{block}", flush=True)
    else:
        print(f"README.md: the {profile} block (worst cases, rulings, claims) is what the code writes from the store",
              flush=True)
    return not len(numbers) and not block


def _evidence(args: argparse.Namespace) -> int:
    try:
        chosen = adaptive.families_to_evaluate(args.families or list(campaign.RUN_ORDER))
        get_profile(args.profile)
    except (ParameterError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if args.every <= 0:
        print(f"error: --every must be a positive number of minutes, got {args.every:g}", file=sys.stderr)
        return 2
    if not args.status:
        # Stopped by Ctrl-C or kill (SIGTERM), even started in the background where SIGINT is ignored, the run
        # unwinds: it publishes and commits what finished before it exits.
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, lambda number, frame: sys.exit(128 + number))
        print(f"the {get_profile(args.profile).name} evidence: {', '.join(chosen)}; published into "
              f"{evidence.store_dir(args.profile)} every {args.every:g} min"
              + ("" if args.no_commit else " and committed"), flush=True)
        campaign.run(args.profile, families=chosen, commit_to_git=not args.no_commit, every_min=args.every,
                     on_family_complete=lambda: _headline_of_the_run(args.profile),
                     on_finished=lambda: render_chapters(args.profile))
    table = campaign.status(args.profile, families=chosen)
    print(table.to_string(index=False), flush=True)
    print(campaign.status_text(table), flush=True)
    return 0


def _exact(args: argparse.Namespace) -> int:
    wanted = _known_models(args.models)
    if wanted is None:
        return 2
    stored = (evidence.store_dir(args.profile) / "store.json").exists()
    if stored:
        evidence.restore(args.profile)  # the store's weights and exact rows: nothing computed twice
    refused = 0
    for family in adaptive.families_to_evaluate():
        config = adaptive.family_config(family, profile=args.profile)
        models = exactness.admitting([m for m in config.models if m in wanted], args.profile)
        if not models:
            continue
        clean = evidence.stored_clean_correct(args.profile, n=config.n, seed=config.seed) if stored else None
        for model in models:  # one at a time: a model the store does not hold leaves the others to run
            try:
                table = exactness.run(args.profile, models=[model], n=config.n, seed=config.seed,
                                      linf_eps=config.linf_eps if "linf" in args.norms else (),
                                      l2_eps=config.l2_eps if "l2" in args.norms else (),
                                      time_limit=args.time_limit, clean_correct=clean)
            except exactness.NotTheStoresModel as err:
                print(f"error: {err}", file=sys.stderr, flush=True)
                refused += 1
                continue
            print(table.drop(columns="statuses").to_string(index=False), flush=True)
        if stored:
            evidence.keep_side_tables(args.profile)
    return 2 if refused else 0


def _restore(args: argparse.Namespace) -> int:
    try:
        evidence.provenance(args.profile)
    except (FileNotFoundError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    rows = evidence.restore(args.profile)
    print(f"restored {rows} results rows of {evidence.store_dir(args.profile)} (with its weights, unfinished "
          f"trainings and memoised arrays) into {cache_dir()}", flush=True)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        check_data_directory()  # a GENROB_DATA that names a file is refused before any work
        return _run(args)
    except MnistDataError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2


def _run(args: argparse.Namespace) -> int:
    if args.command == "restore":
        return _restore(args)
    if args.command == "exact":
        return _exact(args)
    if args.command == "evidence":
        return _evidence(args)
    if args.command == "verify":
        return _verify(args)
    if args.command == "bench":
        return _bench(args)
    if args.command == "throughput":
        return _throughput(args)
    if args.command == "headline":
        return _headline(args)
    if args.command == "answer":
        return _answer(args)
    if args.command == "adaptive":
        try:
            adaptive.families_to_evaluate(args.family)
            adaptive.family_config(args.family, profile=args.profile, n=args.n, models=args.models)
        except ParameterError as err:
            print(f"error: {err}", file=sys.stderr)
            return 2
        return _adaptive(args)
    try:
        config = chapter.setup(family=args.family, profile=args.profile, models=args.models,
                               attacks=args.attacks, n=args.n, seed=args.seed)
    except ParameterError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(chapter.provenance(config), flush=True)
    results = evaluate.sweep(config)
    print(f"{len(results)} results rows for {', '.join(config.models)}", flush=True)
    eot = chapter.eot_config(config)
    if eot.models and not args.no_eot:
        print(f"{len(evaluate.sweep(eot))} EOT rows for {', '.join(eot.models)}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
