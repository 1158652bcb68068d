"""genrob.environment: runs repeat (seeded training bit for bit, however busy the machine), subnormals flushed."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch


def test_subnormal_floats_are_flushed_on_every_thread_once_genrob_is_imported():
    """Subnormal softmax weights made the binary VAEs' input gradients ten times slower."""
    import subprocess
    import sys

    def total(first: str) -> float:
        script = f"{first}; torch.set_num_threads(2); print((torch.full((4_000_000,), 1e-39) * 1.0).sum().item())"
        return float(subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                                    check=True).stdout)

    if total("import torch") == 0.0:
        pytest.skip("this CPU flushes subnormal floats anyway")
    assert total("import genrob, torch") == 0.0  # every chunk, on whichever thread, saw zeros


#: Trains the smoke profile's CNN in float32 (the precision of every evidence profile) into the cache
#: named by GENROB_CACHE, at the project's default thread count.
TRAIN = """
import dataclasses
from genrob.models import checkpoint_path, load_model
from genrob.profiles import get_profile
profile = dataclasses.replace(get_profile("smoke"), name="smoke-float32", dtype="float32")
load_model("cnn", profile)
print(checkpoint_path("cnn", profile))
"""


#: Keeps both cores busy with float32 matrix products on two threads until it is killed.
LOAD = """
import torch
torch.set_num_threads(2)
a = torch.randn(1500, 1500)
while True:
    a = torch.tanh(a @ a)
"""


def _train(cache: Path) -> dict[str, torch.Tensor]:
    env = {key: value for key, value in os.environ.items() if key not in {"GENROB_THREADS", "MKL_DYNAMIC"}}
    out = subprocess.run([sys.executable, "-c", TRAIN], env={**env, "GENROB_CACHE": str(cache),
                                                            "GENROB_PROGRESS": "off"},
                         capture_output=True, text=True, check=True)
    return torch.load(out.stdout.strip().splitlines()[-1], weights_only=True)


def test_seeded_training_repeats_bit_for_bit_while_another_process_loads_the_cores(tmp_path):
    load = subprocess.Popen([sys.executable, "-c", LOAD], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        first, second = _train(tmp_path / "first"), _train(tmp_path / "second")
    finally:
        load.kill()
        load.wait()
    assert first.keys() == second.keys()
    assert all(first[key].dtype == torch.float32 for key in first if first[key].is_floating_point())
    assert all(torch.equal(first[key], second[key]) for key in first)
