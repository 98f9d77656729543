"""Backend `numpy`: the hand-written reference nets, driven through their adapters."""
from __future__ import annotations

import numpy as np

from ..adapters import run_adapter
from ..assignment import reference_adapter
from ..run import Run
from ..specs import Spec


def versions() -> dict:
    return {"numpy": np.__version__}


def settings() -> dict:
    return {}


def run(spec: Spec, params, X, T) -> Run:
    return run_adapter(reference_adapter(spec.name), spec, params, X, T, backend="numpy")
