"""Each run's data, made once: the seeded inputs a run hands the code, what the code must return,
and the magnitudes behind each expected value (for the tolerances). The grader builds a run's
data here once (a task's plan) and passes it to everything that needs it (the child's input
file, judging, the checks, the accepted variants, the diagnosis), so that nothing redraws a
seeded array; a batch of many submissions of one assignment shares one plan (nothing is kept
after it: a module-level cache would pin every net's arrays for the life of the process). The
arrays are read-only.
The grader's side only: never shipped into the grading sandbox.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from . import net
from .layer_kinds import LayerCase
from .layer_math import layer_expected, layer_inputs, layer_magnitudes
from .params import init_params, make_batch
from .run import Run
from .spec import Spec


def _frozen(arrays: dict) -> dict:
    """The arrays (nested maps too) made read-only: a batch shares them, so no judging of one
    submission can change what the next is judged against."""
    for a in arrays.values():
        if isinstance(a, dict):
            _frozen(a)
        elif isinstance(a, np.ndarray):
            a.setflags(write=False)
    return arrays


@dataclass(frozen=True, eq=False)
class NetData:
    """A net run: the canonical weights and batch of its spec; the spec's own Run on them."""
    spec: Spec
    params: dict
    X: np.ndarray
    T: np.ndarray

    @functools.cached_property
    def expected(self) -> Run:
        run = net.spec_run(self.spec, self.params, self.X, self.T, backend="expected")
        _frozen({"output": run.output, "loss": run.loss, "loaded": run.loaded, "grads": run.grads,
                 "stepped": run.stepped, "stepped_by": run.stepped_by})
        return run

    @functools.cached_property
    def magnitudes(self) -> dict:
        return _frozen(net.error_magnitudes(self.spec, self.params, self.X, self.T))

    @property
    def handed(self) -> dict:
        """The arrays the child gets for this run."""
        return {"X": self.X, "T": self.T, "p": self.params}


def net_data(spec: Spec) -> NetData:
    X, T = make_batch(spec)
    frozen = _frozen({"X": X, "T": T})
    return NetData(spec, _frozen(init_params(spec)), frozen["X"], frozen["T"])


@dataclass(frozen=True, eq=False)
class LayerData:
    """A layer run: its inputs (x, w, b, dout, T, labels as the kind takes), the values the layer
    must return (float64) and their magnitudes."""
    case: LayerCase
    inputs: dict

    @functools.cached_property
    def expected(self) -> dict:
        return _frozen(layer_expected(self.case, self.inputs))

    @functools.cached_property
    def magnitudes(self) -> dict:
        return _frozen(layer_magnitudes(self.case, self.inputs))

    @property
    def handed(self) -> dict:
        return self.inputs


def layer_data(case: LayerCase) -> LayerData:
    return LayerData(case, _frozen(layer_inputs(case)))
