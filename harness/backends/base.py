"""The backend interface. `Backend`: what check and train ask of any backend (run a spec into a
Run, versions, settings, a trainer). `FrameworkBackend`: a framework implements a few hooks
(build a net from a Spec, load and read canonical parameters, one forward + backward pass, an
optimizer and its step); the base class owns the rest: the model cache, the K-step loop that
makes a Run, and the trainer kept across batches by `harness train`. Tests override the public
hooks.
"""
from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np

from ..core.params import Params
from ..core.run import Run
from ..core.spec import Spec


class Backend(ABC):
    name = ""
    convention = "torch"          # the optimizer convention its steps follow (harness.core.optim)
    trainable = True              # `harness train` can keep it across batches

    def versions(self) -> dict:
        return {}

    def settings(self) -> dict:
        return {}

    @abstractmethod
    def run(self, spec: Spec, params: Params, X: np.ndarray, T: np.ndarray) -> Run:
        """Load the canonical parameters, then `spec.steps` optimizer steps on (X, T)."""

    def trainer(self, spec: Spec, params: Params):
        """An object with step(X, T, want_output), output(X), params(), kept across batches."""
        raise TypeError(f"{self.name} cannot be trained in lockstep")


class FrameworkBackend(Backend):
    def __init__(self):
        self._models: dict = {}

    def computed_in(self, dtype: str) -> str:
        """The dtype the framework really computes in for arrays of `dtype` (when it differs)."""
        return dtype

    # --- hooks ------------------------------------------------------------------------------
    @abstractmethod
    def build(self, spec: Spec):
        """A new model of the spec's architecture (its weights are loaded afterwards)."""

    @abstractmethod
    def load(self, model, params: Params) -> None:
        """Write canonical parameters (W (in, out), b (out,)) into the model."""

    @abstractmethod
    def read(self, model) -> Params:
        """The model's parameters in the canonical layout, as numpy arrays."""

    def prepare(self, spec: Spec) -> None:
        """Called before each run or training step (Keras sets its floatx here)."""

    def inputs(self, array: np.ndarray):
        """A numpy input in the framework's own type."""
        return array

    @abstractmethod
    def forward_backward(self, spec: Spec, model, X, T):
        """(output, loss, gradients) in the framework's own types, for one batch."""

    @abstractmethod
    def gradients(self, model, grads) -> Params:
        """The gradients from forward_backward in the canonical layout."""

    @abstractmethod
    def optimizer(self, spec: Spec, model):
        """A fresh optimizer (harness.core.optim's hyperparameters) for the model's parameters."""

    @abstractmethod
    def apply(self, opt, model, grads) -> None:
        """One optimizer step with the gradients from forward_backward."""

    @abstractmethod
    def predict(self, model, X: np.ndarray) -> np.ndarray:
        """The output for X, without training."""

    def to_numpy(self, value) -> np.ndarray:
        return np.asarray(value)

    # --- owned here ---------------------------------------------------------------------------
    def model_for(self, spec: Spec):
        """One model per architecture, built once and reloaded on every run."""
        key = (spec.sizes, spec.activations, spec.loss, spec.dtype)
        if key not in self._models:
            self._models[key] = self.build(spec)
        return self._models[key]

    def run(self, spec: Spec, params: Params, X: np.ndarray, T: np.ndarray) -> Run:
        """Load the canonical parameters, then `spec.steps` optimizer steps on (X, T); the
        output, loss and gradients are those of the first step."""
        self.prepare(spec)
        model = self.model_for(spec)
        self.load(model, params)
        loaded = self.read(model)
        opt = self.optimizer(spec, model)
        Xf, Tf = self.inputs(X), self.inputs(T)
        for step in range(spec.steps):
            y, loss, grads = self.forward_backward(spec, model, Xf, Tf)
            if step == 0:
                output, first_loss, first_grads = self.to_numpy(y), self.to_numpy(loss), self.gradients(model, grads)
            self.apply(opt, model, grads)
        narrower = self.computed_in(spec.dtype)
        return Run(backend=self.name, loaded=loaded, output=output, loss=first_loss, grads=first_grads,
                   stepped=self.read(model), versions=self.versions(), convention=self.convention,
                   computed_in=narrower if narrower != spec.dtype else "")

    def trainer(self, spec: Spec, params: Params) -> FrameworkTrainer:
        return FrameworkTrainer(self, spec, params)


class FrameworkTrainer:
    """A framework's model and optimizer kept across batches (harness train), through the hooks
    of its FrameworkBackend."""

    def __init__(self, backend: FrameworkBackend, spec: Spec, params: Params):
        self.backend, self.spec = backend, spec
        backend.prepare(spec)
        self.model = backend.build(spec)
        backend.load(self.model, params)
        self.opt = backend.optimizer(spec, self.model)

    def step(self, X, T, want_output: bool = True) -> np.ndarray | None:
        b = self.backend
        b.prepare(self.spec)
        y, _, grads = b.forward_backward(self.spec, self.model, b.inputs(X), b.inputs(T))
        b.apply(self.opt, self.model, grads)
        return b.to_numpy(y) if want_output else None

    def output(self, X) -> np.ndarray:
        return self.backend.predict(self.model, X)

    def params(self) -> Params:
        return self.backend.read(self.model)
