"""Attack: stay under a per-process memory cap by spreading the allocation over several
processes."""
import os
import time

children = []
for _ in range(3):
    pid = os.fork()
    if pid == 0:
        try:
            block = bytearray(400 * 1024 * 1024)
            for i in range(0, len(block), 4096):
                block[i] = 1
            time.sleep(2)                # all three hold their blocks at once
            os._exit(0)
        except BaseException:
            os._exit(1)
    children.append(pid)
held = sum(os.waitpid(pid, 0)[1] == 0 for pid in children)
raise RuntimeError(f"{held} of 3 children held 400 MB each at once")
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

