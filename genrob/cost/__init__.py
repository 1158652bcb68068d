"""What the study costs: each model measured on this machine (:mod:`genrob.cost.measure`, ``python -m
genrob bench``) and each run as the results table recorded it (:mod:`genrob.cost.accounting`)."""

from genrob.cost.accounting import (
    FULL_N, TIMED_ATTACKS, attack_seconds, benchmark_overview, cascade_saving, cost_summary, exact_cost,
    exact_cost_summary, pair_runtimes,
    runtime_overview, runtimes_per_image, study_cost, sweep_cost,
)
from genrob.cost.throughput import adaptive_throughput, fitted_n, machine_comparison, proportional_n
from genrob.cost.measure import (
    PGD_STEPS, REFERENCE, bench_path, benchmark, benchmark_table, flops_per_image, forward_cost, matmul_gflops,
    pgd_image_count, pgd_seconds_per_image, seconds_per_image, sweep_batch,
)

__all__ = [
    "FULL_N", "PGD_STEPS", "REFERENCE", "TIMED_ATTACKS", "adaptive_throughput", "attack_seconds", "bench_path",
    "benchmark", "benchmark_overview", "benchmark_table", "cascade_saving", "cost_summary", "exact_cost",
    "exact_cost_summary", "fitted_n",
    "flops_per_image", "forward_cost", "machine_comparison", "matmul_gflops", "pair_runtimes", "pgd_image_count",
    "pgd_seconds_per_image", "proportional_n", "runtime_overview", "runtimes_per_image", "seconds_per_image",
    "study_cost", "sweep_batch", "sweep_cost",
]
