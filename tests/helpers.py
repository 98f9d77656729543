"""Shared by the tests: small non-square sizes, and running a check for assertions."""
import dataclasses

from harness.adapters import REFERENCE_ADAPTERS
from harness.report import details
from harness.specs import get_spec


def small_sizes(name: str) -> tuple:
    """Non-square, so a missing transpose cannot hide behind matching shapes."""
    return (3, 5, 1) if get_spec(name).sizes[-1] == 1 else (7, 5, 3)


def small_spec(name: str, dtype="float64", seed=0, batch=4):
    return get_spec(name).replace(sizes=small_sizes(name), dtype=dtype, seed=seed, batch=batch)


def explain(rows, seed) -> str:
    from harness.check import Report
    return f"seed {seed} (pytest --seed {seed} reproduces)\n" + details(Report(tuple(rows)), verbose=True)


def mutant_adapter(style: str, path) -> "object":
    return dataclasses.replace(REFERENCE_ADAPTERS[style], module=str(path))
