"""The helper module of deeplearning.ai's course 1, week 4 ("Building your Deep Neural Network:
Step by Step"), written for the grader from its public API: each activation returns its output
and a cache (the pre-activation Z), each *_backward takes dA and that cache and returns dZ.

Support code: the grader puts this folder first on the submission's sys.path, read-only, so
`from dnn_utils import sigmoid, sigmoid_backward, relu, relu_backward` works as in the notebook."""
import numpy as np


def sigmoid(Z):
    """A = 1 / (1 + exp(-Z)); cache = Z."""
    A = 1 / (1 + np.exp(-Z))
    cache = Z
    return A, cache


def relu(Z):
    """A = max(0, Z); cache = Z."""
    A = np.maximum(0, Z)
    assert A.shape == Z.shape
    cache = Z
    return A, cache


def relu_backward(dA, cache):
    """dZ = dA where Z > 0, else 0."""
    Z = cache
    dZ = np.array(dA, copy=True)
    dZ[Z <= 0] = 0
    assert dZ.shape == Z.shape
    return dZ


def sigmoid_backward(dA, cache):
    """dZ = dA * s * (1 - s), s = sigmoid(Z)."""
    Z = cache
    s = 1 / (1 + np.exp(-Z))
    dZ = dA * s * (1 - s)
    assert dZ.shape == Z.shape
    return dZ
