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
    grad_key: str | None = None  # where it is in what the gradients call returns: a dict key, or a
                                 # dotted path of keys and list indices ("1.0": nabla_w[0] of (nabla_b, nabla_w))


@dataclass(frozen=True)
class Call:
    """A call on the model (`forward`) or on its module (`module.update`).

    args name values: model, X, T, lr, rows ([x..., t] per sample), pairs ([(x, t), ...]),
    epochs (=1), output (the forward output), labels (class indices), x and t (one row of X and
    of T, with per_row), and any value an earlier call returned under its own name (caches).
    kwargs are keyword arguments: constants (CS231n's reg=0.05), or "$l2" / "$lr" for the case's
    L2 strength or learning rate.
    returns: "none", or names separated by commas, one per returned value: output, loss, grads,
    model (a new model: the parameters an update returns) or a name of the code's own, kept for
    later calls ("output,caches").
    """
    target: str
    args: tuple[str, ...] = ()
    returns: str = "none"
    per_row: bool = False
    kwargs: tuple[tuple[str, object], ...] = ()

    @property
    def returned(self) -> tuple[str, ...]:
        """The names of the returned values, in order (none for "none")."""
        return () if self.returns == "none" else tuple(self.returns.split(","))

    @property
    def kept(self) -> tuple[str, ...]:
        """Returned values kept under the code's own names for later calls."""
        return tuple(n for n in self.returned if n not in NET_VALUES and n not in LAYER_VALUES)


NET_VALUES = ("output", "loss", "grads", "model")       # what a net's calls return that the harness uses itself
LAYER_VALUES = ("out", "loss", "dx", "dw", "db")         # what a layer's calls return that the grader checks
SPEC_VALUES = ("$l2", "$lr")                     # keyword-argument values taken from the case


@dataclass(frozen=True)
class Adapter:
    name: str
    module: str                                   # dotted module name or path to a .py file
    factory: str                                  # class (or function) that builds the model
    params: tuple[Param, ...]
    forward: Call | None                          # None: the code has no call for its output alone
    init: tuple[tuple[str, str], ...] = ()        # constructor kwarg -> sizes.0 | sizes.1 | lr | seed | dtype
    optional_init: tuple[tuple[str, str], ...] = ()   # the same, passed only if the constructor takes it
    loss: Call | None = None
    gradients: Call | None = None
    update: tuple[Call, ...] = ()                 # one in-place SGD step on the batch
    lr_attr: str | None = None                    # attribute the update reads lr from
    update_per_sample: bool = False               # update() steps once per row, not once per batch
    columns: bool = False                         # data in columns: X (features, N), T (outputs, N)
    write: str = "in_place"                       # "replace": new arrays put where the code keeps its own
    bias_shapes: str = "exact"                    # "lenient": a bias gradient of the right values as
                                                  # (1, n) or (n, 1) is accepted, with a note

    @property
    def reports_loss(self) -> bool:
        """The code computes a loss itself (a loss call, or a forward or gradients call returning one)."""
        return self.loss is not None or any(c is not None and "loss" in c.returned
                                            for c in (self.forward, self.gradients))

    def to_json(self) -> dict:
        return dataclasses.asdict(self)

    @staticmethod
    def from_json(data: dict) -> Adapter:
        return Adapter(**{**data, "params": tuple(Param(**p) for p in data["params"]),
                          "forward": call_from_json(data.get("forward")), "loss": call_from_json(data["loss"]),
                          "gradients": call_from_json(data["gradients"]),
                          "update": tuple(map(call_from_json, data["update"])),
                          "init": tuple(tuple(kv) for kv in data["init"]),
                          "optional_init": tuple(tuple(kv) for kv in data["optional_init"])})


def call_from_json(data: dict | None) -> Call | None:
    return None if data is None else Call(**{**data, "args": tuple(data["args"]),
                                             "kwargs": tuple(tuple(kv) for kv in data.get("kwargs", ()))})
