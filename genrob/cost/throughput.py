"""How many images a family's adaptive evaluation gets through in a given time on this machine (a GPU's,
say), and what the same cells cost on two machines.

On a GPU the time an evaluation takes may grow more slowly than n (a batch of 30 images can cost nearly
what one of 100 does); it is taken to grow no faster. :func:`adaptive_throughput` therefore starts at a
given n and then runs the largest n that would still fit the time given if the cost were proportional to
n, again and again, while that n grows: each run fits (where the cost is at most proportional), and the
last one is the largest n measured to fit. Every
run is an ordinary adaptive evaluation (:func:`genrob.adaptive.evaluate_family`): it reads what the cache
holds (trained models, finished cells) and writes its results rows, with the machine.
"""

from __future__ import annotations

import math
import time
from typing import Callable, Sequence

import pandas as pd

from genrob import adaptive
from genrob.cost.accounting import sweep_cost
from genrob.data import MNIST
from genrob.environment import machine, report, thread_count
from genrob.params import ParameterError
from genrob.results import KEY

#: Columns that name one cell of the results table, whatever machine computed it: the results key without
#: the cascade's image subset, which another machine's attacks may have drawn differently.
CELL = [column for column in KEY if column != "images"]
#: A next run must be at least this much larger than the last to be worth its time.
LEAST_GROWTH = 1.25


def proportional_n(n: int, seconds_taken: float, seconds: float, *, most: int) -> int:
    """The largest n that fits ``seconds`` if the cost is proportional to n, from one run of ``n`` images that
    took ``seconds_taken`` (at most ``most``)."""
    if seconds_taken <= 0:
        return most
    return max(0, min(most, math.floor(n * seconds / seconds_taken)))


def fitted_n(points: Sequence[tuple[int, float]], seconds: float, *, most: int) -> int:
    """The largest n whose time, on the line through the two largest runs, is at most ``seconds`` (an
    extrapolation: what a run of that n would be expected to take, not what one took).

    A line that does not rise (the larger run was no slower) gives ``most``; a budget below the line's
    fixed cost gives 0.
    """
    (n1, t1), (n2, t2) = sorted(points)[-2:]
    if n2 <= n1:
        raise ParameterError("the fit needs runs of two different n")
    per_image = (t2 - t1) / (n2 - n1)
    if per_image <= 0:
        return most
    fixed = t1 - per_image * n1
    return max(0, min(most, math.floor((seconds - fixed) / per_image)))


def adaptive_throughput(family: str, *, profile: str, models: Sequence[str] | None = None,
                        seconds: float = 300.0, first: int = 30, until: float | None = None,
                        most: int = 10_000, data: MNIST | None = None,
                        on_run: Callable[[pd.DataFrame, pd.DataFrame], None] | None = None,
                        ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Time the adaptive evaluation of ``family``'s ``models`` at ``first`` images, then at ever larger n
    that fit ``seconds`` (and end before the wall-clock time ``until``, where given), as the module says.

    Returns one row per run and model (n, the run's wall time, the model's attack seconds as its results
    rows recorded them, seconds and images per hour, the machine) and every results row of the runs;
    ``on_run`` gets both after each run (to save them before a later run is cut off).
    """
    if first < 1 or most < first:
        raise ParameterError(f"first must be between 1 and most ({most}), not {first}")
    if seconds <= 0:
        raise ParameterError(f"seconds must be positive, not {seconds}")
    runs: list[pd.DataFrame] = []
    rows: list[pd.DataFrame] = []

    def tables() -> tuple[pd.DataFrame, pd.DataFrame]:
        table = pd.concat(runs, ignore_index=True)
        table["images_per_hour"] = 3600 / table["seconds_per_image"]
        table["machine"], table["threads"] = machine(), thread_count()
        order = ["run_n", "run_wall_s", "model", "n", "attack_seconds", "seconds_per_image", "images_per_hour",
                 "machine", "threads"]
        return table[order], pd.concat(rows, ignore_index=True)

    n = first
    while True:
        report(f"adaptive evaluation of {family} at n = {n} on {machine()}")
        start = time.perf_counter()
        evidence = adaptive.evaluate_family(family, profile=profile, n=n, models=list(models) if models else None,
                                            data=data)
        wall = time.perf_counter() - start
        results = evidence.results.assign(run_n=n)
        rows.append(results)
        costs = sweep_cost(results.loc[results["n"] == n])
        runs.append(costs.rename_axis("model").reset_index().assign(run_n=n, run_wall_s=wall))
        report(f"n = {n}: {wall:.1f} s")
        if on_run is not None:
            on_run(*tables())
        left = seconds if until is None else min(seconds, until - time.time())
        following = proportional_n(n, wall, left, most=most)
        if following < LEAST_GROWTH * n:
            break
        n = following
    return tables()


def machine_comparison(first: pd.DataFrame, second: pd.DataFrame) -> pd.DataFrame:
    """Per model, the attack seconds the cells that both results tables hold cost on each machine
    (their ``machine`` column), and how many times faster the second was."""
    keys = first[CELL].merge(second[CELL]).drop_duplicates()
    if keys.empty:
        raise ParameterError("the two results tables share no cell")
    costs = []
    for results in (first, second):
        shared = results.merge(keys, on=CELL)
        cost = sweep_cost(shared)
        machine_name = " / ".join(sorted(set(shared["machine"])))
        threads = " / ".join(str(t) for t in sorted(set(shared["threads"])))
        costs.append(cost.assign(machine=f"{machine_name} ({threads} threads)"))
    table = pd.DataFrame({"n": costs[0]["n"],
                          "first_machine": costs[0]["machine"], "first_seconds": costs[0]["attack_seconds"],
                          "second_machine": costs[1]["machine"], "second_seconds": costs[1]["attack_seconds"]})
    table["speed_up"] = table["first_seconds"] / table["second_seconds"]
    return table
