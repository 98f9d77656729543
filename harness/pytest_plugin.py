"""pytest plugin (entry point `pytest11`): after `pip install backprop-harness`, a course repo's
tests get two fixtures:

    def test_my_net(backprop_check):          # compare with torch/keras and finite differences
        backprop_check("my_net.py", style="relu_mse")

    def test_submission(backprop_grade):      # grade it, sandboxed, as `harness grade` does
        backprop_grade("my_net.py", assignment="relu_mse")

Options: --backprop-backends torch,keras   --backprop-seed N   --backprop-dtype float64|float32
Frameworks that are missing are skipped with the reason; if none is left, the test is skipped.
"""
from __future__ import annotations

import argparse

import pytest

from . import backends as backend_registry
from .assertion import BackendsUnavailable, assert_backprop, assert_graded


def _backend_list(text: str) -> tuple[str, ...]:
    """--backprop-backends, checked when pytest parses its options (an unknown name is a usage error)."""
    names = tuple(n.strip() for n in text.split(",") if n.strip())
    unknown = [n for n in names if n not in backend_registry.BACKENDS]
    if not names or unknown:
        raise argparse.ArgumentTypeError(f"unknown backend(s) {', '.join(map(repr, unknown)) or '(none given)'}; "
                                         f"valid: {', '.join(backend_registry.BACKENDS)}")
    return names


def pytest_addoption(parser):
    group = parser.getgroup("backprop-harness")
    group.addoption("--backprop-backends", default=("torch", "keras"), type=_backend_list,
                    help="frameworks to compare hand-written nets with (default: torch,keras)")
    group.addoption("--backprop-seed", type=int, default=0, help="seed of weights and batch (default 0)")
    group.addoption("--backprop-dtype", default="float64", choices=("float64", "float32"),
                    help="dtype of the comparison (default float64)")


def pytest_report_header(config):
    opts = config.option
    states = [f"{n} ({'missing' if backend_registry.missing_reason(n) else 'installed'})" for n in opts.backprop_backends]
    return f"backprop-harness: backends {', '.join(states)}; seed {opts.backprop_seed}; dtype {opts.backprop_dtype}"


@pytest.fixture
def backprop_check(request):
    """Call with (path_or_adapter, style=..., spec=..., **overrides), or (path, assignment=NAME|TOML);
    fails with every mismatch."""
    opts = request.config.option
    against = tuple(opts.backprop_backends)

    def check(code, spec=None, style=None, against=against, dtype=opts.backprop_dtype,
              seed=opts.backprop_seed, **kwargs):
        __tracebackhide__ = True
        try:
            return assert_backprop(code, spec=spec, style=style, against=against, dtype=dtype, seed=seed, **kwargs)
        except BackendsUnavailable as exc:
            pytest.skip(f"no framework to compare with: {exc}")

    return check


@pytest.fixture
def backprop_grade():
    """Call with (submission_path, assignment=NAME|FILE, min_score=None, timeout_s=..., memory_mb=...);
    fails with the grader's full report (diagnosis and hints included) unless it passed."""
    def grade(submission, assignment, **kwargs):
        __tracebackhide__ = True
        return assert_graded(submission, assignment, **kwargs)
    return grade
