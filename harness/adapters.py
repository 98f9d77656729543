"""Declarative adapters: how to drive hand-written numpy code that was never written for us.

An Adapter says, once, where a net's code keeps each parameter and in which layout, and which
calls give its output, loss, gradients or one in-place update. run_adapter() turns any such
code into a Run. The reference implementations are driven this way, exactly like student code.
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

from . import model as spec_model
from .params import LayoutError, store, to_canonical
from .run import Run
from .specs import Spec


class AdapterError(RuntimeError):
    """The code does not behave as its adapter says (missing attribute, wrong return, ...)."""


class ShapeError(AdapterError):
    """The code changed the shape of a parameter."""


@dataclass(frozen=True)
class Param:
    name: str                    # canonical name: W1, b1, W2, b2, ...
    path: str                    # where it lives on the model: "weights1", "params.W1", "layers.0"
    layout: str                  # a key of harness.params.LAYOUTS
    grad_key: str | None = None  # key in the dict returned by the gradients call


@dataclass(frozen=True)
class Call:
    """A call on the model (`forward`) or on its module (`module.update`).

    args name values: model, X, T, lr, rows ([x..., t] per sample), epochs (=1), output (the
    forward output), labels (class indices), x (one row of X, with per_row).
    returns: output | loss | loss,output | output,loss | grads | none.
    """
    target: str
    args: tuple[str, ...] = ()
    returns: str = "none"
    per_row: bool = False


@dataclass(frozen=True)
class Adapter:
    name: str
    module: str                                   # dotted module name or path to a .py file
    factory: str                                  # class (or function) that builds the model
    params: tuple[Param, ...]
    forward: Call
    init: tuple[tuple[str, str], ...] = ()        # constructor kwarg -> sizes.0 | sizes.1 | lr | seed | dtype
    optional_init: tuple[tuple[str, str], ...] = ()   # the same, passed only if the constructor takes it
    loss: Call | None = None
    gradients: Call | None = None
    update: tuple[Call, ...] = ()                 # one in-place SGD step on the batch
    lr_attr: str | None = None                    # attribute the update reads lr from
    update_per_sample: bool = False               # update() steps once per row, not once per batch


# --- loading and plumbing --------------------------------------------------------------------
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


def _construct(module, adapter: Adapter, spec: Spec):
    factory = getattr(module, adapter.factory, None)
    if factory is None:
        defined = sorted(n for n, v in vars(module).items() if not n.startswith("_") and
                         (isinstance(v, type) or callable(v)) and getattr(v, "__module__", None) == module.__name__)
        raise AdapterError(f"{adapter.module} defines no {adapter.factory!r}"
                           + (f" (it defines: {', '.join(defined)}; is this the right assignment?)" if defined else ""))
    kwargs = {kw: _init_value(key, spec) for kw, key in adapter.init}
    if adapter.optional_init:
        accepted = _keywords(factory)
        kwargs.update({kw: _init_value(key, spec) for kw, key in adapter.optional_init
                       if accepted is None or kw in accepted})
    return factory(**kwargs)


def _keywords(factory) -> set | None:
    """Keyword arguments a callable accepts (None: any, it takes **kwargs)."""
    try:
        sig = inspect.signature(factory)
    except (TypeError, ValueError):
        return set()
    if any(p.kind is p.VAR_KEYWORD for p in sig.parameters.values()):
        return None
    return {n for n, p in sig.parameters.items() if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}


def _write_params(model, adapter: Adapter, params) -> None:
    for p in adapter.params:
        stored = _resolve(model, p.path)
        if not isinstance(stored, np.ndarray):
            raise AdapterError(f"{p.path!r} holds a {type(stored).__name__}, not a numpy array")
        try:
            store(p.layout, stored, params[p.name])
        except LayoutError as exc:
            raise AdapterError(f"{p.name} at {p.path!r} (layout {p.layout}): {exc}") from None


def _read_params(model, adapter: Adapter) -> dict:
    try:
        return {p.name: to_canonical(p.layout, _resolve(model, p.path)) for p in adapter.params}
    except LayoutError as exc:
        raise AdapterError(str(exc)) from None


def _call(model, module, call: Call, env: dict):
    owner, _, attr = call.target.rpartition(".")
    holder = module if owner == "module" else model
    fn = getattr(holder, attr, None)
    if fn is None:
        where = f"module {adapter_module_name(module)}" if owner == "module" else type(model).__name__
        raise AdapterError(f"{call.target!r} does not exist: {where} has no attribute {attr!r}")
    if not callable(fn):
        raise AdapterError(f"{call.target!r} is a {type(fn).__name__}, not a function or method")
    env = dict(env, model=model)
    unknown = [a for a in call.args if a not in env and a != "x"]
    if unknown:
        raise AdapterError(f"{call.target}: unknown argument name(s) {unknown}; valid: {sorted(env)} and x")
    if not call.per_row:
        return fn(*(env[a] for a in call.args))
    results = [_numeric(fn(*(dict(env, x=x)[a] for a in call.args)), call.target) for x in env["X"]]
    return np.asarray(results).reshape(len(results), -1)


def adapter_module_name(module) -> str:
    return getattr(module, "__file__", None) or getattr(module, "__name__", "?")


def _numeric(value, what: str) -> np.ndarray:
    """The value as a float array, or an AdapterError that says what came back instead."""
    if value is None:
        raise AdapterError(f"{what} returned None (a missing `return`?)")
    try:
        arr = np.asarray(value)
    except Exception as exc:   # ragged lists and the like
        raise AdapterError(f"{what} returned a {type(value).__name__} that is not an array of numbers ({exc})") from None
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
        raise AdapterError(f"{what} returned a {type(value).__name__} of {arr.dtype}, not numbers")
    return arr if np.issubdtype(arr.dtype, np.floating) else arr.astype(np.float64)


def _unpack(value, returns: str, what: str):
    """-> (output, loss) from a call's return value."""
    if returns == "output":
        return _numeric(value, what), None
    if returns == "loss":
        return None, _numeric(value, what)
    if returns in ("loss,output", "output,loss"):
        if not (isinstance(value, (tuple, list)) and len(value) == 2):
            raise AdapterError(f"{what} should return a ({returns.replace(',', ', ')}) pair, "
                               f"got {type(value).__name__}")
        loss, output = value if returns == "loss,output" else value[::-1]
        return _numeric(output, f"{what} (output)"), _numeric(loss, f"{what} (loss)")
    raise AdapterError(f"a forward/loss call cannot return {returns!r}")


# --- running -------------------------------------------------------------------------------
def _env(X, T, lr) -> dict:
    """The values a Call may name as arguments (besides model, output and x)."""
    return {"X": X, "T": T, "lr": lr, "epochs": 1, "labels": T.argmax(axis=1), "rows": np.hstack([X, T])}



def run_adapter(adapter: Adapter, spec: Spec, params, X, T, backend: str = "numpy", module=None,
                forward_only: bool = False) -> Run:
    """Drive the code once: load `params`, forward, loss, gradients and/or one update.
    `module` reuses an already imported module (else adapter.module is imported).
    forward_only stops after the loss (grads and stepped are left empty)."""
    module = module if module is not None else load_module(adapter.module)
    notes: list[str] = []
    envs: list[tuple[dict, np.ndarray, np.ndarray]] = []

    def fresh_model():
        model = _construct(module, adapter, spec)
        _write_params(model, adapter, params)
        return model

    def env_for(Xb, Tb):
        env = _env(Xb.copy(), Tb.copy(), spec.lr)
        envs.append((env, Xb, Tb))
        return env

    def forward(m, e):
        return _unpack(_call(m, module, adapter.forward, e), adapter.forward.returns, adapter.forward.target)

    model = fresh_model()
    loaded = _read_params(model, adapter)
    env = env_for(X, T)
    output, loss = forward(model, env)
    env["output"] = output
    if adapter.loss is not None:
        _, loss = _unpack(_call(model, module, adapter.loss, env), "loss", adapter.loss.target)
    if loss is None:
        loss = np.asarray(spec_model.loss(spec, output.astype(np.float64), T.astype(np.float64)), output.dtype)
        notes.append("loss computed by the harness from the output (the code reports none)")
    if forward_only:
        return Run(backend=backend, loaded=loaded, output=output, loss=loss, grads={}, stepped={}, notes=tuple(notes))

    def one_update(m, e):
        if adapter.lr_attr:
            setattr(m, adapter.lr_attr, spec.lr)
        for call in adapter.update:
            _call(m, module, call, e)
        return _read_params(m, adapter)

    grads, stepped, from_update, updates_summed = None, None, False, 1
    if adapter.gradients is not None:
        raw = _call(model, module, adapter.gradients, env)
        if not isinstance(raw, dict):
            raise AdapterError(f"{adapter.gradients.target} returned {type(raw).__name__}, expected a dict")
        try:
            grads = {p.name: to_canonical(p.layout, _numeric(raw[p.grad_key or p.name],
                                                             f"{adapter.gradients.target}[{p.grad_key or p.name!r}]"))
                     for p in adapter.params}
        except KeyError as exc:
            raise AdapterError(f"gradient dict has no key {exc}; keys: {sorted(map(str, raw))}") from None
        except LayoutError as exc:
            raise AdapterError(f"a gradient cannot be read in its parameter's layout: {exc}") from None
    if adapter.update and adapter.update_per_sample and len(X) > 1:
        # Each row's gradient from its own single-sample update on fresh weights, summed.
        grads_sum = {k: np.zeros_like(v) for k, v in loaded.items()}
        for i in range(len(X)):
            m = fresh_model()
            e = env_for(X[i:i + 1], T[i:i + 1])
            if "output" in _needs(adapter):
                e["output"] = forward(m, e)[0]
            after = _same_shapes(loaded, one_update(m, e))
            for k in grads_sum:
                grads_sum[k] += (loaded[k] - after[k]) / spec.lr
        if grads is None:
            grads, from_update, updates_summed = grads_sum, True, len(X)
        notes.append("the update steps per sample: each row's gradient taken from fresh weights and summed")
    elif adapter.update:
        if grads is not None:                      # gradients came from a call: update a fresh copy
            model = fresh_model()
            e = env_for(X, T)
            e["output"] = forward(model, e)[0]
            env = e
        stepped = _same_shapes(loaded, one_update(model, env))
        if grads is None:
            grads = {k: (loaded[k] - stepped[k]) / spec.lr for k in loaded}
            from_update = True
    if grads is None:
        raise AdapterError("the adapter names neither a gradients call nor an update")
    if from_update:
        notes.append("gradients recovered from the in-place update as (before - after) / lr")
    if stepped is None:
        stepped = {}
        for k in loaded:
            g = np.asarray(grads[k])
            if g.shape == loaded[k].shape:
                stepped[k] = loaded[k] - np.asarray(spec.lr, loaded[k].dtype) * g
            else:   # the gradient's shape is already reported; the step inherits it
                stepped[k] = np.full(g.shape, np.nan)
        notes.append("step computed by the harness from the reported gradients")
    mutated = tuple(sorted({name for e, Xb, Tb in envs for name, orig in (("X", Xb), ("T", Tb))
                            if not _same(e[name], orig)} | {"rows" for e, Xb, Tb in envs
                                                            if not _same(e["rows"], np.hstack([Xb, Tb]))}))
    if mutated:
        notes.append(f"the code modified its input array(s) {', '.join(mutated)} in place")
    return Run(backend=backend, loaded=loaded, output=output, loss=loss, grads=grads, stepped=stepped,
               notes=tuple(notes), grads_from_update=from_update, updates_summed=updates_summed,
               mutated=mutated)


def _same_shapes(before: dict, after: dict) -> dict:
    for k, v in after.items():
        if v.shape != before[k].shape:
            hint = " (a transposed gradient?)" if v.shape == before[k].shape[::-1] else ""
            raise ShapeError(f"the update changed the shape of {k} from {before[k].shape} to {v.shape}{hint}")
    return after


def _same(a, b) -> bool:
    return isinstance(a, np.ndarray) and a.shape == b.shape and bool(np.array_equal(a, b, equal_nan=True))


def _needs(adapter: Adapter) -> set[str]:
    return {a for call in adapter.update for a in call.args}


class Driver:
    """One model of the code, kept across calls (training): forward, one SGD step in the code's
    own way (its update, or its gradients and p - lr*g), parameters in and out."""

    def __init__(self, adapter: Adapter, spec: Spec, params, module=None):
        self.adapter, self.spec = adapter, spec
        self.module = module if module is not None else load_module(adapter.module)
        self.model = _construct(self.module, adapter, spec)
        _write_params(self.model, adapter, params)

    def _forward(self, env) -> np.ndarray:
        f = self.adapter.forward
        return _unpack(_call(self.model, self.module, f, env), f.returns, f.target)[0]

    def output(self, X) -> np.ndarray:
        return self._forward(_env(X, np.zeros((len(X), self.spec.sizes[-1]), X.dtype), self.spec.lr))

    def params(self) -> dict:
        return _read_params(self.model, self.adapter)

    def load(self, params) -> None:
        _write_params(self.model, self.adapter, params)

    def sgd_step(self, X, T, want_output: bool = True) -> np.ndarray | None:
        """One step on (X, T); returns the forward output before it. Without want_output the
        forward pass is skipped when the update takes X (it runs its own) and not the output."""
        env = _env(X, T, self.spec.lr)
        needs = _needs(self.adapter)
        out = None
        if want_output or not self.adapter.update or "output" in needs or "X" not in needs:
            env["output"] = out = self._forward(env)
        if self.adapter.update:
            if self.adapter.lr_attr:
                setattr(self.model, self.adapter.lr_attr, self.spec.lr)
            for call in self.adapter.update:
                _call(self.model, self.module, call, env)
        else:
            g = self.gradients(X, T, env)
            self.load({k: v - np.asarray(self.spec.lr, v.dtype) * g[k] for k, v in self.params().items()})
        return out

    def gradients(self, X, T, env: dict | None = None) -> dict:
        """The code's gradients at the current parameters (recovered from one update, then
        undone, when it only updates in place)."""
        if self.adapter.gradients is not None:
            raw = _call(self.model, self.module, self.adapter.gradients, env or _env(X, T, self.spec.lr))
            return {p.name: to_canonical(p.layout, _numeric(raw[p.grad_key or p.name], p.name)) for p in self.adapter.params}
        before = self.params()
        self.sgd_step(X, T)
        after = self.params()
        self.load(before)
        return {k: (before[k] - after[k]) / self.spec.lr for k in before}
