"""Backend `numpy`: the hand-written reference nets, driven through their adapters, for spec.steps
steps of spec.optimizer on the batch. SGD is the net's own update, step after step; any other
optimizer runs in harness.core.optim, in every framework's convention, from the net's own
gradients at each step; a net no reference net implements runs the spec's own math
(harness.core.net), its steps by harness.core.optim (so its run() is its own, not the framework
K-step loop)."""
from __future__ import annotations

import dataclasses

import numpy as np

from ..core import net
from ..core.optim import CONVENTIONS, Optimizer
from ..core.run import Run
from ..core.spec import Spec, get_spec
from ..drive.assignment import reference_adapter
from ..drive.derive import run_adapter
from ..drive.runner import Driver
from .base import Backend


def _reference_implements(spec: Spec) -> bool:
    """The reference net of spec.name is written for exactly this net (its loss, activations and
    L2 term are in its code)."""
    ref = get_spec(spec.name)
    return (spec.loss, spec.activations, spec.l2) == (ref.loss, ref.activations, ref.l2)


class NumpyBackend(Backend):
    name = "numpy"

    def versions(self) -> dict:
        return {"numpy": np.__version__}

    def run(self, spec: Spec, params, X, T) -> Run:
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):   # saturated nets: inf is the answer
            return self._run(spec, params, X, T)

    def _run(self, spec: Spec, params, X, T) -> Run:
        if not _reference_implements(spec):
            return self._spec_math(spec, params, X, T)
        adapter = reference_adapter(spec.name)
        first = run_adapter(adapter, spec, params, X, T, backend="numpy")
        if (spec.optimizer, spec.steps) == ("sgd", 1):
            return first
        if spec.optimizer == "sgd":                 # the net's own update, step after step
            p = first.stepped
            for _ in range(spec.steps - 1):
                p = run_adapter(adapter, spec, p, X, T, backend="numpy").stepped
            return dataclasses.replace(first, stepped=p)
        stepped_by = {}
        for convention in CONVENTIONS:
            opt, p, g = Optimizer(spec.optimizer, convention, spec.lr), params, first.grads
            for t in range(spec.steps):
                if t:      # the net keeps its weights in the spec's dtype: hand them over in it
                    as_stored = {k: np.asarray(v, spec.dtype) for k, v in p.items()}
                    g = run_adapter(adapter, spec, as_stored, X, T, backend="numpy").grads
                p = opt.step(p, g)
            stepped_by[convention] = p
        return dataclasses.replace(first, stepped=stepped_by["torch"], stepped_by=stepped_by,
                                   notes=first.notes + (f"{spec.optimizer} x{spec.steps} by harness.core.optim in "
                                                        "each framework's convention, from the net's gradients",))

    def _spec_math(self, spec: Spec, params, X, T) -> Run:
        """A net no reference net implements: the spec's own math (harness.core.net) in float64,
        returned in the spec's dtype, its steps by harness.core.optim in each convention."""
        def cast(arrays: dict) -> dict:
            return {k: np.asarray(v, spec.dtype) for k, v in arrays.items()}
        first = net.spec_run(spec, params, X, T, backend="numpy")
        note = (f"the spec's own math (harness.core.net, float64): the reference net {spec.name} is written for "
                "another loss, activations or L2 term")
        stepped_by = {}
        for convention in CONVENTIONS:
            opt, p = Optimizer(spec.optimizer, convention, spec.lr), dict(first.loaded)
            for t in range(spec.steps):
                p = opt.step(p, first.grads if t == 0 else net.backprop(spec, p, X, T))
            stepped_by[convention] = cast(p)
        return dataclasses.replace(first, loaded=cast(first.loaded), output=np.asarray(first.output, spec.dtype),
                                   loss=np.asarray(first.loss, spec.dtype), grads=cast(first.grads),
                                   stepped=stepped_by["torch"], stepped_by=stepped_by, notes=(note,))

    def trainer(self, spec: Spec, params) -> ReferenceNetTrainer:
        return ReferenceNetTrainer(spec, params)


class ReferenceNetTrainer:
    """The reference net kept across batches (harness train): its own update for SGD; for other
    optimizers its gradients through harness.core.optim in torch's convention."""

    def __init__(self, spec: Spec, params):
        self.spec = spec
        self.driver = Driver(reference_adapter(spec.name), spec, params)
        self.opt = None if spec.optimizer == "sgd" else Optimizer(spec.optimizer, "torch", spec.lr)

    def step(self, X, T, want_output: bool = True) -> np.ndarray | None:
        if self.opt is None:
            return self.driver.sgd_step(X, T, want_output)
        out = self.driver.output(X)
        self.driver.load(self.opt.step(self.driver.params(), self.driver.gradients(X, T)))
        return out

    def output(self, X) -> np.ndarray:
        return self.driver.output(X)

    def params(self) -> dict:
        return self.driver.params()


def create() -> NumpyBackend:
    return NumpyBackend()
