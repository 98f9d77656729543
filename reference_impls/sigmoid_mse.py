"""784-500-10 net, sigmoid hidden and output layers, 1/2 sum of squares averaged over the batch.

Style: forward(X, y) returns (loss, output) and remembers what backward needs; backward() takes
no arguments, uses self.lr and updates the weights in place. Biases are vectors of shape (n,).
"""
import numpy as np


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


class NeuralNetwork:
    def __init__(self, n_input=784, n_hidden=500, n_output=10, lr=0.1, seed=0, dtype=np.float64):
        rng = np.random.default_rng(seed)
        self.lr = lr
        self.W1 = (rng.standard_normal((n_input, n_hidden)) / np.sqrt(n_input)).astype(dtype)
        self.b1 = np.zeros(n_hidden, dtype=dtype)
        self.W2 = (rng.standard_normal((n_hidden, n_output)) / np.sqrt(n_hidden)).astype(dtype)
        self.b2 = np.zeros(n_output, dtype=dtype)

    def forward(self, X, y):
        self.X, self.y = X, y
        self.z1 = X @ self.W1 + self.b1
        self.h = sigmoid(self.z1)
        self.z2 = self.h @ self.W2 + self.b2
        self.o = sigmoid(self.z2)
        loss = 0.5 * np.sum((self.o - y) ** 2) / X.shape[0]
        return loss, self.o

    def backward(self):
        n = self.X.shape[0]
        delta2 = (self.o - self.y) * self.o * (1 - self.o) / n
        delta1 = (delta2 @ self.W2.T) * self.h * (1 - self.h)
        self.W2 -= self.lr * (self.h.T @ delta2)
        self.b2 -= self.lr * delta2.sum(axis=0)
        self.W1 -= self.lr * (self.X.T @ delta1)
        self.b1 -= self.lr * delta1.sum(axis=0)
