"""Datasets with the paper's preprocessing and the paper's split.

``load_dataset("mnist")`` returns what the paper trains and tests on: the 2,560 training digits that
the authors draw with ``random_split(train, [2560, rest], generator=manual_seed(1))`` from the
official MNIST training set, and the official 10,000-digit test set, each image resized to 10×10
(100 features) with pixels in [0, 1]. A second ``random_split`` of the remainder with the same seed
gives the authors' 2,560-digit validation set (``x_val``, ``y_val``).

Sources (``source=``):

* ``"shipped"`` — the split above, stored as raw 28×28 uint8 images inside the package
  (``springblock/assets``, built by ``scripts/build_data_assets.py`` from the official files), for
  MNIST and Fashion-MNIST. Offline, always available; serves ``n_train <= 2560`` with ``seed=1``
  (a smaller ``n_train`` is a prefix of the same permutation, exactly as ``random_split`` gives it).
* ``"torchvision"`` — the official files in torchvision's on-disk layout under ``root``
  (``MNIST/raw/``, ``FashionMNIST/raw/`` IDX files, gzipped or not; ``cifar-10-batches-py/``);
  ``download=True`` fetches them (needs internet). Any ``n_train`` and ``seed``.
* ``"auto"`` — the shipped split when it can serve the request, else torchvision's files.

Preprocessing is a choice made at load time (:func:`preprocess`): ``ToTensor`` (÷255), optional
luminance for colour images, bilinear resize to ``size``×``size`` with or without antialiasing,
flatten. The authors call torchvision's ``Resize(10)`` on tensors; whether that antialiases depends
on their torchvision version (tensor antialiasing became the default in 0.17), so ``antialias`` is
explicit here and its default, :data:`ANTIALIAS`, was chosen by which setting reproduces the
paper's Fig. 1 accuracy ranges (the measurement is in the book's chapter 2).

Nothing is cached on disk: the shipped split preprocesses in a fraction of a second, and the
torchvision files are re-read only when they change.
"""
from __future__ import annotations

import dataclasses
import gzip
import hashlib
import os
import pickle
import zipfile
import zlib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from . import validate
from .paths import cache_dir

NAMES = ("mnist", "fashion-mnist", "cifar10")
SOURCES = ("auto", "shipped", "torchvision")
NATIVE_SIZE = {"mnist": 28, "fashion-mnist": 28, "cifar10": 32}
NUM_CLASSES = 10  # all three datasets
PAPER_N_TRAIN, PAPER_SEED = 2560, 1  # the authors' random_split: 2560 digits, generator seed 1
ANTIALIAS = True  # the default resize; see the module docstring and chapter 2's measurement
SHIPPED = ("mnist", "fashion-mnist")
_TITLE = {"mnist": "MNIST", "fashion-mnist": "Fashion-MNIST", "cifar10": "CIFAR-10"}
_TV_FOLDER = {"mnist": "MNIST", "fashion-mnist": "FashionMNIST"}
IDX_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte",
             "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
_CIFAR_DIR, _CIFAR_FILES = "cifar-10-batches-py", [*(f"data_batch_{i}" for i in range(1, 6)), "test_batch"]
_MEMO: dict[tuple, "Dataset"] = {}


@dataclass(frozen=True)
class Dataset:
    """Preprocessed, flattened tensors ready to train on (validation split when known)."""

    x_train: torch.Tensor  # (n_train, d) float32
    y_train: torch.Tensor  # (n_train,) int64
    x_test: torch.Tensor  # (n_test, d) float32
    y_test: torch.Tensor  # (n_test,) int64
    num_classes: int
    name: str
    description: str
    x_val: torch.Tensor | None = None  # (n_val, d): the authors' validation split, if available
    y_val: torch.Tensor | None = None
    spec: dict | None = None  # the load_dataset arguments that rebuild it (for `springblock cache verify`)

    def tensors(self, device, splits: Sequence[str] = ("train", "test")) -> tuple[torch.Tensor, ...]:
        """``x`` and ``y`` of each split in ``splits`` ("train", "test", "val"), on ``device``."""
        for s in splits:
            if s not in ("train", "test", "val") or getattr(self, f"x_{s}") is None:
                raise ValueError(f"splits: {s!r} is not a split of {self.name} (it has train, test"
                                 f"{', val' if self.x_val is not None else ''})")
        return tuple(torch.as_tensor(getattr(self, f"{xy}_{s}")).to(device) for s in splits for xy in "xy")

    def to(self, device) -> "Dataset":
        moved = {k: getattr(self, k).to(device) for k in ("x_train", "y_train", "x_test", "y_test", "x_val", "y_val")
                 if getattr(self, k) is not None}
        return dataclasses.replace(self, **moved)


# ----------------------------------------------------------------------------- identity and checks
_SPLITS = (("x_train", "y_train"), ("x_test", "y_test"), ("x_val", "y_val"))


def _numpy(t) -> np.ndarray:
    return t.detach().cpu().numpy() if hasattr(t, "detach") else np.asarray(t)


def content_hash(data) -> str:
    """sha256 of a dataset's inputs and labels (every split present, with dtypes and shapes).

    This, not its name or description, is what identifies a dataset inside a result's cache key,
    so two datasets with the same name but other digits or labels never share a result.
    """
    h = hashlib.sha256()
    for xs, ys in _SPLITS:
        for key in (xs, ys):
            value = getattr(data, key, None)
            if value is None:
                h.update(f"{key}:none;".encode())
                continue
            arr = np.ascontiguousarray(_numpy(value))
            h.update(f"{key}:{arr.dtype.str}:{arr.shape};".encode())
            h.update(arr.tobytes())
    h.update(f"classes:{getattr(data, 'num_classes', None)}".encode())
    return h.hexdigest()


def full_batch(data) -> int:
    """The size of ``data``'s training set (a full-batch run's batch size), once :func:`check_dataset`
    has refused unusable data, so an empty training set is named as such, not as a bad batch size."""
    check_dataset(data)
    return len(data.x_train)


def check_dataset(data) -> int:
    """Refuse unusable data before any work; return the class count C.

    Checks every split present: 2-D real inputs of one width, finite; integer labels of matching
    length in 0..C−1 (C = ``data.num_classes``, or max label + 1). Each message names the field.
    """
    for attr in ("x_train", "y_train", "x_test", "y_test"):
        if getattr(data, attr, None) is None:
            raise ValueError(f"data.{attr} is missing: a dataset needs x_train, y_train, x_test, y_test")
    c = getattr(data, "num_classes", None)
    labels = [_numpy(getattr(data, ys)) for _, ys in _SPLITS if getattr(data, ys, None) is not None]
    if c is None:
        c = int(max(int(y.max()) for y in labels if y.size)) + 1
    c = validate.integer("data.num_classes", c, 2)
    width = None
    for xs, ys in _SPLITS:
        x, y = getattr(data, xs, None), getattr(data, ys, None)
        if x is None and y is None:
            continue
        if x is None or y is None:
            raise ValueError(f"data.{xs} and data.{ys} must be given together")
        x, y = _numpy(x), _numpy(y)
        if x.ndim != 2 or x.shape[0] == 0:
            raise ValueError(f"data.{xs} must have shape (N, d) with N >= 1; got {x.shape}")
        if not np.issubdtype(x.dtype, np.floating):
            raise ValueError(f"data.{xs} must be a floating-point array; got dtype {x.dtype}")
        if width is None:
            width = x.shape[1]
        elif x.shape[1] != width:
            raise ValueError(f"data.{xs} has {x.shape[1]} features but data.x_train has {width}: widths must match")
        if not np.isfinite(x).all():
            bad = np.argwhere(~np.isfinite(x))[0].tolist()
            raise ValueError(f"data.{xs} contains NaN or inf (first at [sample, feature] = {bad})")
        if y.shape != (x.shape[0],):
            raise ValueError(f"data.{ys} must have shape ({x.shape[0]},) to match data.{xs}; got {y.shape}")
        if not np.issubdtype(y.dtype, np.integer):
            raise ValueError(f"data.{ys} must hold integer class ids; got dtype {y.dtype}")
        if y.min() < 0 or y.max() >= c:
            raise ValueError(f"data.{ys} must lie in 0..{c - 1} (num_classes = {c}); got {int(y.min())}..{int(y.max())}")
    return c


# ----------------------------------------------------------------------------- the paper's split
def paper_split(n_pool: int, n_train: int, seed: int = PAPER_SEED) -> tuple[np.ndarray, np.ndarray]:
    """Training and validation positions of the authors' two ``random_split`` calls.

    ``random_split(pool, [n_train, rest], generator=manual_seed(seed))`` keeps the first
    ``n_train`` entries of ``randperm(n_pool)``; the second split does the same to the remainder,
    keeping ``n_train`` of them (fewer if the remainder is smaller) as the validation set.
    """
    perm = torch.randperm(n_pool, generator=torch.Generator().manual_seed(seed)).numpy()
    train, rest = perm[:n_train], perm[n_train:]
    second = torch.randperm(len(rest), generator=torch.Generator().manual_seed(seed)).numpy()
    return train, rest[second[:min(n_train, len(rest))]]


# ----------------------------------------------------------------------------- raw readers
def idx_bytes(path: str | os.PathLike) -> bytes:
    """The uncompressed bytes of an IDX file (gzipped or not)."""
    blob = Path(path).read_bytes()
    return gzip.decompress(blob) if blob[:2] == b"\x1f\x8b" else blob


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read an IDX file of unsigned bytes (MNIST format), gzipped or not."""
    blob = bytearray(idx_bytes(path))  # writable, so torch.as_tensor does not warn
    if blob[:2] != b"\0\0" or blob[2] != 0x08:
        raise ValueError(f"{path}: not an unsigned-byte IDX file")
    ndim = blob[3]
    dims = np.frombuffer(blob, ">i4", ndim, offset=4).astype(int)
    return np.frombuffer(blob, np.uint8, int(np.prod(dims)), offset=4 + 4 * ndim).reshape(dims)


def idx_paths(folder: Path) -> list[Path] | None:
    """The four IDX files in ``folder`` (plain or ``.gz``), or None if any is missing."""
    found = []
    for stem in IDX_FILES:
        hit = next((p for p in (folder / stem, folder / f"{stem}.gz") if p.is_file()), None)
        if hit is None:
            return None
        found.append(hit)
    return found


def _read_cifar_batch(path: Path):
    with open(path, "rb") as fh:  # the official batches are Python 2 pickles
        d = pickle.load(fh, encoding="latin1")
    d = {k.decode() if isinstance(k, bytes) else k: v for k, v in d.items()}
    return np.asarray(d["data"], np.uint8).reshape(-1, 3, 32, 32), np.asarray(d["labels"], np.uint8)


def _read_torchvision(name: str, folder: Path):
    """(train images (N, C, H, W), train labels, test images, test labels) from the official files."""
    if name == "cifar10":
        *train, (xte, yte) = (_read_cifar_batch(folder / b) for b in _CIFAR_FILES)
        return np.concatenate([x for x, _ in train]), np.concatenate([y for _, y in train]), xte, yte
    xtr, ytr, xte, yte = (read_idx(p) for p in idx_paths(folder))
    return xtr[:, None], ytr, xte[:, None], yte


def asset_path(name: str) -> Path:
    """Where the shipped split of ``name`` lives inside the package."""
    return Path(str(resources.files("springblock") / "assets" / f"{name}-paper-split.npz"))


def _read_shipped(name: str):
    path = asset_path(name)
    try:
        with np.load(path, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    except FileNotFoundError:
        raise
    except (OSError, EOFError, ValueError, zipfile.BadZipFile, zlib.error) as err:
        raise ValueError(f"{path}: the shipped {name} split is damaged ({type(err).__name__}: {err}); "
                         "reinstall the package (pip install -e .) or restore the file from git") from None


def _tv_folder(name: str, root: Path) -> Path:
    return root / (_CIFAR_DIR if name == "cifar10" else f"{_TV_FOLDER[name]}/raw")


def _tv_files(name: str, root: Path) -> list[Path] | None:
    folder = _tv_folder(name, root)
    if name == "cifar10":
        files = [folder / b for b in _CIFAR_FILES]
        return files if all(f.is_file() for f in files) else None
    return idx_paths(folder)


def _download(name: str, root: Path) -> None:
    """Fetch the official files into ``root`` with torchvision's downloaders (needs internet)."""
    from ._vision import import_torchvision

    ds = import_torchvision().datasets
    cls = getattr(ds, {"mnist": "MNIST", "fashion-mnist": "FashionMNIST", "cifar10": "CIFAR10"}[name])
    for train in (True, False):
        cls(str(root), train=train, download=True)


# ----------------------------------------------------------------------------- preprocessing
def preprocess(images, size: int, *, grayscale: bool = True, antialias: bool = ANTIALIAS) -> torch.Tensor:
    """uint8 (N, C, H, W) -> float32 (N, C'·size²): ÷255, luminance if ``grayscale``, resize, flatten.

    The resize is torchvision's tensor ``Resize(size)``: bilinear with half-pixel centres, with or
    without ``antialias``. Colour stays channel-major when ``grayscale=False``.
    """
    x = torch.as_tensor(np.asarray(images)).float().div_(255)
    if grayscale and x.shape[1] == 3:  # the weights of torchvision's rgb_to_grayscale
        x = (0.2989 * x[:, 0] + 0.587 * x[:, 1] + 0.114 * x[:, 2]).unsqueeze(1)
    if x.shape[-2:] != (size, size):
        # chunked only to bound peak memory on large sets; the same result
        x = torch.cat([F.interpolate(c, size=(size, size), mode="bilinear", align_corners=False,
                                     antialias=antialias) for c in x.split(8192)])
    return x.reshape(len(x), -1).contiguous()


# ----------------------------------------------------------------------------- main entry
def _source(name: str, source: str, n_train: int, seed: int, root: Path, download: bool) -> str:
    """Turn ``source`` into "shipped" or "torchvision", or raise saying where we looked."""
    shipped_ok = name in SHIPPED and seed == PAPER_SEED and n_train <= PAPER_N_TRAIN
    if source == "shipped" and not shipped_ok:
        if name not in SHIPPED:
            raise ValueError(f"source='shipped' exists for {SHIPPED}, not {name!r}")
        raise ValueError(f"source='shipped' holds the paper's split: n_train <= {PAPER_N_TRAIN} and seed = "
                         f"{PAPER_SEED}; got n_train={n_train}, seed={seed} (use source='torchvision')")
    if source == "shipped" or (source == "auto" and shipped_ok):
        return "shipped"
    if _tv_files(name, root) is not None or download:
        return "torchvision"
    layout = "{data_batch_1..5,test_batch}" if name == "cifar10" else "{" + ",".join(IDX_FILES) + "}[.gz]"
    raise FileNotFoundError(
        f"{name} (source={source!r}, n_train={n_train}, seed={seed}) needs the official files, not found in "
        f"{_tv_folder(name, root)}/{layout}. Get them with load_dataset({name!r}, download=True, root=...) "
        "on a machine with internet" + ("" if name not in SHIPPED else
                                        f"; the shipped split serves n_train <= {PAPER_N_TRAIN} with seed 1"))


def _build(name, src, root, n_train, size, seed, grayscale, antialias) -> Dataset:
    val = None
    if src == "shipped":
        z = _read_shipped(name)
        xtr, ytr = z["train_images"][:n_train, None], z["train_labels"][:n_train]
        xte, yte = z["test_images"][:, None], z["test_labels"]
        if n_train == PAPER_N_TRAIN:
            val = z["val_images"][:, None], z["val_labels"]
        where = "shipped with springblock"
    else:
        pool_x, pool_y, xte, yte = _read_torchvision(name, _tv_folder(name, root))
        if n_train >= len(pool_x):
            raise ValueError(f"n_train={n_train}: must be < {len(pool_x)}, the size of {name}'s training set")
        tr, va = paper_split(len(pool_x), n_train, seed)
        xtr, ytr = pool_x[tr], pool_y[tr]
        val = pool_x[va], pool_y[va]
        where = f"torchvision files in {root}"
    colour = "" if xtr.shape[1] == 1 else (", luminance" if grayscale else ", RGB channel-major")
    split = "the paper's split" if seed == PAPER_SEED else f"split seed {seed}"
    desc = (f"{_TITLE[name]}, {split}: {n_train} training {'digits' if name == 'mnist' else 'images'}, the official "
            f"{len(yte):,}-image test set; {size}x{size}{colour}, bilinear resize, antialias={antialias} ({where})")
    prep = lambda x: preprocess(x, size, grayscale=grayscale, antialias=antialias)
    label = lambda y: torch.as_tensor(np.asarray(y, np.int64))
    return Dataset(prep(xtr), label(ytr), prep(xte), label(yte), NUM_CLASSES, name, desc,
                   *((prep(val[0]), label(val[1])) if val is not None else (None, None)))


def load_dataset(name: str = "mnist", *, source: str = "auto", n_train: int = PAPER_N_TRAIN, size: int = 10,
                 antialias: bool = ANTIALIAS, grayscale: bool | None = None, seed: int = PAPER_SEED,
                 root: str | os.PathLike | None = None, download: bool = False) -> Dataset:
    """Load ``name`` with the paper's split and preprocessing; see the module docstring for sources.

    ``size``: images become size × size (1..28; CIFAR-10 1..32), flattened. ``grayscale``: None keeps
    each dataset's native channels (CIFAR-10 in colour, 3·size² features, as the authors' code does);
    True converts colour to luminance. ``n_train`` and ``seed``: the training split (the paper: 2560, 1).
    ``root``: torchvision's data folder (default ``<cache>/datasets``).
    """
    validate.choice("name", name, NAMES)
    validate.choice("source", source, SOURCES)
    n_train = validate.integer("n_train", n_train, 1)
    size = validate.integer("size", size, 1, NATIVE_SIZE[name])
    seed = validate.integer("seed", seed, 0)
    antialias = validate.boolean("antialias", antialias)
    grayscale = False if grayscale is None else validate.boolean("grayscale", grayscale)
    root = Path(root).expanduser() if root is not None else cache_dir() / "datasets"
    src = _source(name, source, n_train, seed, root, download)
    if src == "torchvision" and _tv_files(name, root) is None:
        _download(name, root)
    files = [asset_path(name)] if src == "shipped" else _tv_files(name, root)
    stamp = tuple((str(f), f.stat().st_size, f.stat().st_mtime_ns) for f in files)  # files changed -> reload
    memo = (name, src, n_train, size, seed, grayscale, antialias, stamp)
    if memo not in _MEMO:
        ds = _build(name, src, root, n_train, size, seed, grayscale, antialias)
        spec = dict(name=name, source=source, n_train=n_train, size=size, antialias=antialias, grayscale=grayscale,
                    seed=seed, root=None if src == "shipped" else str(root))
        _MEMO[memo] = dataclasses.replace(ds, spec=spec)
    return _MEMO[memo]
