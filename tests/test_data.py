"""springblock.data: the shipped paper split, the real on-disk formats, preprocessing, checks, identity."""
import dataclasses
import gzip
import pickle
import struct
from pathlib import Path

import numpy as np
import pytest
import torch

from springblock import data
from springblock._vision import import_torchvision
from springblock.data import load_dataset, preprocess, read_idx

SHARED_MNIST = Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist"
OFFICIAL_TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


@pytest.fixture(autouse=True)
def _fresh_memo(monkeypatch):
    monkeypatch.setattr(data, "_MEMO", {})


def _write_idx(path, arr, gz=True):
    arr = np.asarray(arr, np.uint8)
    blob = struct.pack(">BBBB", 0, 0, 0x08, arr.ndim) + struct.pack(f">{arr.ndim}i", *arr.shape) + arr.tobytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    if gz:
        path, blob = path.with_name(path.name + ".gz"), gzip.compress(blob)
    path.write_bytes(blob)


def _idx_set(folder, n_train=30, n_test=12, gz=True, seed=0):
    rng = np.random.default_rng(seed)
    arrays = (rng.integers(0, 256, (n_train, 28, 28)), rng.integers(0, 10, n_train),
              rng.integers(0, 256, (n_test, 28, 28)), rng.integers(0, 10, n_test))
    for stem, arr in zip(data.IDX_FILES, arrays):
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
            pickle.dump({b"batch_label": name.encode(), b"labels": y, b"data": x, b"filenames": [b"f.png"] * n}, fh,
                        protocol=2)
        xs.append(x.reshape(-1, 3, 32, 32)), ys.append(np.array(y))
    return np.concatenate(xs[:5]), np.concatenate(ys[:5]), xs[5], ys[5]


def _random_split(n, n_train, seed):
    idx = torch.utils.data.random_split(range(n), [n_train, n - n_train], generator=torch.Generator().manual_seed(seed))
    return np.array(idx[0].indices), np.array(idx[1].indices)


# ------------------------------------------------------------------ the shipped paper split
def test_default_is_the_papers_split():
    ds = load_dataset("mnist")
    assert ds.name == "mnist" and ds.num_classes == 10
    assert ds.x_train.shape == (2560, 100) and ds.x_val.shape == (2560, 100) and ds.x_test.shape == (10000, 100)
    assert ds.x_train.dtype == torch.float32 and ds.y_train.dtype == torch.int64
    assert 0 <= float(ds.x_train.min()) and float(ds.x_train.max()) <= 1
    assert torch.bincount(ds.y_test, minlength=10).tolist() == OFFICIAL_TEST_COUNTS  # the official test set
    assert "the paper's split: 2560 training digits, the official 10,000-image test set" in ds.description
    assert "antialias=True" in ds.description


def test_shipped_split_follows_random_split_rule():
    z = data._read_shipped("mnist")
    tr, val = _random_split(60000, 2560, seed=1)
    assert np.array_equal(z["train_indices"], tr)
    second, _ = _random_split(57440, 2560, seed=1)
    rest = _random_split(60000, 2560, seed=1)[1]
    assert np.array_equal(z["val_indices"], rest[second])
    assert not set(z["train_indices"]) & set(z["val_indices"])
    p_tr, p_val = data.paper_split(60000, 2560, 1)  # the one rule the build script and the loader share
    assert np.array_equal(p_tr, tr) and np.array_equal(p_val, rest[second])


def test_smaller_n_train_is_a_prefix_and_fashion_is_shipped_too():
    a = load_dataset("mnist", n_train=100)
    full = load_dataset("mnist")
    assert torch.equal(a.x_train, full.x_train[:100]) and a.x_val is None  # random_split's prefix property
    f = load_dataset("fashion-mnist")
    assert f.x_train.shape == (2560, 100) and f.x_test.shape == (10000, 100) and f.name == "fashion-mnist"
    assert torch.bincount(f.y_test).tolist() == [1000] * 10


@pytest.mark.skipif(not SHARED_MNIST.is_dir(), reason="the official MNIST files (../shared/data/mnist) are not here")
def test_real_files_give_the_same_split_as_the_shipped_one(tmp_path):
    raw = tmp_path / "root" / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for f in SHARED_MNIST.glob("*-ubyte.gz"):
        (raw / f.name).symlink_to(f)
    tv = load_dataset("mnist", source="torchvision", root=tmp_path / "root")
    shipped = load_dataset("mnist", source="shipped")
    assert torch.equal(tv.x_train, shipped.x_train) and torch.equal(tv.y_train, shipped.y_train)
    assert torch.equal(tv.x_val, shipped.x_val) and torch.equal(tv.x_test, shipped.x_test)
    big = load_dataset("mnist", root=tmp_path / "root", n_train=5000)  # auto: beyond the shipped split
    assert big.x_train.shape == (5000, 100) and "torchvision files" in big.description
    assert torch.equal(big.x_train[:2560], shipped.x_train)  # the same permutation, a longer prefix


# ------------------------------------------------------------------ preprocessing
@pytest.mark.parametrize("size", [10, 7, 28])
@pytest.mark.parametrize("antialias", [True, False])
def test_resize_matches_torchvision(size, antialias):
    import_torchvision()
    import torchvision.transforms.functional as TF

    imgs = torch.from_numpy(data._read_shipped("mnist")["train_images"][:16, None])
    ref = TF.resize(imgs.float() / 255, [size, size], interpolation=TF.InterpolationMode.BILINEAR, antialias=antialias)
    torch.testing.assert_close(preprocess(imgs, size, antialias=antialias), ref.reshape(16, -1), rtol=0, atol=1e-6)


def test_antialias_changes_the_inputs():
    a, b = load_dataset("mnist", antialias=True), load_dataset("mnist", antialias=False)
    assert not torch.equal(a.x_train, b.x_train) and torch.equal(a.y_train, b.y_train)
    assert data.content_hash(a) != data.content_hash(b)


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
    tr, _ = _random_split(30, 20, seed=5)
    assert ds.name == name and ds.x_train.shape == (20, 49) and ds.x_test.shape == (12, 49)
    torch.testing.assert_close(ds.x_train, preprocess(xtr[tr][:, None], 7))
    torch.testing.assert_close(ds.x_test, preprocess(xte[:, None], 7))  # the official test split, in order
    assert torch.equal(ds.y_train, torch.from_numpy(ytr[tr]).long())


@pytest.mark.parametrize("grayscale", [None, True])
def test_cifar_pickle_layout_keeps_colour_by_default(tmp_path, grayscale):
    xtr, ytr, xte, yte = _cifar_set(tmp_path)
    ds = load_dataset("cifar10", root=tmp_path, n_train=15, size=8, seed=2, grayscale=grayscale)
    tr, _ = _random_split(20, 15, seed=2)
    colour = grayscale is None
    assert ds.x_train.shape == (15, 192 if colour else 64) and ds.x_test.shape[0] == 5
    torch.testing.assert_close(ds.x_train, preprocess(xtr[tr], 8, grayscale=not colour))
    assert ("RGB" in ds.description) == colour


def test_download_goes_through_torchvision(tmp_path, monkeypatch):
    calls = []

    class FakeMNIST:  # stands in for torchvision.datasets.MNIST(root, train, download=True)
        def __init__(self, root, train, download):
            calls.append((root, train, download))
            if len(calls) == 1:
                _idx_set(tmp_path / "root" / "MNIST" / "raw")

    fake = type("tv", (), {"datasets": type("ds", (), {"MNIST": FakeMNIST})})
    monkeypatch.setattr("springblock._vision.import_torchvision", lambda: fake)
    ds = load_dataset("mnist", root=tmp_path / "root", download=True, n_train=10, seed=3)
    assert ds.x_test.shape == (12, 100)
    assert calls == [(str(tmp_path / "root"), True, True), (str(tmp_path / "root"), False, True)]


def test_missing_files_say_where_and_how(tmp_path):
    with pytest.raises(FileNotFoundError, match="cifar-10-batches-py.*download=True"):
        load_dataset("cifar10", root=tmp_path / "nothing")
    with pytest.raises(FileNotFoundError, match="shipped split serves n_train <= 2560"):
        load_dataset("mnist", root=tmp_path / "nothing", n_train=3000)


@pytest.mark.parametrize("kwargs,param", [
    (dict(name="svhn"), "name"), (dict(source="web"), "source"), (dict(source="debian"), "source"),
    (dict(name="cifar10", source="shipped"), "source"), (dict(size=0), "size"), (dict(size=29), "size"),
    (dict(n_train=0), "n_train"), (dict(n_train=2.5), "n_train"), (dict(source="shipped", n_train=3000), "n_train"),
    (dict(source="shipped", seed=2), "seed"), (dict(antialias="yes"), "antialias"), (dict(seed=-1), "seed")])
def test_bad_parameters_name_themselves(kwargs, param):
    with pytest.raises(ValueError, match=param):
        load_dataset(**kwargs)


# ------------------------------------------------------------------ identity and checks
def test_content_hash_sees_contents_not_names(small):
    same = dataclasses.replace(small, description="another description")
    shuffled = dataclasses.replace(small, y_train=small.y_train[torch.randperm(len(small.y_train),
                                                                               generator=torch.Generator().manual_seed(0))])
    nudged = dataclasses.replace(small, x_test=small.x_test + 1e-6)
    h = data.content_hash(small)
    assert data.content_hash(same) == h
    assert data.content_hash(shuffled) != h and data.content_hash(nudged) != h


def test_check_dataset_refuses_bad_data_by_name(small):
    bad = {
        "NaN": (dict(x_train=small.x_train.clone().index_put_((torch.tensor([3]), torch.tensor([5])),
                                                              torch.tensor(float("nan")))),
                "x_train contains NaN"),
        "inf": (dict(x_test=small.x_test.clone().fill_(float("inf"))), "x_test contains NaN or inf"),
        "label >= C": (dict(y_train=small.y_train.clone().index_fill_(0, torch.tensor([0]), 10)), "y_train must lie in 0..9"),
        "negative label": (dict(y_test=small.y_test.clone().index_fill_(0, torch.tensor([0]), -1)), "y_test must lie"),
        "length": (dict(y_train=small.y_train[:-1]), r"y_train must have shape \(320,\)"),
        "width": (dict(x_test=small.x_test[:, :50]), "x_test has 50 features"),
        "dtype": (dict(x_test=small.x_test.to(torch.int64)), "x_test must be a floating-point"),
        "float labels": (dict(y_train=small.y_train.float()), "y_train must hold integer"),
    }
    for change, msg in bad.values():
        with pytest.raises(ValueError, match=msg):
            data.check_dataset(dataclasses.replace(small, **change))
    assert data.check_dataset(small) == 10


def test_tensors_gives_the_splits_asked_for_and_refuses_others():
    d = data.Dataset(x_train=torch.zeros(4, 3), y_train=torch.zeros(4, dtype=torch.int64), x_test=torch.ones(2, 3),
                     y_test=torch.ones(2, dtype=torch.int64), num_classes=2, name="toy", description="")
    xtr, ytr, xte, yte = d.tensors("cpu")
    assert xtr.shape == (4, 3) and yte.tolist() == [1, 1]
    assert len(d.tensors("cpu", ("test",))) == 2
    with pytest.raises(ValueError, match="'val' is not a split of toy"):
        d.tensors("cpu", ("val",))
