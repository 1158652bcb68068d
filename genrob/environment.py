"""The environment of a run: where things live, how runs are made repeatable (seeds, threads,
precision), which code made them, and how progress is shown."""

from __future__ import annotations

import ctypes
import functools
import os
import platform
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, Sequence

import numpy as np

# MKL may otherwise run a product on fewer threads than asked when the machine is busy, which
# changes the order, and so the rounding, of its sums: seeded training then differed between a
# quiet and a loaded run. Set before torch loads MKL, and again below for a torch imported earlier.
os.environ.setdefault("MKL_DYNAMIC", "FALSE")

import torch  # noqa: E402

if TYPE_CHECKING:
    from tqdm import tqdm

REPO_ROOT = Path(__file__).resolve().parents[1]

# IEEE arithmetic, subnormal floats kept (and set on import, before torch's worker threads start and
# inherit it, in case a caller turned flushing on): a cross-entropy gradient of a model whose runner-up
# class lies 88 to 103 nats behind is subnormal in float32, and its sign is a full FGSM or PGD step;
# flushed to zero, the step is zero, which would add gradient masking to the very models the study
# diagnoses. Flushing had bought the binary CNN-VAEs' gradients speed (35% at most on the default
# profile's models, measured on 30 images of PGD-40); correct steps come first.
torch.set_flush_denormal(False)


def _fix_mkl_thread_count() -> None:
    """``MKL_Set_Dynamic(0)`` in the MKL inside torch's CPU library (which reads the variable above
    only when it starts); a torch without MKL needs nothing."""
    try:
        library = ctypes.CDLL(str(Path(torch.__file__).parent / "lib" / "libtorch_cpu.so"))
        library.MKL_Set_Dynamic(ctypes.c_int(0))
    except (OSError, AttributeError):
        pass


_fix_mkl_thread_count()


def atomic_write(path: Path, write: Callable[[Path], None]) -> None:
    """``write(tmp)`` to a temporary file beside ``path``, then renamed onto it: a reader, or a run
    killed half way, never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(Path(tmp))
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def cache_dir() -> Path:
    """Root of the checkpoint and results caches (``GENROB_CACHE``, else ``cache/``)."""
    return Path(os.environ.get("GENROB_CACHE", REPO_ROOT / "cache")).expanduser().resolve()


def data_dir() -> Path:
    """Directory holding the four MNIST ``.gz`` files (``GENROB_DATA``, else ``data/mnist``)."""
    return Path(os.environ.get("GENROB_DATA", REPO_ROOT / "data" / "mnist")).expanduser().resolve()


def thread_count() -> int:
    """Threads torch may use: fixed (``GENROB_THREADS``, default 2) so float sums repeat."""
    return int(os.environ.get("GENROB_THREADS", "2"))


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch, and fix torch's thread count."""
    torch.set_num_threads(thread_count())
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def use_precision(dtype: torch.dtype) -> None:
    """Make ``dtype`` the precision of every tensor and model created from here on (a profile's ``dtype``)."""
    torch.set_default_dtype(dtype)


def torch_device() -> torch.device:
    """CUDA when there is a GPU, else the CPU."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


@functools.cache
def cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo``), or the platform's description where there is none."""
    return _cpuinfo().get("model name") or platform.processor() or platform.machine()


@functools.cache
def _cpuinfo() -> dict[str, str]:
    """The first processor's fields of ``/proc/cpuinfo`` (empty where there is none)."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return {}
    fields = (line.split(":", 1) for line in text.split("\n\n", 1)[0].splitlines() if ":" in line)
    return {key.strip(): value.strip() for key, value in fields}


def cpu_kind() -> str:
    """The CPU as it decides rounding: its model name, its family and model numbers where the name leaves
    them out (one name, "AMD EPYC", covers generations that train the same model to other weights), and
    the vector instructions PyTorch's kernels run on (which ``ATEN_CPU_CAPABILITY`` may force down), as
    ``AMD EPYC [family 25 model 17, AVX512]``."""
    info = _cpuinfo()
    generation = (f"family {info['cpu family']} model {info['model']}, "
                  if "cpu family" in info and "model" in info else "")
    return f"{cpu_model()} [{generation}{torch.backends.cpu.get_cpu_capability()}]"


def machine(device: torch.device | str | None = None) -> str:
    """What computes on ``device`` (default: :func:`torch_device`): the GPU's name, or the CPU's kind
    (:func:`cpu_kind`).

    Results record it: per-image outcomes are reproduced exactly only on the same kind of machine.
    """
    device = torch.device(device) if device is not None else torch_device()
    return torch.cuda.get_device_name(device) if device.type == "cuda" else cpu_kind()


#: What decides a computation: an edit here, not committed, makes the code version ``-dirty``. The evidence
#: store, the README and the notebooks' outputs are not code (the evidence run edits its store as it goes).
CODE_PATHS = ("genrob", "pyproject.toml", "requirements-nodeps.txt")


@functools.cache
def code_version() -> str:
    """The git commit of the code that ran (with ``-dirty`` for local edits of :data:`CODE_PATHS`), read
    once per process: a run that commits as it goes keeps the version it started with."""
    try:
        head, changed = (subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=10,
                                        check=True).stdout.strip()
                         for command in (["git", "describe", "--always", "--abbrev=10"],
                                         ["git", "status", "--porcelain", "--", *CODE_PATHS]))
        return head + ("-dirty" if changed else "")
    except (OSError, subprocess.SubprocessError):
        from genrob import __version__

        return f"v{__version__}"


class StoreOnlyError(RuntimeError):
    """Something would be trained or attacked where only the evidence store may be read."""


def store_only() -> bool:
    """Whether this run may only read what the evidence store holds (``GENROB_STORE_ONLY``, set by
    ``make evidence-book``)."""
    return os.environ.get("GENROB_STORE_ONLY", "").lower() in {"1", "on", "true", "yes"}


def refuse_computing(what: str) -> None:
    """Stop where ``what`` (a training, an attack run, a memoised computation) would run while
    :func:`store_only`: a book rendered from the evidence store trains and attacks nothing."""
    if store_only():
        raise StoreOnlyError(f"{what} is not in the evidence store, and a book rendered from the store "
                             "(GENROB_STORE_ONLY) trains and attacks nothing: run python -m genrob evidence "
                             "for its profile first")


def edited(path: Path) -> bool:
    """Whether ``path`` differs from the last commit (edited, staged or untracked): someone's work."""
    relative = str(Path(path).resolve().relative_to(REPO_ROOT))
    changed = subprocess.run(["git", "status", "--porcelain", "--", relative], cwd=REPO_ROOT,
                             capture_output=True, text=True)
    return bool(changed.stdout.strip())


class NotCommittedError(RuntimeError):
    """A file that git's history must hold is not committed as it is on disk, or the history lacks it."""


def commit_holding(paths: Sequence[Path]) -> str:
    """The full hash of HEAD, where every one of ``paths`` is committed exactly as it is on disk."""
    paths = [Path(p).resolve() for p in paths]
    folders = {p.parent for p in paths}
    heads = set()
    for folder in folders:
        names = [p.name for p in paths if p.parent == folder]
        tracked = subprocess.run(["git", "-C", str(folder), "ls-files", "--error-unmatch", "--", *names],
                                 capture_output=True, text=True)
        changed = subprocess.run(["git", "-C", str(folder), "status", "--porcelain", "--", *names],
                                 capture_output=True, text=True)
        if tracked.returncode != 0 or changed.stdout.strip():
            raise NotCommittedError(f"{folder}: {', '.join(names)} must be committed as they are before git's "
                                    f"history can stand in for them ({(tracked.stderr or changed.stdout).strip()})")
        heads.add(subprocess.run(["git", "-C", str(folder), "rev-parse", "HEAD"], capture_output=True, text=True,
                                 check=True).stdout.strip())
    if len(heads) != 1:
        raise NotCommittedError(f"{paths} lie in different repositories")
    return heads.pop()


def committed_bytes(commit: str, path: Path) -> bytes:
    """The content of ``path`` as commit ``commit`` holds it (the folder ``path`` would lie in must exist)."""
    path = Path(path).resolve()
    shown = subprocess.run(["git", "-C", str(path.parent), "show", f"{commit}:./{path.name}"], capture_output=True)
    if shown.returncode != 0:
        raise NotCommittedError(f"git's history here has no {path.name} at commit {commit} "
                                f"({shown.stderr.decode(errors='replace').strip()}); a shallow clone lacks it: "
                                "git fetch --unshallow")
    return shown.stdout


def commit(paths: Sequence[Path], message: str, *, attempts: int = 20) -> bool:
    """Commit ``paths``, and only them, to the repository's current branch (whatever else is staged or
    edited stays as it is); False where they hold nothing new. Waits out another git process's lock."""
    relative = [str(Path(p).resolve().relative_to(REPO_ROOT)) for p in paths]

    def git(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(["git", *args], cwd=REPO_ROOT, capture_output=True, text=True)

    for _ in range(attempts):
        steps = [git("add", "--", *relative)]
        if steps[-1].returncode == 0:
            if git("diff", "--cached", "--quiet", "--", *relative).returncode == 0:
                return False
            steps.append(git("commit", "-q", "-m", message, "--", *relative))
            if steps[-1].returncode == 0:
                return True
        if "index.lock" not in steps[-1].stderr:
            raise RuntimeError(f"git could not commit {relative}: {steps[-1].stderr.strip()}")
        time.sleep(3)
    raise RuntimeError(f"git's index stayed locked; {relative} not committed")


def progress_enabled() -> bool:
    """Progress bars are on unless ``GENROB_PROGRESS=off`` (nbval runs turn them off)."""
    return os.environ.get("GENROB_PROGRESS", "on").lower() not in {"off", "0", "false", "no"}


def progress(iterable: Iterable | None = None, **kwargs: Any) -> "tqdm":
    """A tqdm bar on stderr; quiet where ``GENROB_PROGRESS=off``."""
    from tqdm import tqdm

    # Outside a terminal (a notebook kernel run by papermill, a log file) the bar
    # is forwarded line by line, so it updates less often there.
    kwargs.setdefault("mininterval", 0.5 if sys.stderr.isatty() else 10.0)
    return tqdm(iterable, file=sys.stderr, disable=not progress_enabled(), **kwargs)


def report(line: str) -> None:
    """A one-line progress report on stderr (silent where progress is off)."""
    if progress_enabled():
        print(line, file=sys.stderr, flush=True)
