"""A "list of layer objects" net as course notebooks and blog posts write it: Dense, LeakyReLU and
Tanh layers, each with forward(x) and backward(grad), chained Dense -> LeakyReLU -> Dense -> Tanh ->
Dense (linear output), trained on the mean over the batch of the summed squared errors."""
import numpy as np


class Dense:
    def __init__(self, n_in, n_out, dtype=np.float64):
        self.W = np.zeros((n_in, n_out), dtype)
        self.b = np.zeros(n_out, dtype)

    def forward(self, x):
        self.x = x
        return x @ self.W + self.b

    def backward(self, grad):
        self.dW = self.x.T @ grad
        self.db = grad.sum(axis=0)
        return grad @ self.W.T


class LeakyReLU:
    def __init__(self, alpha=0.01):
        self.alpha = alpha

    def forward(self, x):
        self.x = x
        return np.where(x > 0, x, self.alpha * x)

    def backward(self, grad):
        return np.where(self.x > 0, grad, self.alpha * grad)


class Tanh:
    def forward(self, x):
        self.x = x
        self.out = np.tanh(x)
        return self.out

    def backward(self, grad):
        return grad * (1 - self.out ** 2)


class Net:
    def __init__(self, sizes, dtype=np.float64):
        n_in, h1, h2, n_out = sizes
        self.layers = [Dense(n_in, h1, dtype), LeakyReLU(0.01), Dense(h1, h2, dtype), Tanh(), Dense(h2, n_out, dtype)]

    def forward(self, X):
        out = X
        for layer in self.layers:
            out = layer.forward(out)
        return out

    def mse(self, output, T):
        return np.sum((output - T) ** 2) / len(T)

    def backward(self, X, T):
        output = self.forward(X)
        grad = 2 * (output - T) / len(X)
        for layer in reversed(self.layers):
            grad = layer.backward(grad)
        return [(layer.dW, layer.db) for layer in self.layers if isinstance(layer, Dense)]
