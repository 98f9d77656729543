"""Driving one layer of foreign code: a pair of functions (CS231n's affine_forward(x, w, b) ->
(out, cache) and affine_backward(dout, cache) -> (dx, dw, db)) or a class (Deep Learning from
Scratch's Affine(W, b).forward(x) / .backward(dout), nnfs's Layer_Dense with its .dweights), on
the inputs the grader made. Raw arrays come back; the grader judges them (harness.grade.layer_task).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from .adapter import LAYER_VALUES, AdapterError, Call, call_from_json
from .objects import assign, numeric, resolve, returned


@dataclass(frozen=True)
class LayerAdapter:
    name: str                                       # as the assignment calls it: "affine", "relu", ...
    kind: str                                       # a kind of harness.core.layer_kinds
    forward: Call
    backward: Call | None = None                    # None: the forward call returns dx too (softmax_loss)
    factory: str | None = None                      # a class built first; calls then are its methods
    init: tuple[tuple[str, str], ...] = ()          # constructor keyword -> an input (x, w, b) or inputs/outputs
    set: tuple[tuple[str, str], ...] = ()           # attribute path -> an input written there before the calls
    attrs: tuple[tuple[str, str], ...] = ()         # out/dx/dw/db -> an attribute path read after the calls

    def to_json(self) -> dict:
        return dataclasses.asdict(self)

    @staticmethod
    def from_json(data: dict) -> LayerAdapter:
        return LayerAdapter(**{**data, "forward": call_from_json(data["forward"]),
                               "backward": call_from_json(data.get("backward")),
                               **{k: tuple(tuple(kv) for kv in data.get(k, ())) for k in ("init", "set", "attrs")}})


def observe_layer(layer: LayerAdapter, module, inputs: dict, sizes: tuple[int, int]) -> dict[str, np.ndarray]:
    """Run the layer's forward then backward call on copies of the inputs; the checked values it
    returned (out or loss, dx, dw, db), and x / dout as the code left them (x_after, dout_after)."""
    env = {k: np.array(v, copy=True) for k, v in inputs.items()}
    if "labels" in env:
        env["labels"] = env["labels"].astype(np.int64)
    obj = _construct(layer, module, env, sizes) if layer.factory else None
    found: dict[str, object] = {}
    for call in (layer.forward, layer.backward):
        if call is not None:
            values = _call_layer(layer, call, obj, module, env)
            env.update({k: v for k, v in values.items() if k not in LAYER_VALUES})          # kept: the cache
            found.update({k: v for k, v in values.items() if k in LAYER_VALUES})
    for name, path in layer.attrs:
        found[name] = resolve(obj, path)
    out = {k: numeric(v, f"layer {layer.name}: {k}") for k, v in found.items() if k in LAYER_VALUES}
    out["x_after"], out["dout_after"] = env["x"], env.get("dout", np.zeros(0))
    return out


def _construct(layer: LayerAdapter, module, env: dict, sizes: tuple[int, int]):
    """The layer's object, built by its class with the inputs it takes, and given those it reads."""
    factory = getattr(module, layer.factory, None)
    if not callable(factory):
        raise AdapterError(f"the submission defines no class {layer.factory!r} (layer {layer.name})")
    values = {"inputs": sizes[0], "outputs": sizes[1], **env}
    obj = factory(**{kw: values[src] for kw, src in layer.init})
    for path, src in layer.set:
        assign(obj, path, _shaped_like(_resolve_or_none(obj, path), env[src]))
    return obj


def _call_layer(layer: LayerAdapter, call: Call, obj, module, env: dict) -> dict:
    """One of the layer's calls (a method of its object, or a module function), by name of what it returns."""
    holder = obj if obj is not None and not call.target.startswith("module.") else module
    fn = getattr(holder, call.target.removeprefix("module."), None)
    if not callable(fn):
        raise AdapterError(f"{call.target!r} does not exist or is not callable (layer {layer.name})")
    unknown = [a for a in call.args if a not in env]
    if unknown:
        raise AdapterError(f"{call.target}: unknown argument name(s) {unknown}; valid: {sorted(env)}")
    values = returned(fn(*(env[a] for a in call.args), **dict(call.kwargs)), call)
    empty = [k for k, v in values.items() if k in LAYER_VALUES and v is None]
    if empty:
        raise AdapterError(f"{call.target} ({empty[0]}) returned None (a missing `return`?)")
    return values


def _resolve_or_none(obj, path: str):
    try:
        return resolve(obj, path)
    except AdapterError:
        return None


def _shaped_like(old, value: np.ndarray) -> np.ndarray:
    """A new array of the input's values, in the shape the code keeps (a bias as (1, n))."""
    value = np.array(value, copy=True)
    if isinstance(old, np.ndarray) and old.size == value.size and old.shape != value.shape:
        return value.reshape(old.shape)
    return value
