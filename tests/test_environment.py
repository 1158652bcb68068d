"""genrob.environment: runs repeat (seeded training bit for bit, however busy the machine), in IEEE arithmetic."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch


def test_subnormal_floats_are_kept_on_every_thread_once_genrob_is_imported():
    """IEEE arithmetic: even where a caller turned flushing on before importing genrob."""
    def total(first: str) -> float:
        script = f"{first}; torch.set_num_threads(2); print((torch.full((4_000_000,), 1e-39) * 1.0).sum().item())"
        return float(subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                                    check=True).stdout)

    assert total("import torch; torch.set_flush_denormal(True); import genrob") > 0.0


def test_fgsm_steps_on_a_saturated_cross_entropy_whose_gradient_is_subnormal():
    """A linear model whose runner-up class lies 95 nats behind: softmax gives it e^-95, about 5e-42, a
    subnormal float32. The cross-entropy gradient is that small but not zero, and FGSM steps by its sign."""
    import genrob  # noqa: F401  (sets the arithmetic)
    from genrob.attacks import make_attack

    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(784, 10))
    with torch.no_grad():
        model[1].weight.zero_()
        model[1].weight[1, :] = 1.0 / 784  # class 1 rises with the ink
        model[1].bias.copy_(torch.tensor([95.0] + [0.0] * 9))
    x, y = torch.full((1, 1, 28, 28), 0.5), torch.tensor([0])
    probe = x.clone().requires_grad_(True)
    (gradient,) = torch.autograd.grad(torch.nn.functional.cross_entropy(model(probe), y), probe)
    assert 0 < gradient.abs().max() < torch.finfo(torch.float32).tiny  # subnormal, and kept
    adversarial = make_attack("fgsm_linf", "smoke").generate(model, x, y, eps=0.1,
                                                             device=torch.device("cpu"))
    assert (adversarial - x).abs().max() == pytest.approx(0.1)  # a full step, not a stall


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


def test_the_code_version_is_dirty_only_for_edits_of_the_code(tmp_path, monkeypatch):
    from genrob import environment

    def git(*args: str) -> None:
        subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@e", *args], cwd=tmp_path, check=True,
                       capture_output=True)

    (tmp_path / "genrob").mkdir()
    (tmp_path / "genrob" / "code.py").write_text("x = 1\n")
    (tmp_path / "evidence").mkdir()
    (tmp_path / "evidence" / "results.csv").write_text("a\n")
    git("init", "-q")
    git("add", ".")
    git("commit", "-qm", "first")
    monkeypatch.setattr(environment, "REPO_ROOT", tmp_path)
    environment.code_version.cache_clear()
    try:
        (tmp_path / "evidence" / "results.csv").write_text("a\n1\n")  # a run's own store, growing
        clean = environment.code_version()
        assert clean and not clean.endswith("-dirty")
        (tmp_path / "genrob" / "code.py").write_text("x = 2\n")
        environment.code_version.cache_clear()
        assert environment.code_version() == clean + "-dirty"
    finally:
        environment.code_version.cache_clear()


def test_the_machine_kind_names_the_cpus_generation_and_the_kernels_torch_runs():
    """One model name ("AMD EPYC") covers CPU generations that round differently, and a run may force torch's
    kernels down: results name both, so that an exact comparison is claimed only between machines of a kind."""
    def machine_and_name(**environ: str) -> list[str]:
        script = "from genrob.environment import cpu_model, machine; print(machine('cpu')); print(cpu_model())"
        return subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True,
                              env={**os.environ, **environ}).stdout.splitlines()

    (native, name), (forced, _) = machine_and_name(), machine_and_name(ATEN_CPU_CAPABILITY="default")
    kernels = torch.backends.cpu.get_cpu_capability()
    assert native.startswith(f"{name} [") and native.endswith(f"{kernels}]")
    assert forced == native.removesuffix(f"{kernels}]") + "DEFAULT]"  # the same CPU, another kind
    if "cpu family" in Path("/proc/cpuinfo").read_text():
        assert native.startswith(f"{name} [family ") and " model " in native
