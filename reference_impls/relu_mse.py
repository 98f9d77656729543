"""784-100-10 net, ReLU hidden layer, linear output, MSE averaged over all elements.

Style: a class holding weights1/biases1/weights2/biases2 (W as (in, out), biases as (1, n));
training is a separate function that does the forward pass, the deltas and in-place updates.
"""
import numpy as np


class Network:
    def __init__(self, input_size=784, hidden_size=100, output_size=10, seed=0, dtype=np.float64):
        rng = np.random.default_rng(seed)
        self.weights1 = (rng.standard_normal((input_size, hidden_size)) * np.sqrt(2.0 / input_size)).astype(dtype)
        self.biases1 = np.zeros((1, hidden_size), dtype=dtype)
        self.weights2 = (rng.standard_normal((hidden_size, output_size)) * np.sqrt(2.0 / hidden_size)).astype(dtype)
        self.biases2 = np.zeros((1, output_size), dtype=dtype)

    def forward(self, X):
        self.z1 = X @ self.weights1 + self.biases1
        self.a1 = np.maximum(self.z1, 0)
        self.output = self.a1 @ self.weights2 + self.biases2
        return self.output


def mse_loss(output, target):
    return np.mean((output - target) ** 2)


def update(net, X, Y, lr):
    """One SGD step on the batch (X, Y); returns the loss before the step."""
    output = net.forward(X)
    d_output = 2 * (output - Y) / output.size
    d_hidden = (d_output @ net.weights2.T) * (net.z1 > 0)
    net.weights2 -= lr * (net.a1.T @ d_output)
    net.biases2 -= lr * d_output.sum(axis=0, keepdims=True)
    net.weights1 -= lr * (X.T @ d_hidden)
    net.biases1 -= lr * d_hidden.sum(axis=0, keepdims=True)
    return mse_loss(output, Y)
