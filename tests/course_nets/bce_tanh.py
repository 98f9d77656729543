"""A binary classifier as a course might ask for it: tanh hidden layer, sigmoid output, binary
cross-entropy averaged over the batch; written in a per-layer dict style with its own gradient
names. Correct (the grader's tests change one line of it at a time)."""
import numpy as np


class BinaryClassifier:
    def __init__(self, n_in, n_hidden, n_out, dtype=np.float64):
        self.params = {"hidden": {"W": np.zeros((n_in, n_hidden), dtype), "b": np.zeros(n_hidden, dtype)},
                       "out": {"W": np.zeros((n_hidden, n_out), dtype), "b": np.zeros(n_out, dtype)}}

    def predict(self, X):
        self.h = np.tanh(X @ self.params["hidden"]["W"] + self.params["hidden"]["b"])
        return 1.0 / (1.0 + np.exp(-(self.h @ self.params["out"]["W"] + self.params["out"]["b"])))

    def cost(self, p, Y):
        return -np.sum(Y * np.log(p) + (1 - Y) * np.log(1 - p)) / len(Y)

    def backprop(self, X, Y):
        p = self.predict(X)
        dz_out = (p - Y) / len(X)                         # sigmoid' and the log's derivative cancel
        dh = dz_out @ self.params["out"]["W"].T
        dz_hidden = dh * (1 - self.h ** 2)
        return {"dW_hidden": X.T @ dz_hidden, "db_hidden": dz_hidden.sum(axis=0),
                "dW_out": self.h.T @ dz_out, "db_out": dz_out.sum(axis=0)}
