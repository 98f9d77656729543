"""Michael Nielsen's "Neural Networks and Deep Learning", chapters 1-2, network.py: a
Network(sizes) with lists of (y, 1) biases and (y, x) weights, sigmoid neurons, the quadratic cost
1/2 ||a - y||^2, per-sample backprop(x, y) -> (nabla_b, nabla_w) on column vectors, and
update_mini_batch(mini_batch, eta) stepping by the average of the summed nablas."""
import numpy as np


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def sigmoid_prime(z):
    """Derivative of the sigmoid function."""
    return sigmoid(z) * (1 - sigmoid(z))


class Network:
    def __init__(self, sizes):
        self.num_layers = len(sizes)
        self.sizes = sizes
        self.biases = [np.zeros((y, 1)) for y in sizes[1:]]
        self.weights = [np.zeros((y, x)) for x, y in zip(sizes[:-1], sizes[1:], strict=True)]

    def feedforward(self, a):
        """Return the output of the network if ``a`` is input."""
        for b, w in zip(self.biases, self.weights, strict=True):
            a = sigmoid(np.dot(w, a) + b)
        return a

    def update_mini_batch(self, mini_batch, eta):
        """One gradient-descent step on a list of (x, y) tuples."""
        nabla_b = [np.zeros(b.shape) for b in self.biases]
        nabla_w = [np.zeros(w.shape) for w in self.weights]
        for x, y in mini_batch:
            delta_nabla_b, delta_nabla_w = self.backprop(x, y)
            nabla_b = [nb + dnb for nb, dnb in zip(nabla_b, delta_nabla_b, strict=True)]
            nabla_w = [nw + dnw for nw, dnw in zip(nabla_w, delta_nabla_w, strict=True)]
        self.weights = [w - (eta / len(mini_batch)) * nw for w, nw in zip(self.weights, nabla_w, strict=True)]
        self.biases = [b - (eta / len(mini_batch)) * nb for b, nb in zip(self.biases, nabla_b, strict=True)]

    def backprop(self, x, y):
        """Return (nabla_b, nabla_w), the gradient of the cost for one sample, layer by layer."""
        nabla_b = [np.zeros(b.shape) for b in self.biases]
        nabla_w = [np.zeros(w.shape) for w in self.weights]
        # feedforward, keeping every weighted input and activation
        activation = x
        activations = [x]
        zs = []
        for b, w in zip(self.biases, self.weights, strict=True):
            z = np.dot(w, activation) + b
            zs.append(z)
            activation = sigmoid(z)
            activations.append(activation)
        # backward pass
        delta = self.cost_derivative(activations[-1], y) * sigmoid_prime(zs[-1])
        nabla_b[-1] = delta
        nabla_w[-1] = np.dot(delta, activations[-2].transpose())
        # k = 1 is the last layer, k = 2 the one before it, ...
        for k in range(2, self.num_layers):
            z = zs[-k]
            sp = sigmoid_prime(z)
            delta = np.dot(self.weights[-k + 1].transpose(), delta) * sp
            nabla_b[-k] = delta
            nabla_w[-k] = np.dot(delta, activations[-k - 1].transpose())
        return (nabla_b, nabla_w)

    def cost_derivative(self, output_activations, y):
        """dC/da for the quadratic cost."""
        return output_activations - y
