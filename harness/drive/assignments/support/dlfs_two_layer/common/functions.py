"""Activation and loss functions, as the book's common/functions.py names them."""
import numpy as np


def identity_function(x):
    return x


def step_function(x):
    return np.array(x > 0, dtype=int)


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def sigmoid_grad(x):
    s = sigmoid(x)
    return (1.0 - s) * s


def relu(x):
    return np.maximum(0, x)


def relu_grad(x):
    return (x > 0).astype(float)


def softmax(x):
    """Row-wise softmax of a (N, C) batch, or of one (C,) vector; shifted by the maximum."""
    shifted = x - np.max(x, axis=-1, keepdims=True)
    e = np.exp(shifted)
    return e / np.sum(e, axis=-1, keepdims=True)


def mean_squared_error(y, t):
    return 0.5 * np.sum((y - t) ** 2)


def cross_entropy_error(y, t):
    """Mean over the batch of -log y[t]; t one-hot (same size as y) or class indices. The book
    adds 1e-7 inside the log so that a zero probability gives a large number, not inf."""
    if y.ndim == 1:
        y = y.reshape(1, y.size)
        t = t.reshape(1, t.size)
    if t.size == y.size:                 # one-hot labels -> the index of each row's 1
        t = t.argmax(axis=1)
    n = y.shape[0]
    return -np.sum(np.log(y[np.arange(n), t] + 1e-7)) / n


def softmax_loss(X, t):
    return cross_entropy_error(softmax(X), t)
