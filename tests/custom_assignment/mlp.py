"""A solution in a style none of the reference nets use: column-major activations, a list of
layer dicts with W as (out, in) and b as (out, 1), and grads(X, T) returning dW1/db1/... ."""
import numpy as np


class MLP:
    def __init__(self, n_in, n_hidden, n_out):
        self.layers = [{"W": np.zeros((n_hidden, n_in)), "b": np.zeros((n_hidden, 1))},
                       {"W": np.zeros((n_out, n_hidden)), "b": np.zeros((n_out, 1))}]

    def forward(self, X):
        A0 = X.T
        Z1 = self.layers[0]["W"] @ A0 + self.layers[0]["b"]
        A1 = np.maximum(Z1, 0)
        Z2 = self.layers[1]["W"] @ A1 + self.layers[1]["b"]
        A2 = 1 / (1 + np.exp(-Z2))
        self.cache = (A0, Z1, A1, A2)
        return A2.T

    def loss(self, output, T):
        return 0.5 * np.sum((output - T) ** 2) / T.shape[0]

    def grads(self, X, T):
        self.forward(X)
        A0, Z1, A1, A2 = self.cache
        n = X.shape[0]
        D2 = (A2 - T.T) * A2 * (1 - A2) / n
        D1 = (self.layers[1]["W"].T @ D2) * (Z1 > 0)
        return {"dW2": D2 @ A1.T, "db2": D2.sum(axis=1, keepdims=True),
                "dW1": D1 @ A0.T, "db1": D1.sum(axis=1, keepdims=True)}
