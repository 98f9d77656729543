"""Not an attack: the net every attack file is appended to (tests/test_attacks.py), a 2-4-1 net in
the xor style whose update does no backprop at all, so that only an attack can earn it points."""
import numpy as np


class XORNet:
    """No backprop: the update leaves every weight as it is."""

    def __init__(self, n_in=2, n_hidden=4, n_out=1, seed=0, dtype=np.float64):
        self.w_hidden = np.zeros((n_in, n_hidden), dtype)
        self.b_hidden = np.zeros((1, n_hidden), dtype)
        self.w_out = np.zeros((n_hidden, n_out), dtype)
        self.b_out = np.zeros((1, n_out), dtype)

    def forward(self, X):
        h = 1 / (1 + np.exp(-(X @ self.w_hidden + self.b_hidden)))
        return 1 / (1 + np.exp(-(h @ self.w_out + self.b_out)))

    def backward(self, X, y, y_hat, lr):
        return None
