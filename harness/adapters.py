"""Declarative adapters: how to drive hand-written numpy code that was never written for us.

An Adapter says, once, where a net's code keeps each parameter and in which layout, and which
calls give its output, loss, gradients or one in-place update. run_adapter() turns any such
code into a Run. The reference implementations are driven this way, exactly like student code.
"""
from __future__ import annotations

import importlib
import importlib.util
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
        raise AdapterError(f"{adapter.module} defines no {adapter.factory!r}")
    kwargs = {kw: _init_value(key, spec) for kw, key in adapter.init}
    return factory(**kwargs)


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
    fn = getattr(module if owner == "module" else model, attr, None)
    if fn is None:
        raise AdapterError(f"{call.target!r} does not exist")
    env = dict(env, model=model)
    unknown = [a for a in call.args if a not in env and a != "x"]
    if unknown:
        raise AdapterError(f"{call.target}: unknown argument name(s) {unknown}; valid: {sorted(env)} and x")
    if not call.per_row:
        return fn(*(env[a] for a in call.args))
    results = [fn(*(dict(env, x=x)[a] for a in call.args)) for x in env["X"]]
    return np.asarray(results).reshape(len(results), -1)


def _unpack(value, returns: str):
    """-> (output, loss) from a call's return value."""
    if returns == "output":
        return value, None
    if returns == "loss":
        return None, value
    if returns in ("loss,output", "output,loss"):
        if not (isinstance(value, tuple) and len(value) == 2):
            raise AdapterError(f"expected a ({returns}) pair, got {type(value).__name__}")
        return (value[1], value[0]) if returns == "loss,output" else value
    raise AdapterError(f"a forward/loss call cannot return {returns!r}")


# --- running -------------------------------------------------------------------------------
def run_adapter(adapter: Adapter, spec: Spec, params, X, T, backend: str = "numpy") -> Run:
    module = load_module(adapter.module)
    notes: list[str] = []

    def fresh_model():
        model = _construct(module, adapter, spec)
        _write_params(model, adapter, params)
        return model

    def env_for(Xb, Tb):
        return {"X": Xb.copy(), "T": Tb.copy(), "lr": spec.lr, "epochs": 1, "labels": Tb.argmax(axis=1),
                "rows": np.hstack([Xb, Tb]).copy()}

    model = fresh_model()
    loaded = _read_params(model, adapter)
    env = env_for(X, T)
    output, loss = _unpack(_call(model, module, adapter.forward, env), adapter.forward.returns)
    output = np.asarray(output)
    env["output"] = output
    if adapter.loss is not None:
        _, loss = _unpack(_call(model, module, adapter.loss, env), "loss")
    if loss is None:
        loss = spec_model.loss(spec, output.astype(np.float64), T.astype(np.float64))
        notes.append("loss computed by the harness from the output (the code reports none)")
    loss = np.asarray(loss)

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
            grads = {p.name: to_canonical(p.layout, raw[p.grad_key or p.name]) for p in adapter.params}
        except KeyError as exc:
            raise AdapterError(f"gradient dict has no key {exc}; keys: {sorted(raw)}") from None
    if adapter.update and adapter.update_per_sample and len(X) > 1:
        # Each row's gradient from its own single-sample update on fresh weights, summed.
        grads_sum = {k: np.zeros_like(v) for k, v in loaded.items()}
        for i in range(len(X)):
            m = fresh_model()
            e = env_for(X[i:i + 1], T[i:i + 1])
            if "output" in _needs(adapter):
                e["output"] = np.asarray(_unpack(_call(m, module, adapter.forward, e), adapter.forward.returns)[0])
            after = one_update(m, e)
            for k in grads_sum:
                grads_sum[k] += (loaded[k] - after[k]) / spec.lr
        if grads is None:
            grads, from_update, updates_summed = grads_sum, True, len(X)
        notes.append("the update steps per sample: each row's gradient taken from fresh weights and summed")
    elif adapter.update:
        if grads is not None:                      # gradients came from a call: update a fresh copy
            model = fresh_model()
            _call(model, module, adapter.forward, env)
        stepped = one_update(model, env)
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
    return Run(backend=backend, loaded=loaded, output=output, loss=loss, grads=grads, stepped=stepped,
               notes=tuple(notes), grads_from_update=from_update, updates_summed=updates_summed)


def _needs(adapter: Adapter) -> set[str]:
    return {a for call in adapter.update for a in call.args}


# --- the reference implementations, as adapters --------------------------------------------
def _layer_params(*paths_layouts, grad_keys=None):
    names = ("W1", "b1", "W2", "b2")
    return tuple(Param(n, path, layout, (grad_keys or {}).get(n)) for n, (path, layout) in zip(names, paths_layouts))


REFERENCE_ADAPTERS: dict[str, Adapter] = {
    "relu_mse": Adapter(
        name="relu_mse", module="reference_impls.relu_mse", factory="Network",
        init=(("input_size", "sizes.0"), ("hidden_size", "sizes.1"), ("output_size", "sizes.2"),
              ("seed", "seed"), ("dtype", "dtype")),
        params=_layer_params(("weights1", "in_out"), ("biases1", "row"), ("weights2", "in_out"), ("biases2", "row")),
        forward=Call("forward", ("X",), "output"),
        loss=Call("module.mse_loss", ("output", "T"), "loss"),
        update=(Call("module.update", ("model", "X", "T", "lr")),),
    ),
    "sigmoid_mse": Adapter(
        name="sigmoid_mse", module="reference_impls.sigmoid_mse", factory="NeuralNetwork",
        init=(("n_input", "sizes.0"), ("n_hidden", "sizes.1"), ("n_output", "sizes.2"), ("lr", "lr"),
              ("seed", "seed"), ("dtype", "dtype")),
        params=_layer_params(("W1", "in_out"), ("b1", "vec"), ("W2", "in_out"), ("b2", "vec")),
        forward=Call("forward", ("X", "T"), "loss,output"),
        update=(Call("backward"),), lr_attr="lr",
    ),
    "xor": Adapter(
        name="xor", module="reference_impls.xor", factory="XORNet",
        init=(("n_in", "sizes.0"), ("n_hidden", "sizes.1"), ("n_out", "sizes.2"), ("seed", "seed"), ("dtype", "dtype")),
        params=_layer_params(("w_hidden", "in_out"), ("b_hidden", "row"), ("w_out", "in_out"), ("b_out", "row")),
        forward=Call("forward", ("X",), "output"),
        update=(Call("backward", ("X", "T", "output", "lr")),),
    ),
    "softmax_ce": Adapter(
        name="softmax_ce", module="reference_impls.softmax_ce", factory="TwoLayerNet",
        init=(("input_size", "sizes.0"), ("hidden_size", "sizes.1"), ("output_size", "sizes.2"),
              ("seed", "seed"), ("dtype", "dtype")),
        params=_layer_params(("params.W1", "in_out"), ("params.b1", "vec"), ("params.W2", "in_out"), ("params.b2", "vec"),
                             grad_keys={"W1": "W1", "b1": "b1", "W2": "W2", "b2": "b2"}),
        forward=Call("predict", ("X",), "output"),
        loss=Call("loss", ("X", "T"), "loss"),
        gradients=Call("gradient", ("X", "T"), "grads"),
    ),
    "linear_221": Adapter(
        name="linear_221", module="reference_impls.linear_221", factory="LinearNet",
        init=(("n_in", "sizes.0"), ("n_hidden", "sizes.1"), ("seed", "seed"), ("dtype", "dtype")),
        params=_layer_params(("hidden", "packed_w"), ("hidden", "packed_b"), ("output", "packed_w"), ("output", "packed_b")),
        forward=Call("predict", ("x",), "output", per_row=True),
        update=(Call("train", ("rows", "epochs", "lr")),), update_per_sample=True,
    ),
}
