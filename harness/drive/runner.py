"""Running foreign numpy code through its Adapter.

A `Session` is one imported module driven by one adapter at one spec; its methods are the named
steps every use of foreign code is made of: build a model and write the canonical weights into
it, read them back, forward + loss, gradients from a call, gradients recovered from updates,
one step, and which inputs the code modified in place. `run_adapter()` composes them into a
Run (check and grade); `Driver` keeps one model across calls (training). Both use the same
steps, so they cannot drift apart.
"""
from __future__ import annotations

import importlib
import importlib.util
import inspect
import itertools
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..core import net
from ..core.params import LayoutError, store, to_canonical
from ..core.run import Run
from ..core.spec import Spec
from .adapter import Adapter, AdapterError, Call, ShapeError

_counter = itertools.count()


def load_module(ref: str):
    if ref.endswith(".py") or "/" in ref:
        path = Path(ref)
        if not path.is_file():
            raise AdapterError(f"no such file: {ref}")
        name = f"_bph_student_{next(_counter)}_{path.stem}"
        mod_spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(mod_spec)
        sys.modules[name] = module
        mod_spec.loader.exec_module(module)
        return module
    return importlib.import_module(ref)


def module_name(module) -> str:
    return getattr(module, "__file__", None) or getattr(module, "__name__", "?")


# --- small pieces ----------------------------------------------------------------------------
def _resolve(obj, path: str):
    """Follow a dotted path: attribute, dict key or list index at each step."""
    for part in path.split("."):
        obj = _step(obj, part, path)
    return obj


def _step(obj, part, path):
    if isinstance(obj, dict):
        if part in obj:
            return obj[part]
    elif isinstance(obj, (list, tuple)) and part.lstrip("-").isdigit():
        return obj[int(part)]
    elif hasattr(obj, part):
        return getattr(obj, part)
    raise AdapterError(f"cannot find {path!r}: no {part!r} on {type(obj).__name__}")


def _init_value(key: str, spec: Spec):
    if key.startswith("sizes."):
        return spec.sizes[int(key.split(".", 1)[1])]
    if key == "dtype":
        return np.dtype(spec.dtype).type
    return {"lr": spec.lr, "seed": spec.seed}[key]


def _keywords(factory) -> set | None:
    """Keyword arguments a callable accepts (None: any, it takes **kwargs)."""
    try:
        sig = inspect.signature(factory)
    except (TypeError, ValueError):
        return set()
    if any(p.kind is p.VAR_KEYWORD for p in sig.parameters.values()):
        return None
    return {n for n, p in sig.parameters.items() if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}


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


def _unpack(value, returns: str, what: str):
    """-> (output, loss) from a call's return value."""
    if returns == "output":
        return numeric(value, what), None
    if returns == "loss":
        return None, numeric(value, what)
    if returns in ("loss,output", "output,loss"):
        if not (isinstance(value, (tuple, list)) and len(value) == 2):
            raise AdapterError(f"{what} should return a ({returns.replace(',', ', ')}) pair, "
                               f"got {type(value).__name__}")
        loss, output = value if returns == "loss,output" else value[::-1]
        return numeric(output, f"{what} (output)"), numeric(loss, f"{what} (loss)")
    raise AdapterError(f"a forward/loss call cannot return {returns!r}")


def _same(a, b) -> bool:
    return isinstance(a, np.ndarray) and a.shape == b.shape and bool(np.array_equal(a, b, equal_nan=True))


def _same_shapes(before: dict, after: dict) -> dict:
    for k, v in after.items():
        if v.shape != before[k].shape:
            hint = " (a transposed gradient?)" if v.shape == before[k].shape[::-1] else ""
            raise ShapeError(f"the update changed the shape of {k} from {before[k].shape} to {v.shape}{hint}")
    return after


@dataclass
class Inputs:
    """The values a Call may name as arguments (besides model, output and x), and the originals
    they were copied from, to tell whether the code modified them in place."""
    env: dict
    X: np.ndarray
    T: np.ndarray

    @staticmethod
    def of(X, T, lr) -> Inputs:
        env = {"X": X.copy(), "T": T.copy(), "lr": lr, "epochs": 1, "labels": T.argmax(axis=1),
               "rows": np.hstack([X, T])}
        return Inputs(env, X, T)

    def mutated(self) -> set[str]:
        out = {name for name, orig in (("X", self.X), ("T", self.T)) if not _same(self.env[name], orig)}
        return out | ({"rows"} if not _same(self.env["rows"], np.hstack([self.X, self.T])) else set())


# --- the steps -------------------------------------------------------------------------------
class Session:
    """One module driven by one adapter at one spec: the named steps."""

    def __init__(self, adapter: Adapter, spec: Spec, module=None):
        self.adapter, self.spec = adapter, spec
        self.module = module if module is not None else load_module(adapter.module)
        self.inputs: list[Inputs] = []          # every batch handed to the code, for mutated_inputs()

    def new_model(self, params):
        """Construct the model and write the canonical weights into it."""
        model = self._construct()
        self.write(model, params)
        return model

    def _construct(self):
        a, module = self.adapter, self.module
        factory = getattr(module, a.factory, None)
        if factory is None:
            defined = sorted(n for n, v in vars(module).items() if not n.startswith("_") and
                             (isinstance(v, type) or callable(v)) and getattr(v, "__module__", None) == module.__name__)
            raise AdapterError(f"{a.module} defines no {a.factory!r}"
                               + (f" (it defines: {', '.join(defined)}; is this the right assignment?)" if defined else ""))
        if not callable(factory):
            raise AdapterError(f"{a.factory!r} in {a.module} is a {type(factory).__name__}, not a class or function")
        kwargs = {kw: _init_value(key, self.spec) for kw, key in a.init}
        if a.optional_init:
            accepted = _keywords(factory)
            kwargs.update({kw: _init_value(key, self.spec) for kw, key in a.optional_init
                           if accepted is None or kw in accepted})
        return factory(**kwargs)

    def write(self, model, params) -> None:
        for p in self.adapter.params:
            stored = _resolve(model, p.path)
            if not isinstance(stored, np.ndarray):
                raise AdapterError(f"{p.path!r} holds a {type(stored).__name__}, not a numpy array")
            try:
                store(p.layout, stored, params[p.name])
            except LayoutError as exc:
                raise AdapterError(f"{p.name} at {p.path!r} (layout {p.layout}): {exc}") from None

    def read(self, model) -> dict:
        """The parameters, read back into the canonical layout."""
        try:
            return {p.name: numeric(to_canonical(p.layout, _resolve(model, p.path)), f"parameter {p.name} at {p.path!r}")
                    for p in self.adapter.params}
        except LayoutError as exc:
            raise AdapterError(str(exc)) from None

    def batch(self, X, T) -> dict:
        inputs = Inputs.of(X, T, self.spec.lr)
        self.inputs.append(inputs)
        return inputs.env

    def call(self, model, call: Call, env: dict):
        owner, _, attr = call.target.rpartition(".")
        holder = self.module if owner == "module" else model
        fn = getattr(holder, attr, None)
        if fn is None:
            where = f"module {module_name(self.module)}" if owner == "module" else type(model).__name__
            raise AdapterError(f"{call.target!r} does not exist: {where} has no attribute {attr!r}")
        if not callable(fn):
            raise AdapterError(f"{call.target!r} is a {type(fn).__name__}, not a function or method")
        env = dict(env, model=model)
        unknown = [a for a in call.args if a not in env and a != "x"]
        if unknown:
            raise AdapterError(f"{call.target}: unknown argument name(s) {unknown}; valid: {sorted(env)} and x")
        if not call.per_row:
            return fn(*(env[a] for a in call.args))
        results = [numeric(fn(*(dict(env, x=x)[a] for a in call.args)), call.target) for x in env["X"]]
        return np.asarray(results).reshape(len(results), -1)

    def forward(self, model, env: dict):
        """-> (output, loss or None) from the forward call; the output is checked for its shape."""
        f = self.adapter.forward
        output, loss = _unpack(self.call(model, f, env), f.returns, f.target)
        expected = (len(env["X"]), self.spec.sizes[-1])
        if output.shape != expected:
            raise ShapeError(f"{f.target} returned an output of shape {output.shape}, expected {expected} "
                             "(one row per sample, one column per output)")
        return output, loss

    def loss(self, model, env: dict, output, loss):
        """The loss: the loss call's, the forward call's, or None when the code reports none."""
        if self.adapter.loss is not None:
            _, loss = _unpack(self.call(model, self.adapter.loss, dict(env, output=output)), "loss",
                              self.adapter.loss.target)
        return loss

    def gradients_from_call(self, model, env: dict) -> dict:
        g = self.adapter.gradients
        raw = self.call(model, g, env)
        if not isinstance(raw, dict):
            raise AdapterError(f"{g.target} returned {type(raw).__name__}, expected a dict")
        try:
            return {p.name: to_canonical(p.layout, numeric(raw[p.grad_key or p.name],
                                                           f"{g.target}[{p.grad_key or p.name!r}]"))
                    for p in self.adapter.params}
        except KeyError as exc:
            raise AdapterError(f"gradient dict has no key {exc}; keys: {sorted(map(str, raw))}") from None
        except LayoutError as exc:
            raise AdapterError(f"a gradient cannot be read in its parameter's layout: {exc}") from None

    def update(self, model, env: dict) -> dict:
        """One in-place update, in the code's own way; the parameters after it."""
        if self.adapter.lr_attr:
            setattr(model, self.adapter.lr_attr, self.spec.lr)
        for call in self.adapter.update:
            self.call(model, call, env)
        return self.read(model)

    def update_needs_output(self) -> bool:
        return any("output" in call.args for call in self.adapter.update)

    def gradients_from_updates(self, params, loaded: dict, X, T) -> tuple[dict, int]:
        """Gradients recovered as (before - after) / lr from the update: once on the batch, or
        for code that steps once per sample, each row's from fresh weights, summed. Returns the
        gradients and how many updates each one sums."""
        rows = [(X[i:i + 1], T[i:i + 1]) for i in range(len(X))] if self.adapter.update_per_sample else [(X, T)]
        total = {k: np.zeros_like(v) for k, v in loaded.items()}
        for Xr, Tr in rows:
            model = self.new_model(params)
            env = self.batch(Xr, Tr)
            if self.update_needs_output():
                env["output"] = self.forward(model, env)[0]
            after = _same_shapes(loaded, self.update(model, env))
            for k in total:
                total[k] += (loaded[k] - after[k]) / self.spec.lr
        return total, len(rows)

    def step(self, params, loaded: dict, X, T) -> dict:
        """The parameters after one update on the whole batch, from fresh weights."""
        model = self.new_model(params)
        env = self.batch(X, T)
        env["output"] = self.forward(model, env)[0]
        return _same_shapes(loaded, self.update(model, env))

    def mutated_inputs(self) -> tuple[str, ...]:
        return tuple(sorted(set().union(*(i.mutated() for i in self.inputs))))


def harness_loss(spec: Spec, output, T) -> np.ndarray:
    """The spec's loss of the code's output, for code that reports none (in the output's dtype)."""
    return np.asarray(net.loss(spec, output.astype(np.float64), T.astype(np.float64)), output.dtype)


def step_from_gradients(loaded: dict, grads: dict, lr: float) -> dict:
    """p - lr g for each parameter (NaN where the gradient's shape is wrong: already reported)."""
    stepped = {}
    for k, p in loaded.items():
        g = np.asarray(grads[k])
        stepped[k] = p - np.asarray(lr, p.dtype) * g if g.shape == p.shape else np.full(g.shape, np.nan)
    return stepped


def run_adapter(adapter: Adapter, spec: Spec, params, X, T, backend: str = "numpy", module=None,
                forward_only: bool = False) -> Run:
    """Drive the code once: load `params`, forward, loss, gradients and/or one update.
    `module` reuses an already imported module (else adapter.module is imported).
    forward_only stops after the loss (grads and stepped are left empty)."""
    s = Session(adapter, spec, module)
    notes: list[str] = []
    model = s.new_model(params)
    loaded = s.read(model)
    env = s.batch(X, T)
    output, loss = s.forward(model, env)
    loss = s.loss(model, env, output, loss)
    if loss is None:
        loss = harness_loss(spec, output, T)
        notes.append("loss computed by the harness from the output (the code reports none)")
    if forward_only:
        return Run(backend=backend, loaded=loaded, output=output, loss=loss, grads={}, stepped={}, notes=tuple(notes))
    if adapter.gradients is None and not adapter.update:
        raise AdapterError("the adapter names neither a gradients call nor an update")

    grads, stepped, updates_summed = None, None, 1
    if adapter.gradients is not None:
        grads = s.gradients_from_call(model, env)
    if adapter.update and adapter.update_per_sample and len(X) > 1:
        recovered, n = s.gradients_from_updates(params, loaded, X, T)
        notes.append("the update steps per sample: each row's gradient taken from fresh weights and summed")
        if grads is None:
            grads, updates_summed = recovered, n
    elif adapter.update and grads is None:          # the model just run takes the step
        stepped = _same_shapes(loaded, s.update(model, dict(env, output=output)))
        grads = {k: (loaded[k] - stepped[k]) / spec.lr for k in loaded}
    elif adapter.update:                            # gradients came from a call: step a fresh model
        stepped = s.step(params, loaded, X, T)
    from_update = adapter.gradients is None
    if from_update:
        notes.append("gradients recovered from the in-place update as (before - after) / lr")
    if stepped is None:
        stepped = step_from_gradients(loaded, grads, spec.lr)
        notes.append("step computed by the harness from the reported gradients")
    mutated = s.mutated_inputs()
    if mutated:
        notes.append(f"the code modified its input array(s) {', '.join(mutated)} in place")
    return Run(backend=backend, loaded=loaded, output=output, loss=loss, grads=grads, stepped=stepped,
               notes=tuple(notes), grads_from_update=from_update, updates_summed=updates_summed, mutated=mutated)


class Driver:
    """One model of the code, kept across calls (training): forward, one SGD step in the code's
    own way (its update, or its gradients and p - lr*g), parameters in and out."""

    def __init__(self, adapter: Adapter, spec: Spec, params, module=None):
        self.session = Session(adapter, spec, module)
        self.adapter, self.spec = adapter, spec
        self.model = self.session.new_model(params)

    def _env(self, X, T) -> dict:
        return Inputs.of(X, T, self.spec.lr).env       # training does not track mutated inputs

    def output(self, X) -> np.ndarray:
        return self.session.forward(self.model, self._env(X, np.zeros((len(X), self.spec.sizes[-1]), X.dtype)))[0]

    def params(self) -> dict:
        return self.session.read(self.model)

    def load(self, params) -> None:
        self.session.write(self.model, params)

    def sgd_step(self, X, T, want_output: bool = True) -> np.ndarray | None:
        """One step on (X, T); returns the forward output before it. Without want_output the
        forward pass is skipped when the update takes X (it runs its own) and not the output."""
        env = self._env(X, T)
        needs_x = any("X" in call.args for call in self.adapter.update)
        out = None
        if want_output or not self.adapter.update or self.session.update_needs_output() or not needs_x:
            env["output"] = out = self.session.forward(self.model, env)[0]
        if self.adapter.update:
            self.session.update(self.model, env)
        else:
            self.load(step_from_gradients(self.params(), self.gradients(X, T, env), self.spec.lr))
        return out

    def gradients(self, X, T, env: dict | None = None) -> dict:
        """The code's gradients at the current parameters (recovered from one update, then
        undone, when it only updates in place)."""
        if self.adapter.gradients is not None:
            return self.session.gradients_from_call(self.model, env or self._env(X, T))
        before = self.params()
        self.sgd_step(X, T)
        after = self.params()
        self.load(before)
        return {k: (before[k] - after[k]) / self.spec.lr for k in before}
