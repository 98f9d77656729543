"""Reaching into foreign objects: a dotted path to an attribute, dict key or list index (read or
written), a call's return value by the names the adapter gives its parts, and a returned value
as a float array (or an AdapterError that says what came back instead).
"""
from __future__ import annotations

import numpy as np

from .adapter import AdapterError, Call


def resolve(obj, path: str):
    """Follow a dotted path: attribute, dict key or list index at each step."""
    for part in path.split("."):
        obj = _step(obj, part, path)
    return obj


def assign(obj, path: str, value) -> None:
    """Put `value` where a dotted path leads (attribute, dict key or list index)."""
    *head, last = path.split(".")
    holder = resolve(obj, ".".join(head)) if head else obj
    if isinstance(holder, dict):
        holder[last] = value
    elif isinstance(holder, list) and last.lstrip("-").isdigit():
        holder[int(last)] = value
    else:
        setattr(holder, last, value)


def _step(obj, part, path):
    if isinstance(obj, dict):
        if part in obj:
            return obj[part]
    elif isinstance(obj, (list, tuple)) and part.lstrip("-").isdigit():
        return obj[int(part)]
    elif hasattr(obj, part):
        return getattr(obj, part)
    raise AdapterError(f"cannot find {path!r}: no {part!r} on {type(obj).__name__}")


def numeric(value, what: str) -> np.ndarray:
    """The value as a float array, or an AdapterError that says what came back instead."""
    if value is None:
        raise AdapterError(f"{what} returned None (a missing `return`?)")
    try:
        arr = np.asarray(value)
    except Exception as exc:   # ragged lists and the like
        raise AdapterError(f"{what} returned a {type(value).__name__} that is not an array of numbers ({exc})") from None
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
        raise AdapterError(f"{what} returned a {type(value).__name__} of {arr.dtype}, not numbers")
    if np.issubdtype(arr.dtype, np.complexfloating):
        raise AdapterError(f"{what} returned complex numbers ({arr.dtype}); a net's values are real")
    return arr if np.issubdtype(arr.dtype, np.floating) else arr.astype(np.float64)



def returned(value, call: Call) -> dict:
    """A call's return value, by the names its `returns` gives them."""
    names = call.returned
    if len(names) <= 1:
        return dict.fromkeys(names, value)
    if not (isinstance(value, (tuple, list)) and len(value) == len(names)):
        got = f"{len(value)} values" if isinstance(value, (tuple, list)) else f"a {type(value).__name__}"
        raise AdapterError(f"{call.target} should return {len(names)} values ({', '.join(names)}), got {got}")
    return dict(zip(names, value, strict=True))


