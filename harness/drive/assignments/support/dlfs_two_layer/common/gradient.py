"""Central-difference numerical gradients, as the book's common/gradient.py names them."""
import numpy as np


def numerical_gradient(f, x):
    """The gradient of f() with respect to the array x (of any shape), changed in place one
    element at a time and restored: (f(x + h) - f(x - h)) / 2h with h = 1e-4."""
    h = 1e-4
    grad = np.zeros_like(x)
    it = np.nditer(x, flags=["multi_index"], op_flags=["readwrite"])
    while not it.finished:
        i = it.multi_index
        kept = x[i]
        x[i] = kept + h
        up = f(x)
        x[i] = kept - h
        down = f(x)
        grad[i] = (up - down) / (2 * h)
        x[i] = kept
        it.iternext()
    return grad
