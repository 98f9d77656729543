"""Activations: one record each, in one registry. A framework maps each name to its own function
in its backend module (one line per activation there); nothing else needs to change to add one.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Activation:
    name: str
    f: Callable                        # a = f(z), elementwise, numpy
    slope: Callable                    # f'(z) given (z, a)
    # The derivative written in terms of the output a, when code usually writes it that way
    # (sigmoid: a (1 - a)). Two typical bugs follow from it: applying it to z instead of a, and
    # taking f' at a = f(z). None when such a form is not used (relu, linear).
    slope_of_output: Callable | None = None
    # The derivative as it is typically written wrong, beyond the two bugs above, and in words
    # (tanh: 1 - tanh(z), the square left out), or None.
    miswritten_slope: tuple[str, Callable] | None = None
    # Per entry, the sum of |terms| of f' as code computes it from the output (sigmoid: a - a*a,
    # tanh: 1 - a*a): where f' is tiny because the unit saturates, its round-off is not (about
    # eps times this), so a saturated unit's gradient is compared to what floats can resolve.
    slope_terms: Callable | None = None
    # |f''| given (z, a): how far round-off in z (cancellation in z = a W + b) moves f'(z).
    curvature: Callable | None = None
    kinked: bool = False          # f' jumps at 0: finite differences must not step across it
    output_only: bool = False     # not elementwise (softmax): only an output layer whose slope the loss folds;
                                  # `slope` is then an elementwise bound of its sensitivity, for round-off only

    def slope_magnitude(self, z, a, z_mag=0.0):
        """|f'| for error bounds: the sum of |terms| of f' where round-off in it matters, plus
        how far f' moves with round-off in z of size eps * z_mag (|f''| z_mag)."""
        own = self.slope_terms(z, a) if self.slope_terms is not None else np.abs(self.slope(z, a))
        return own + (self.curvature(z, a) * z_mag if self.curvature is not None else 0.0)

    @property
    def is_identity(self) -> bool:
        return self.name == "linear"


LEAKY_SLOPE = 0.01


def softmax(z):
    """Softmax over the last axis, shifted by the row maximum (no overflow); losses.py uses it too."""
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _sigmoid(z):
    # exp of a large positive number overflows to inf and 1/(1+inf) is the right 0: say nothing
    with np.errstate(over="ignore"):
        return 1.0 / (1.0 + np.exp(-z))


ACTIVATIONS: dict[str, Activation] = {a.name: a for a in (
    Activation("relu", lambda z: np.maximum(z, 0), lambda z, a: (z > 0).astype(np.float64), kinked=True),
    Activation("sigmoid", _sigmoid, lambda z, a: a * (1 - a), slope_of_output=lambda a: a * (1 - a),
               slope_terms=lambda z, a: np.abs(a) + a * a, curvature=lambda z, a: np.abs(a * (1 - a) * (1 - 2 * a))),
    Activation("linear", lambda z: z, lambda z, a: np.ones_like(z)),
    Activation("tanh", np.tanh, lambda z, a: 1 - a * a, slope_of_output=lambda a: 1 - a * a,
               slope_terms=lambda z, a: 1 + a * a, curvature=lambda z, a: np.abs(2 * a * (1 - a * a)),
               miswritten_slope=("tanh'(z) = 1 - tanh(z)**2; 1 - tanh(z) leaves out the square", lambda z, a: 1 - a)),
    Activation("leaky_relu", lambda z: np.where(z > 0, z, LEAKY_SLOPE * z),
               lambda z, a: np.where(z > 0, 1.0, LEAKY_SLOPE), kinked=True,
               miswritten_slope=(f"leaky ReLU's slope is {LEAKY_SLOPE} for z < 0, not 0 (that is plain ReLU's)",
                                 lambda z, a: (z > 0).astype(np.float64))),
    Activation("softmax", softmax, lambda z, a: 2 * a, output_only=True),
)}
