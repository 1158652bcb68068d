"""MNIST loading: the standard content, checked; clear errors otherwise."""

from __future__ import annotations

import gzip
import io
import shutil
import urllib.error

import pytest
import torch

from genrob import data as data_module
from genrob.data import FILES, MnistDataError, ensure_files, load_mnist, read_idx, stratified_indices
from genrob.environment import data_dir

TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


def test_shapes_types_and_range(mnist):
    assert mnist.train.x.shape == (50_000, 1, 28, 28) and mnist.val.x.shape == (10_000, 1, 28, 28)
    assert mnist.test.x.shape == (10_000, 1, 28, 28)
    assert mnist.train.x.dtype == torch.get_default_dtype() and mnist.test.y.dtype == torch.int64
    assert load_mnist(dtype=torch.float32).test.x.dtype == torch.float32
    assert float(mnist.test.x.min()) == 0.0 and float(mnist.test.x.max()) == 1.0


def test_it_is_the_standard_set(mnist):
    assert mnist.test.y.bincount().tolist() == TEST_COUNTS
    assert round(float(mnist.test.x.mean()), 4) == 0.1325


def test_validation_split_is_fixed_and_disjoint(mnist):
    again = load_mnist(validation_size=10_000, split_seed=0)
    assert torch.equal(again.val.y, mnist.val.y)
    train = {bytes(x.numpy()) for x in mnist.train.x[:2000]}
    assert not any(bytes(x.numpy()) in train for x in mnist.val.x[:2000])
    other = load_mnist(split_seed=1)
    assert not torch.equal(other.val.y, mnist.val.y)


def test_stratified_subset_keeps_class_shares_and_is_seeded(mnist):
    index = stratified_indices(mnist.test.y, 1000, seed=3)
    assert len(index) == 1000 and len(set(index.tolist())) == 1000
    counts = mnist.test.y[index].bincount().tolist()
    assert all(abs(c - t / 10) <= 1 for c, t in zip(counts, TEST_COUNTS))
    assert torch.equal(index, stratified_indices(mnist.test.y, 1000, seed=3))
    assert not torch.equal(index, stratified_indices(mnist.test.y, 1000, seed=4))
    with pytest.raises(ValueError):
        stratified_indices(mnist.test.y, 0, seed=0)


def _copy_data(tmp_path):
    for name in FILES:
        shutil.copy(data_dir() / name, tmp_path / name)
    return tmp_path


def test_a_wrong_checksum_names_the_file(tmp_path):
    folder = _copy_data(tmp_path)
    name = "t10k-labels-idx1-ubyte.gz"
    raw = bytearray(gzip.decompress((folder / name).read_bytes()))
    raw[100] = (raw[100] + 1) % 10
    (folder / name).write_bytes(gzip.compress(bytes(raw)))
    with pytest.raises(MnistDataError, match=name) as err:
        load_mnist(folder)
    assert "sha256" in str(err.value)


def test_a_truncated_file_names_the_file(tmp_path):
    folder = _copy_data(tmp_path)
    name = "train-images-idx3-ubyte.gz"
    blob = (folder / name).read_bytes()
    (folder / name).write_bytes(blob[: len(blob) // 2])
    with pytest.raises(MnistDataError, match=name):
        read_idx(folder / name)


def test_missing_files_without_network_say_where_to_put_them(tmp_path, monkeypatch):
    def offline(*args, **kwargs):
        raise urllib.error.URLError("no network")

    monkeypatch.setattr(data_module.urllib.request, "urlopen", offline)
    with pytest.raises(MnistDataError) as err:
        load_mnist(tmp_path / "empty")
    message = str(err.value)
    assert str(tmp_path / "empty") in message and "GENROB_DATA" in message


def test_missing_files_are_downloaded_and_verified(tmp_path, monkeypatch):
    served = []

    def fake_urlopen(url, timeout):
        served.append(url)
        return io.BytesIO((data_dir() / url.rsplit("/", 1)[1]).read_bytes())

    monkeypatch.setattr(data_module.urllib.request, "urlopen", fake_urlopen)
    folder = ensure_files(tmp_path / "fresh")
    assert sorted(p.name for p in folder.iterdir()) == sorted(FILES)
    assert len(served) == 4 and all(u.startswith(data_module.MIRRORS[0]) for u in served)
    assert load_mnist(folder).test.y.bincount().tolist() == TEST_COUNTS


def test_a_mirror_serving_wrong_content_is_not_kept(tmp_path, monkeypatch):
    monkeypatch.setattr(data_module.urllib.request, "urlopen",
                        lambda url, timeout: io.BytesIO(gzip.compress(b"not mnist")))
    with pytest.raises(MnistDataError, match="wrong sha256"):
        ensure_files(tmp_path / "bad")
    assert not any((tmp_path / "bad").iterdir())


def test_a_smaller_evaluation_subset_lies_inside_a_larger_one(mnist):
    """A family evaluated on fewer images shares them with the others' larger subset."""
    small = set(stratified_indices(mnist.test.y, 200, seed=0).tolist())
    large = set(stratified_indices(mnist.test.y, 1000, seed=0).tolist())
    assert small < large
