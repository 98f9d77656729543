"""Datasets for training parity: the 8x8 digits shipped with the package (the default), MNIST
from local IDX files (torchvision's layout; no download is ever attempted), and seeded
synthetic blobs. Every loader returns float inputs in [0, 1] and integer labels, split into a
train and a test part."""
from __future__ import annotations

import gzip
from dataclasses import dataclass
from pathlib import Path

import numpy as np

DATA_DIR = Path(__file__).parent / "data"
DATASETS = ("digits", "mnist", "synthetic")
MNIST_FILES = {"train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
               "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}


class DatasetError(ValueError):
    """A dataset is unknown, missing or malformed: the message says what to do."""


@dataclass(frozen=True)
class Dataset:
    name: str
    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    n_classes: int
    description: str

    @property
    def n_features(self) -> int:
        return self.X_train.shape[1]


def load(name: str, root: str | None = None, seed: int = 0) -> Dataset:
    if name == "digits":
        return digits(seed)
    if name == "mnist":
        return mnist(root or "data")
    if name == "synthetic":
        return synthetic(seed)
    raise DatasetError(f"unknown dataset {name!r}; valid: {', '.join(DATASETS)}")


def _split(name, X, y, n_classes, description, seed, test_fraction=0.2) -> Dataset:
    order = np.random.default_rng([seed, 7]).permutation(len(X))
    n_test = int(round(len(X) * test_fraction))
    test, train = order[:n_test], order[n_test:]
    return Dataset(name, X[train], y[train], X[test], y[test], n_classes, description)


def digits(seed: int = 0) -> Dataset:
    with np.load(DATA_DIR / "digits.npz") as data:
        X, y = data["images"].astype(np.float64) / 16.0, data["labels"].astype(np.int64)
    return _split("digits", X, y, 10, "8x8 handwritten digits (UCI, via scikit-learn), 1,797 images, "
                  "80/20 seeded split", seed)


def synthetic(seed: int = 0, n: int = 1500, n_features: int = 20, n_classes: int = 4) -> Dataset:
    """Gaussian blobs around seeded centres, squashed into [0, 1]."""
    rng = np.random.default_rng([seed, 8])
    centres = rng.normal(0, 1.5, (n_classes, n_features))
    y = rng.integers(0, n_classes, n)
    X = 1 / (1 + np.exp(-(centres[y] + rng.normal(0, 1.0, (n, n_features)))))
    return _split("synthetic", X, y, n_classes, f"{n} seeded Gaussian blobs, {n_features} features, "
                  f"{n_classes} classes", seed)


# --- MNIST -----------------------------------------------------------------------------------
def read_idx(path: str | Path) -> np.ndarray:
    """An IDX file (optionally .gz): unsigned bytes, big-endian dimension sizes."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as fh:
        data = fh.read()
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] != 0x08:
        raise DatasetError(f"{path}: not an IDX file of unsigned bytes (magic {data[:4].hex()})")
    ndim = data[3]
    dims = tuple(int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    body = np.frombuffer(data, np.uint8, offset=4 + 4 * ndim)
    if body.size != int(np.prod(dims)):
        raise DatasetError(f"{path}: header says {dims} = {int(np.prod(dims))} bytes, file has {body.size}")
    return body.reshape(dims)


def write_idx(path: str | Path, array: np.ndarray) -> None:
    array = np.ascontiguousarray(array, np.uint8)
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    Path(path).write_bytes(header + array.tobytes())


def _find(raw: Path, stem: str) -> Path | None:
    for candidate in (raw / stem, raw / f"{stem}.gz"):
        if candidate.is_file():
            return candidate
    return None


def mnist(root: str | Path) -> Dataset:
    """torchvision.datasets.MNIST(root, download=False) when torchvision imports, else the same
    files (root/MNIST/raw/*-ubyte[.gz]) through read_idx."""
    raw = Path(root) / "MNIST" / "raw"
    missing = [stem for pair in MNIST_FILES.values() for stem in pair if _find(raw, stem) is None]
    if missing:
        raise DatasetError(f"MNIST not found: {raw} lacks {', '.join(missing)} (or .gz). Put the four MNIST IDX "
                           f"files there (torchvision's layout: ROOT/MNIST/raw/), or give --data ROOT; "
                           "no download is attempted")
    parts, how = {}, "numpy IDX reader"
    try:
        import torchvision
        for split in ("train", "test"):
            ds = torchvision.datasets.MNIST(str(root), train=split == "train", download=False)
            parts[split] = (ds.data.numpy(), ds.targets.numpy())
        how = f"torchvision {torchvision.__version__}"
    except Exception:            # noqa: BLE001 - not installed, or broken beside this torch: read the files
        for split, (images, labels) in MNIST_FILES.items():
            parts[split] = (read_idx(_find(raw, images)), read_idx(_find(raw, labels)))
    (Xtr, ytr), (Xte, yte) = parts["train"], parts["test"]
    if len(Xtr) != len(ytr) or len(Xte) != len(yte):
        raise DatasetError(f"{raw}: images and labels differ in count")
    flat = lambda a: a.reshape(len(a), -1).astype(np.float64) / 255.0   # noqa: E731
    return Dataset("mnist", flat(Xtr), ytr.astype(np.int64), flat(Xte), yte.astype(np.int64), 10,
                   f"MNIST from {raw} ({how}), {len(Xtr)} train / {len(Xte)} test images")
