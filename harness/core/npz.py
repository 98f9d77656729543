"""The one .npz codec: every array that crosses a process boundary (a backend's Run, a grading
job's inputs, a child's observations) is a flat map of dotted names ("grads.W1", "3.p.b2") to
float arrays in one .npz. Nested maps flatten into dotted names and back; a file from an
untrusted process is read member by member, each bounded before it is read.
"""
from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np

from .parsing import PARSING

HEADER_BYTES = 256                   # a .npy member's header, at most (numpy writes 128)


class NpzError(ValueError):
    """A file that is not the arrays it should be (missing, too large, unknown names, not floats)."""


def flatten(tree: dict, prefix: str = "") -> dict[str, np.ndarray]:
    """{"grads": {"W1": a}, "loss": b} -> {"grads.W1": a, "loss": b}; None values are left out."""
    flat: dict[str, np.ndarray] = {}
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flatten(value, name + "."))
        elif value is not None:
            flat[name] = np.asarray(value)
    return flat


def group(flat: dict, prefix: str) -> dict[str, np.ndarray]:
    """The members named prefix.<rest>, keyed by <rest> (empty when there are none)."""
    head = prefix + "."
    return {k[len(head):]: v for k, v in flat.items() if k.startswith(head)}


def write(path: Path | str, tree: dict) -> None:
    np.savez(path, **flatten(tree))


def read(path: Path | str) -> dict[str, np.ndarray]:
    """A trusted file (written by the harness itself), every member."""
    with np.load(path, allow_pickle=False) as data:
        return {k: data[k] for k in data.files}


def read_bounded(path: Path, limits: dict[str, int], required: set) -> dict[str, np.ndarray]:
    """An untrusted file: exactly names from `limits` (all of `required`), each at most its bytes,
    floats only; NpzError otherwise. Each member's size is checked before it is decompressed."""
    if not path.is_file() or path.stat().st_size > sum(limits.values()) + 512 * len(limits):
        raise NpzError(f"{path.name}: missing, or larger than the run's results can be")
    try:
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
            names = [i.filename.removesuffix(".npy") for i in infos]
            if len(set(names)) != len(names) or not required <= set(names) <= set(limits):
                raise NpzError(f"{path.name}: not the arrays this run produces")
            return {name: _member(zf, info, name, limits[name], path.name)
                    for info, name in zip(infos, names, strict=True)}
    except NpzError:
        raise
    except Exception as exc:   # noqa: BLE001 - a corrupt or hostile file
        raise NpzError(f"{path.name}: unreadable ({type(exc).__name__})") from None


def _member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, name: str, limit: int, file: str) -> np.ndarray:
    if info.file_size > limit:
        raise NpzError(f"{file}: {name} is larger than it can be")
    with zf.open(info) as fh:
        data = fh.read(limit + 1)
    if len(data) > limit:
        raise NpzError(f"{file}: {name} is larger than it can be")
    with PARSING:                     # its header is read with ast.literal_eval
        arr = np.lib.format.read_array(io.BytesIO(data), allow_pickle=False)
    if arr.dtype.kind != "f" or arr.dtype.itemsize > 8:
        raise NpzError(f"{file}: {name} has dtype {arr.dtype}, not a float")
    return arr


def float_bytes(entries: int) -> int:
    """The most bytes a member of this many float64 entries takes, header included."""
    return 8 * entries + HEADER_BYTES
