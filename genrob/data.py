"""MNIST from its four IDX files, checked byte for byte before use.

The files are read from a data directory (``GENROB_DATA``, else ``data/mnist``
in the repository). Missing files are downloaded from public mirrors; every
file's *decompressed* content is checked against the sha256 of the standard
set, so a corrupt, truncated or foreign file stops the run with its name.
"""

from __future__ import annotations

import gzip
import hashlib
import shutil
import tempfile
import urllib.error
import urllib.request
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from genrob.environment import data_dir as default_data_dir

#: file name -> sha256 of the decompressed bytes (the standard MNIST set).
FILES: dict[str, str] = {
    "train-images-idx3-ubyte.gz": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    "train-labels-idx1-ubyte.gz": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    "t10k-images-idx3-ubyte.gz": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "t10k-labels-idx1-ubyte.gz": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
}

#: Public mirrors tried in order (the ones torchvision uses).
MIRRORS: tuple[str, ...] = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
)

VALIDATION_SIZE = 10_000
SPLIT_SEED = 0


class MnistDataError(RuntimeError):
    """The MNIST files are missing, unreachable or not the standard set."""


@dataclass(frozen=True)
class Split:
    """Images (N x 1 x 28 x 28, in [0, 1]; float32 but in the smoke profile) and their labels (int64)."""

    x: torch.Tensor
    y: torch.Tensor

    def __len__(self) -> int:
        return len(self.y)

    def take(self, index: torch.Tensor | np.ndarray) -> "Split":
        index = torch.as_tensor(index, dtype=torch.long)
        return Split(self.x[index], self.y[index])

    def to(self, dtype: torch.dtype) -> "Split":
        """The same images in ``dtype`` (itself where they already are)."""
        return self if self.x.dtype == dtype else Split(self.x.to(dtype), self.y)


@dataclass(frozen=True)
class MNIST:
    """Training and validation splits of the 60 000 training images, and the test set."""

    train: Split
    val: Split
    test: Split

    def to(self, dtype: torch.dtype) -> "MNIST":
        """The same splits in ``dtype``."""
        return MNIST(self.train.to(dtype), self.val.to(dtype), self.test.to(dtype))


def _decompress(path: Path) -> bytes:
    try:
        with gzip.open(path, "rb") as handle:
            return handle.read()
    except (EOFError, OSError, zlib.error) as err:
        raise MnistDataError(
            f"{path} is not a readable gzip file ({err}); it is truncated or corrupt. "
            f"Delete it so it is downloaded again, or replace it with a good copy."
        ) from err


def _verified_bytes(path: Path) -> bytes:
    raw = _decompress(path)
    digest = hashlib.sha256(raw).hexdigest()
    expected = FILES[path.name]
    if digest != expected:
        raise MnistDataError(
            f"{path} does not hold the standard MNIST content: sha256 of its decompressed "
            f"bytes is {digest}, expected {expected}. Delete or replace the file."
        )
    return raw


def _parse_idx(raw: bytes, name: str) -> np.ndarray:
    if len(raw) < 8 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise MnistDataError(f"{name}: not an IDX file of unsigned bytes")
    ndim = raw[3]
    shape = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    body = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    if body.size != int(np.prod(shape)):
        raise MnistDataError(f"{name}: header says {shape}, body has {body.size} bytes")
    return body.reshape(shape)


def _download(name: str, target: Path, timeout: float) -> None:
    errors = []
    for mirror in MIRRORS:
        url = mirror + name
        try:
            with urllib.request.urlopen(url, timeout=timeout) as response:
                with tempfile.NamedTemporaryFile(dir=target.parent, delete=False) as tmp:
                    shutil.copyfileobj(response, tmp)
            tmp_path = Path(tmp.name)
            try:
                raw = _decompress(tmp_path)
                if hashlib.sha256(raw).hexdigest() != FILES[name]:
                    raise MnistDataError(f"{url} served content with the wrong sha256")
                tmp_path.replace(target)
                return
            finally:
                tmp_path.unlink(missing_ok=True)
        except (urllib.error.URLError, OSError, MnistDataError) as err:
            errors.append(f"{url}: {err}")
    raise MnistDataError(
        f"MNIST file {name} is not in {target.parent} and could not be downloaded:\n  "
        + "\n  ".join(errors)
        + f"\nPut the four files {', '.join(FILES)} in {target.parent}, "
        "or point the GENROB_DATA environment variable at a directory that holds them."
    )


def check_data_directory(directory: Path | str | None = None) -> Path:
    """``directory`` (default: ``GENROB_DATA``'s), refused with a :class:`MnistDataError` where it names
    something other than a directory (a file, say): the four files live in a folder."""
    directory = Path(directory) if directory is not None else default_data_dir()
    if directory.exists() and not directory.is_dir():
        raise MnistDataError(f"{directory} is not a directory: point GENROB_DATA at the folder that holds the four "
                             f"MNIST files {', '.join(FILES)} (or at an empty folder to download them into)")
    return directory


def ensure_files(directory: Path | str | None = None, *, download: bool = True, timeout: float = 60.0) -> Path:
    """Make sure the four MNIST files are in ``directory``, downloading what is missing."""
    directory = check_data_directory(directory)
    missing = [name for name in FILES if not (directory / name).is_file()]
    if missing and not download:
        raise MnistDataError(
            f"MNIST files missing from {directory}: {', '.join(missing)}. Put them there, "
            "or point the GENROB_DATA environment variable at a directory that holds them."
        )
    if missing:
        directory.mkdir(parents=True, exist_ok=True)
        for name in missing:
            _download(name, directory / name, timeout)
    return directory


def read_idx(path: Path | str) -> np.ndarray:
    """Read one MNIST IDX ``.gz`` file after checking its content's sha256."""
    path = Path(path)
    if path.name not in FILES:
        raise MnistDataError(f"{path.name} is not one of the MNIST files {sorted(FILES)}")
    return _parse_idx(_verified_bytes(path), path.name)


def _split(images: np.ndarray, labels: np.ndarray, dtype: torch.dtype) -> Split:
    x = torch.tensor(images, dtype=dtype).div_(255.0).unsqueeze(1)
    return Split(x.contiguous(), torch.from_numpy(labels.astype(np.int64)))


_CACHE: dict[tuple, MNIST] = {}


def load_mnist(
    directory: Path | str | None = None,
    *,
    validation_size: int = VALIDATION_SIZE,
    split_seed: int = SPLIT_SEED,
    download: bool = True,
    dtype: torch.dtype | None = None,
) -> MNIST:
    """MNIST as tensors in [0, 1], with a validation split fixed by ``split_seed``.

    The images are of ``dtype``, by default torch's default dtype: float32, or the
    precision a profile set (:func:`genrob.environment.use_precision`).
    """
    directory = ensure_files(directory, download=download)
    dtype = dtype or torch.get_default_dtype()
    key = (str(directory.resolve()), validation_size, split_seed, dtype)
    if key not in _CACHE:
        train = _split(read_idx(directory / "train-images-idx3-ubyte.gz"),
                       read_idx(directory / "train-labels-idx1-ubyte.gz"), dtype)
        test = _split(read_idx(directory / "t10k-images-idx3-ubyte.gz"),
                      read_idx(directory / "t10k-labels-idx1-ubyte.gz"), dtype)
        order = torch.randperm(len(train), generator=torch.Generator().manual_seed(split_seed))
        _CACHE[key] = MNIST(
            train=train.take(order[validation_size:]),
            val=train.take(order[:validation_size]),
            test=test,
        )
    return _CACHE[key]


def stratified_indices(labels: torch.Tensor, n: int, *, seed: int) -> torch.Tensor:
    """``n`` indices drawn without replacement, each class in its share of ``labels``.

    Shares are rounded by largest remainder, so the class counts add up to ``n``.
    The result is sorted, so the subset keeps the data set's order.
    """
    labels = torch.as_tensor(labels)
    if not 0 < n <= len(labels):
        raise ValueError(f"n must be between 1 and {len(labels)}, got {n}")
    generator = torch.Generator().manual_seed(seed)
    classes, counts = torch.unique(labels, return_counts=True)
    exact = counts.double() * n / len(labels)
    quota = exact.floor().long()
    short = n - int(quota.sum())
    if short:
        # Largest remainders first; ties go to the smaller class label.
        order = torch.argsort(-(exact - quota), stable=True)
        quota[order[:short]] += 1
    chosen = []
    for cls, k in zip(classes.tolist(), quota.tolist()):
        members = torch.nonzero(labels == cls).flatten()
        chosen.append(members[torch.randperm(len(members), generator=generator)[:k]])
    return torch.sort(torch.cat(chosen)).values


def evaluation_subset(test: Split, n: int, *, seed: int) -> Split:
    """The fixed, seeded, class-stratified test subset every attack is run on."""
    return test.take(stratified_indices(test.y, n, seed=seed))
