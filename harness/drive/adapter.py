"""Declarative adapters: how to drive hand-written numpy code that was never written for us.

An Adapter says, once, where a net's code keeps each parameter and in which layout, and which
calls give its output, loss, gradients or one in-place update. harness.drive.runner turns any
such code into a Run. The reference implementations are driven this way, exactly like student
code. Adapters are plain data: they cross to a grading child as JSON (to_json / from_json).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass


class AdapterError(RuntimeError):
    """The code does not behave as its adapter says (missing attribute, wrong return, ...)."""


class ShapeError(AdapterError):
    """The code changed the shape of a parameter."""


@dataclass(frozen=True)
class Param:
    name: str                    # canonical name: W1, b1, W2, b2, ...
    path: str                    # where it lives on the model: "weights1", "params.W1", "layers.0"
    layout: str                  # a key of harness.core.params.LAYOUTS
    grad_key: str | None = None  # key in the dict returned by the gradients call


@dataclass(frozen=True)
class Call:
    """A call on the model (`forward`) or on its module (`module.update`).

    args name values: model, X, T, lr, rows ([x..., t] per sample), epochs (=1), output (the
    forward output), labels (class indices), x (one row of X, with per_row); kwargs are
    constant keyword arguments (CS231n's reg=0.0).
    returns: output | loss | loss,output | output,loss | grads | loss,grads | grads,loss | none.
    """
    target: str
    args: tuple[str, ...] = ()
    returns: str = "none"
    per_row: bool = False
    kwargs: tuple[tuple[str, object], ...] = ()


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

    @property
    def reports_loss(self) -> bool:
        """The code computes a loss itself (a loss call, or a forward or gradients call returning one)."""
        return self.loss is not None or any(c is not None and "loss" in c.returns.split(",")
                                            for c in (self.forward, self.gradients))

    def to_json(self) -> dict:
        return dataclasses.asdict(self)

    @staticmethod
    def from_json(data: dict) -> Adapter:
        return Adapter(**{**data, "params": tuple(Param(**p) for p in data["params"]),
                          "forward": _call(data["forward"]), "loss": _call(data["loss"]),
                          "gradients": _call(data["gradients"]), "update": tuple(map(_call, data["update"])),
                          "init": tuple(tuple(kv) for kv in data["init"]),
                          "optional_init": tuple(tuple(kv) for kv in data["optional_init"])})


def _call(data: dict | None) -> Call | None:
    return None if data is None else Call(**{**data, "args": tuple(data["args"]),
                                             "kwargs": tuple(tuple(kv) for kv in data.get("kwargs", ()))})
