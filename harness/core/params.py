"""Canonical parameters and data: W as (in, out), b as (out,), seeded; and the layout maps that
turn a canonical tensor into the layout some code keeps it in, and back.

Every backend is loaded from the same canonical set, and read back into it, so the layout of
each framework or student lives in exactly one small function here or in its backend.
"""
from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from .spec import Spec

Params = dict[str, np.ndarray]


def init_params(spec: Spec) -> Params:
    """Glorot-normal weights and small non-zero biases (zero biases would hide bias bugs).
    Fresh arrays each call (made once per spec: a 784-500-10 net takes milliseconds to draw)."""
    params = {k: v.copy() for k, v in _init_params(spec.sizes, spec.seed, spec.dtype, spec.init_scale).items()}
    if spec.logit_offset:
        last = f"b{len(spec.sizes) - 1}"
        params[last] = (params[last] + spec.logit_offset).astype(spec.dtype)
    return params


@functools.lru_cache(maxsize=64)
def _init_params(sizes: tuple[int, ...], seed: int, dtype: str, scale: float = 1.0) -> Params:
    rng = np.random.default_rng([seed, 0])
    params: Params = {}
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True), start=1):
        params[f"W{i}"] = rng.standard_normal((n_in, n_out)) * np.sqrt(2.0 / (n_in + n_out)) * scale
        params[f"b{i}"] = rng.standard_normal(n_out) * 0.1
    return {k: v.astype(dtype) for k, v in params.items()}


def make_batch(spec: Spec, batch: int | None = None, seed_stream: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Inputs in [0, 1) like pixel intensities; one-hot targets for classifiers (never the last
    spec.absent_classes classes), [0, 1) otherwise."""
    n = spec.batch if batch is None else batch
    rng = np.random.default_rng([spec.seed, seed_stream])
    X = rng.random((n, spec.sizes[0]))
    if spec.classification:
        T = np.eye(spec.sizes[-1])[rng.integers(0, spec.sizes[-1] - spec.absent_classes, size=n)]
    else:
        T = rng.random((n, spec.sizes[-1]))
    return X.astype(spec.dtype), T.astype(spec.dtype)


def row_or_column(shape: tuple, n: int) -> bool:
    """A bias of n entries kept as (1, n) or (n, 1): what bias_shapes = "lenient" reads as (n,)."""
    return len(shape) == 2 and 1 in shape and int(np.prod(shape)) == n


# --- layouts -------------------------------------------------------------------------------
# A layout says how one canonical tensor is kept elsewhere. read(stored) -> canonical;
# write(stored, canonical) stores the canonical value into `stored` in place.

def _write_into(stored: np.ndarray, value: np.ndarray) -> None:
    if stored.shape != value.shape:
        raise LayoutError(f"expected shape {value.shape}, found {stored.shape}")
    stored[...] = value


@dataclass(frozen=True)
class Layout:
    name: str
    holds: str                  # "weight" or "bias"
    read: Callable              # stored -> canonical
    write: Callable             # (stored, canonical) -> None, in place
    description: str


LAYOUTS: dict[str, Layout] = {layout.name: layout for layout in (
    Layout("in_out", "weight", lambda s: s, lambda s, v: _write_into(s, v), "W as (in, out)"),
    Layout("out_in", "weight", lambda s: s.T, lambda s, v: _write_into(s, v.T), "W as (out, in)"),
    Layout("packed_w", "weight", lambda s: s[:, 1:].T, lambda s, v: _write_into(s[:, 1:], v.T),
           "(out, 1 + in), column 0 is the bias"),
    Layout("vec", "bias", lambda s: s, lambda s, v: _write_into(s, v), "b as (n,)"),
    Layout("row", "bias", lambda s: s.reshape(-1) if s.ndim == 2 and s.shape[0] == 1 else _bad_row(s),
           lambda s, v: _write_into(s, v.reshape(1, -1)), "b as (1, n)"),
    Layout("col", "bias", lambda s: s.reshape(-1) if s.ndim == 2 and s.shape[1] == 1 else _bad_col(s),
           lambda s, v: _write_into(s, v.reshape(-1, 1)), "b as (n, 1)"),
    Layout("packed_b", "bias", lambda s: s[:, 0], lambda s, v: _write_into(s[:, 0], v),
           "column 0 of a packed (out, 1 + in) array"),
)}


class LayoutError(ValueError):
    """A stored tensor does not have the shape its declared layout implies."""


def _bad_row(s):
    raise LayoutError(f"layout 'row' expects shape (1, n), found {np.shape(s)}")


def _bad_col(s):
    raise LayoutError(f"layout 'col' expects shape (n, 1), found {np.shape(s)}")


def to_canonical(layout: str, stored) -> np.ndarray:
    stored = np.asarray(stored)
    try:
        return np.array(LAYOUTS[layout].read(stored))
    except (IndexError, ValueError) as exc:
        if isinstance(exc, LayoutError):
            raise
        raise LayoutError(f"layout {layout!r} cannot read an array of shape {stored.shape}") from None


def store(layout: str, stored: np.ndarray, value: np.ndarray) -> None:
    try:
        LAYOUTS[layout].write(stored, value)
    except IndexError:
        raise LayoutError(f"layout {layout!r} cannot hold a value in an array of shape {np.shape(stored)}") from None
