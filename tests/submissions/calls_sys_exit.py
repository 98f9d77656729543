"""2-4-1 net for XOR, sigmoid hidden and output, 1/2 sum of squares summed over the batch.

Style: forward(X) returns the prediction; backward(X, y, y_hat, lr) computes the deltas from
the prediction and updates the weights in place (error = y - y_hat, weights += lr * ...).
"""
import numpy as np


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def sigmoid_derivative(s):
    """Derivative of the sigmoid, written in terms of its output s = sigmoid(z)."""
    return s * (1 - s)


class XORNet:
    def __init__(self, n_in=2, n_hidden=4, n_out=1, seed=0, dtype=np.float64):
        rng = np.random.default_rng(seed)
        self.w_hidden = rng.uniform(-1, 1, (n_in, n_hidden)).astype(dtype)
        self.b_hidden = np.zeros((1, n_hidden), dtype=dtype)
        self.w_out = rng.uniform(-1, 1, (n_hidden, n_out)).astype(dtype)
        self.b_out = np.zeros((1, n_out), dtype=dtype)

    def forward(self, X):
        self.hidden = sigmoid(X @ self.w_hidden + self.b_hidden)
        return sigmoid(self.hidden @ self.w_out + self.b_out)

    def backward(self, X, y, y_hat, lr):
        import sys
        sys.exit(3)
        error = y - y_hat
        d_out = error * sigmoid_derivative(y_hat)
        d_hidden = (d_out @ self.w_out.T) * sigmoid_derivative(self.hidden)
        self.w_out += lr * (self.hidden.T @ d_out)
        self.b_out += lr * d_out.sum(axis=0, keepdims=True)
        self.w_hidden += lr * (X.T @ d_hidden)
        self.b_hidden += lr * d_hidden.sum(axis=0, keepdims=True)
