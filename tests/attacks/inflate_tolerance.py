"""Attack: make the weights the harness reads back enormous, so that an allowance scaled by
them swallows any gradient."""
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
        pass


class _Huge(XORNet):
    def __getattribute__(self, name):
        value = object.__getattribute__(self, name)
        if name in ("w_hidden", "w_out") and isinstance(value, np.ndarray):
            return value + 1e20
        return value


XORNet = _Huge  # noqa: F811
