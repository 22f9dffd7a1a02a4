"""Build the package's shipped datasets from the official IDX files: the paper's split, raw uint8.

The paper (and its authors' ``dataloader.py``) trains on ``random_split(train, [2560, rest],
generator=manual_seed(1))`` of the official training set, validates on a second ``random_split`` of
the rest with the same seed, and tests on the official 10,000-image test set. This script applies
that rule (``springblock.data.paper_split``, the same function the torchvision path uses) and stores
the chosen 28×28 images as they are, so that the preprocessing stays a choice made at load time.

    python scripts/build_data_assets.py                      # both, from the default folders
    python scripts/build_data_assets.py --mnist DIR --fashion DIR

Inputs (the four IDX files, gzipped or not, torchvision's names):

* MNIST: ``../shared/data/mnist`` (CC BY-SA 3.0; Yann LeCun, Corinna Cortes, Christopher J. C. Burges)
* Fashion-MNIST: Debian's ``dataset-fashion-mnist`` (``/usr/share/datasets/fashion-mnist``; MIT,
  Zalando Research)

Outputs: ``src/springblock/assets/<name>-paper-split.npz`` with ``{train,val,test}_{images,labels}``,
``{train,val}_indices`` (positions in the official training set, in the split's order) and
``source`` / ``source_sha256`` (the uncompressed IDX files' sha256, as recorded in the asset README).
"""
from __future__ import annotations

import argparse
import hashlib
import io
import json
import zipfile
from pathlib import Path

import numpy as np

from springblock import data

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DIRS = {"mnist": ROOT.parent / "shared" / "data" / "mnist",
                "fashion-mnist": Path("/usr/share/datasets/fashion-mnist")}
SOURCES = {"mnist": "official MNIST IDX files (CC BY-SA 3.0, LeCun, Cortes & Burges)",
           "fashion-mnist": "official Fashion-MNIST IDX files via Debian dataset-fashion-mnist (MIT, Zalando)"}


def write_npz(path: Path, arrays: dict) -> None:
    """An ``.npz`` that np.load reads, written byte for byte the same on every run (fixed member
    order and timestamps), so the asset's checksum identifies its content."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w") as zf:
        for key in sorted(arrays):
            buf = io.BytesIO()
            np.lib.format.write_array(buf, np.asarray(arrays[key]), allow_pickle=False)
            info = zipfile.ZipInfo(f"{key}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type, info.external_attr = zipfile.ZIP_DEFLATED, 0o644 << 16
            zf.writestr(info, buf.getvalue(), compresslevel=9)


def build(name: str, folder: Path, out: Path) -> dict:
    paths = data.idx_paths(folder)
    if paths is None:
        raise SystemExit(f"{name}: the four IDX files are not all in {folder}")
    raw = [data.read_idx(p) for p in paths]
    digests = {p.name.removesuffix(".gz"): hashlib.sha256(data.idx_bytes(p)).hexdigest() for p in paths}
    xtr, ytr, xte, yte = raw
    tr, val = data.paper_split(len(xtr), data.PAPER_N_TRAIN, data.PAPER_SEED)
    arrays = dict(train_images=xtr[tr], train_labels=ytr[tr], train_indices=tr.astype(np.int64),
                  val_images=xtr[val], val_labels=ytr[val], val_indices=val.astype(np.int64),
                  test_images=xte, test_labels=yte,
                  source=np.array(SOURCES[name]), source_sha256=np.array(json.dumps(digests, sort_keys=True)))
    write_npz(out, arrays)
    return {"file": out.name, "bytes": out.stat().st_size, "sha256": hashlib.sha256(out.read_bytes()).hexdigest(),
            "train": np.bincount(ytr[tr], minlength=10).tolist(), "test": np.bincount(yte, minlength=10).tolist()}


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mnist", type=Path, default=DEFAULT_DIRS["mnist"])
    ap.add_argument("--fashion", type=Path, default=DEFAULT_DIRS["fashion-mnist"])
    args = ap.parse_args(argv)
    for name, folder in (("mnist", args.mnist), ("fashion-mnist", args.fashion)):
        info = build(name, folder, data.asset_path(name))
        print(f"{name}: {info}")


if __name__ == "__main__":
    main()
