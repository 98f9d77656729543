"""2-2-1 linear net (no activations), squared error of one sample, per-sample SGD.

Style: scalar code. Each layer's parameters are packed as an (out, 1 + in) array whose column 0
is the bias; train(rows, epochs, lr) loops over rows [x1, ..., xn, y] and updates after every
sample. The sizes default to 2-2-1 but any n_in-n_hidden-1 works.
"""
import numpy as np


class LinearNet:
    def __init__(self, n_in=2, n_hidden=2, seed=0, dtype=np.float64):
        rng = np.random.default_rng(seed)
        self.hidden = rng.uniform(-1, 1, (n_hidden, 1 + n_in)).astype(dtype)   # row j: [bias_j, w_j1, ..., w_jn]
        self.output = rng.uniform(-1, 1, (1, 1 + n_hidden)).astype(dtype)      # [bias, v_1, ..., v_h]

    def hidden_values(self, x):
        # sum() starts from the bias, not from the int 0: numpy 1.x would promote float32 to float64
        return [sum((row[1 + i] * x[i] for i in range(len(x))), row[0]) for row in self.hidden]

    def predict(self, x):
        h = self.hidden_values(x)
        v = self.output[0]
        return sum((v[1 + j] * h[j] for j in range(len(h))), v[0])

    def train(self, rows, epochs, lr):
        for _ in range(epochs):
            for row in rows:
                x, y = row[:-1], row[-1]
                h = self.hidden_values(x)
                error = self.predict(x) - y                  # d(1/2 (out - y)^2) / d out
                d_hidden = [error * self.output[0, 1 + j] for j in range(len(h))]
                self.output[0, 0] -= lr * error
                for j in range(len(h)):
                    self.output[0, 1 + j] -= lr * error * h[j]
                for j in range(len(h)):
                    self.hidden[j, 0] -= lr * d_hidden[j]
                    for i in range(len(x)):
                        self.hidden[j, 1 + i] -= lr * d_hidden[j] * x[i]
