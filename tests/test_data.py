"""springblock.data: embedded MNIST, real on-disk formats, preprocessing, cache, errors."""
import gzip
import pickle
import struct

import numpy as np
import pytest
import torch

from springblock import data
from springblock._vision import import_torchvision
from springblock.data import Dataset, load_dataset, preprocess, read_idx


@pytest.fixture(autouse=True)
def _isolated(tmp_path, monkeypatch):
    monkeypatch.setenv("SPRINGBLOCK_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("SPRINGBLOCK_DEBIAN_FASHION_MNIST", str(tmp_path / "no-debian"))
    monkeypatch.setattr(data, "_MEMO", {})


def _asset():
    x, y = data._read_embedded()
    return x, y


# ------------------------------------------------------------------ writers of the real formats
def _write_idx(path, arr, gz=True):
    arr = np.asarray(arr, np.uint8)
    blob = struct.pack(">BBBB", 0, 0, 0x08, arr.ndim) + struct.pack(f">{arr.ndim}i", *arr.shape) + arr.tobytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    if gz:
        path = path.with_name(path.name + ".gz")
        blob = gzip.compress(blob)
    path.write_bytes(blob)


def _idx_set(folder, n_train=30, n_test=12, gz=True, seed=0):
    rng = np.random.default_rng(seed)
    arrays = (rng.integers(0, 256, (n_train, 28, 28)), rng.integers(0, 10, n_train),
              rng.integers(0, 256, (n_test, 28, 28)), rng.integers(0, 10, n_test))
    for stem, arr in zip(data._IDX, arrays):
        _write_idx(folder / stem, arr, gz)
    return [np.asarray(a, np.uint8) for a in arrays]


def _cifar_set(root, per_batch=4, n_test=5):
    rng = np.random.default_rng(1)
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    xs, ys = [], []
    for name, n in [*[(f"data_batch_{i}", per_batch) for i in range(1, 6)], ("test_batch", n_test)]:
        x = rng.integers(0, 256, (n, 3072), dtype=np.uint8)
        y = rng.integers(0, 10, n).tolist()
        with open(folder / name, "wb") as fh:  # bytes keys, protocol 2: like the official batches
            pickle.dump({b"batch_label": name.encode(), b"labels": y, b"data": x,
                         b"filenames": [b"f.png"] * n}, fh, protocol=2)
        xs.append(x.reshape(-1, 3, 32, 32)), ys.append(np.array(y))
    return np.concatenate(xs[:5]), np.concatenate(ys[:5]), xs[5], ys[5]


def _split(n, n_train, seed):
    idx = torch.utils.data.random_split(range(n), [n_train, n - n_train],
                                        generator=torch.Generator().manual_seed(seed))
    return np.array(idx[0].indices), np.array(idx[1].indices)


# ------------------------------------------------------------------ embedded MNIST
def test_embedded_defaults():
    ds = load_dataset()
    assert isinstance(ds, Dataset) and ds.name == "mnist-npm10k" and ds.num_classes == 10
    assert ds.x_train.shape == (2560, 100) and ds.x_test.shape == (7440, 100)
    assert ds.x_train.dtype == torch.float32 and ds.y_train.dtype == torch.int64
    assert 0 <= ds.x_train.min() and ds.x_train.max() <= 1 and ds.x_train.max() > 0.9
    counts = torch.bincount(ds.y_train, minlength=10)
    assert counts.min() > 180 and counts.max() < 340  # ~256 each
    assert torch.bincount(torch.cat([ds.y_train, ds.y_test])).tolist() == \
        [1001, 1127, 991, 1032, 980, 863, 1014, 1070, 944, 978]
    assert "10x10" in ds.description and "2560 train" in ds.description and "7440 test" in ds.description
    assert ds.to("cpu").x_train is not None


def test_embedded_subset_is_random_split_and_partitions():
    x, y = _asset()
    tr, te = _split(10000, 500, seed=3)
    ds = load_dataset(n_train=500, size=28, seed=3, source="embedded")
    assert torch.equal(ds.x_train, torch.from_numpy(x[tr].reshape(500, -1)).float() / 255)
    assert torch.equal(ds.y_train, torch.from_numpy(y[tr]).long())
    assert torch.equal(ds.y_test, torch.from_numpy(y[te]).long())
    assert len(torch.unique(torch.cat([ds.x_train, ds.x_test]), dim=0)) == 10000  # all distinct digits


def test_seeds(monkeypatch, tmp_path):
    a = load_dataset(n_train=100)
    monkeypatch.setattr(data, "_MEMO", {})
    monkeypatch.setenv("SPRINGBLOCK_CACHE", str(tmp_path / "other"))
    assert torch.equal(load_dataset(n_train=100).x_train, a.x_train)  # rebuilt, same subset
    assert not torch.equal(load_dataset(n_train=100, seed=2).x_train, a.x_train)


# ------------------------------------------------------------------ preprocessing
@pytest.mark.parametrize("size", [10, 7, 28])
def test_resize_matches_torchvision(size):
    import_torchvision()
    import torchvision.transforms.functional as TF

    imgs = torch.from_numpy(_asset()[0][:16])
    ref = TF.resize(imgs.float() / 255, [size, size], interpolation=TF.InterpolationMode.BILINEAR,
                    antialias=True)
    torch.testing.assert_close(preprocess(imgs, size), ref.reshape(16, -1), rtol=0, atol=1e-6)


def test_cifar_grayscale_matches_torchvision():
    import_torchvision()
    import torchvision.transforms.functional as TF

    imgs = torch.randint(0, 256, (6, 3, 32, 32), dtype=torch.uint8)
    ref = TF.resize(TF.rgb_to_grayscale(imgs.float() / 255), [10, 10], antialias=True)
    torch.testing.assert_close(preprocess(imgs, 10, grayscale=True), ref.reshape(6, -1), rtol=0, atol=1e-6)
    rgb = TF.resize(imgs.float() / 255, [10, 10], antialias=True)
    torch.testing.assert_close(preprocess(imgs, 10, grayscale=False), rgb.reshape(6, -1), rtol=0, atol=1e-6)


# ------------------------------------------------------------------ real on-disk formats
@pytest.mark.parametrize("name,folder,gz", [("mnist", "MNIST", True), ("fashion-mnist", "FashionMNIST", False)])
def test_torchvision_idx_layout(tmp_path, name, folder, gz):
    xtr, ytr, xte, yte = _idx_set(tmp_path / "root" / folder / "raw", gz=gz)
    assert np.array_equal(read_idx(next((tmp_path / "root" / folder / "raw").glob("t10k-images*"))), xte)
    ds = load_dataset(name, source="torchvision", root=tmp_path / "root", n_train=20, size=7, seed=5)
    tr, _ = _split(30, 20, seed=5)
    assert ds.name == name and ds.x_train.shape == (20, 49) and ds.x_test.shape == (12, 49)
    torch.testing.assert_close(ds.x_train, preprocess(xtr[tr][:, None], 7))
    torch.testing.assert_close(ds.x_test, preprocess(xte[:, None], 7))  # the official test split, in order
    assert torch.equal(ds.y_train, torch.from_numpy(ytr[tr]).long()) and torch.equal(ds.y_test, torch.from_numpy(yte).long())
    assert load_dataset(name, root=tmp_path / "root", n_train=20, size=7, seed=5).name == name  # auto finds them


@pytest.mark.parametrize("grayscale", [True, False])
def test_cifar_pickle_layout(tmp_path, grayscale):
    xtr, ytr, xte, yte = _cifar_set(tmp_path)
    ds = load_dataset("cifar10", root=tmp_path, n_train=15, size=8, seed=2, grayscale=grayscale)
    tr, _ = _split(20, 15, seed=2)
    assert ds.x_train.shape == (15, 64 if grayscale else 192) and ds.x_test.shape[0] == 5
    torch.testing.assert_close(ds.x_train, preprocess(xtr[tr], 8, grayscale))
    torch.testing.assert_close(ds.x_test, preprocess(xte, 8, grayscale))
    assert torch.equal(ds.y_train, torch.from_numpy(ytr[tr]).long()) and torch.equal(ds.y_test, torch.from_numpy(yte).long())
    assert ("grayscale" in ds.description) == grayscale


def test_debian_layout(tmp_path, monkeypatch):
    deb = tmp_path / "debian"
    xtr, ytr, xte, yte = _idx_set(deb, n_train=25, n_test=9, seed=4)
    monkeypatch.setenv("SPRINGBLOCK_DEBIAN_FASHION_MNIST", str(deb))
    ds = load_dataset("fashion-mnist", root=tmp_path / "empty", n_train=10, size=5)  # auto -> Debian
    tr, _ = _split(25, 10, seed=1)
    assert ds.name == "fashion-mnist" and "Debian" in ds.description
    torch.testing.assert_close(ds.x_train, preprocess(xtr[tr][:, None], 5))
    assert ds.x_test.shape == (9, 25)


def test_download_goes_through_torchvision(tmp_path, monkeypatch):
    calls = []

    class FakeMNIST:  # stands in for torchvision.datasets.MNIST(root, train, download=True)
        def __init__(self, root, train, download):
            calls.append((root, train, download))
            if not calls[1:]:
                _idx_set(tmp_path / "root" / "MNIST" / "raw")

    fake = type("tv", (), {"datasets": type("ds", (), {"MNIST": FakeMNIST})})
    monkeypatch.setattr("springblock._vision.import_torchvision", lambda: fake)
    ds = load_dataset("mnist", root=tmp_path / "root", download=True, n_train=10)
    assert ds.name == "mnist" and ds.x_test.shape == (12, 100)
    assert calls == [(str(tmp_path / "root"), True, True), (str(tmp_path / "root"), False, True)]


# ------------------------------------------------------------------ errors
def test_missing_dataset_messages(tmp_path):
    with pytest.raises(FileNotFoundError) as err:
        load_dataset("cifar10", root=tmp_path / "nothing")
    msg = str(err.value)
    assert str(tmp_path / "nothing" / "cifar-10-batches-py") in msg and "download=True" in msg
    with pytest.raises(FileNotFoundError) as err:
        load_dataset("fashion-mnist", root=tmp_path / "nothing")
    msg = str(err.value)
    assert str(tmp_path / "nothing" / "FashionMNIST" / "raw") in msg and str(tmp_path / "no-debian") in msg
    assert "dataset-fashion-mnist" in msg
    with pytest.raises(FileNotFoundError, match="MNIST/raw"):
        load_dataset("mnist", source="torchvision", root=tmp_path / "nothing")


@pytest.mark.parametrize("kwargs,param", [
    (dict(n_train=0), "n_train"), (dict(n_train=10000), "n_train"), (dict(n_train=2.5), "n_train"),
    (dict(size=0), "size"), (dict(size=29), "size"), (dict(name="svhn"), "name"),
    (dict(source="web"), "source"), (dict(source="debian"), "source"),
    (dict(name="cifar10", source="embedded"), "source"),
])
def test_bad_parameters(kwargs, param):
    with pytest.raises(ValueError, match=param):
        load_dataset(**kwargs)


# ------------------------------------------------------------------ caching
def test_disk_cache_written_atomically_and_reused(tmp_path, monkeypatch):
    a = load_dataset(n_train=300)
    assert load_dataset(n_train=300) is a  # in-process memo
    files = list((tmp_path / "cache" / "data").iterdir())
    assert [f.suffix for f in files] == [".pt"]  # one finished file, no temporaries
    monkeypatch.setattr(data, "_MEMO", {})

    def boom():
        raise AssertionError("raw files re-read")

    monkeypatch.setattr(data, "_read_embedded", boom)
    b = load_dataset(n_train=300)
    assert b is not a and torch.equal(a.x_train, b.x_train) and a.description == b.description


def test_failed_write_leaves_nothing(tmp_path, monkeypatch):
    def broken_save(obj, fh):
        fh.write(b"partial")
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", broken_save)
    with pytest.raises(OSError, match="disk full"):
        load_dataset(n_train=50)
    assert list((tmp_path / "cache" / "data").iterdir()) == []


def test_cache_key_names_the_dataset_and_its_splits():
    from types import SimpleNamespace

    ds = data.load_dataset("mnist", n_train=100)
    key = data.cache_key(ds)
    assert key == {"name": ds.name, "description": ds.description, "n_train": 100, "n_test": len(ds.x_test)}
    bare = SimpleNamespace(x_train=np.zeros((3, 2)), x_test=np.zeros((5, 2)))
    assert data.cache_key(bare) == {"name": "custom", "description": "", "n_train": 3, "n_test": 5}
