"""Layers with forward and backward, as the book's common/layers.py names them: each keeps what
its backward needs; Affine keeps its gradients in dW and db."""
import numpy as np

from common.functions import cross_entropy_error, sigmoid, softmax


class Relu:
    def __init__(self):
        self.mask = None

    def forward(self, x):
        self.mask = x <= 0
        out = x.copy()
        out[self.mask] = 0
        return out

    def backward(self, dout):
        dout[self.mask] = 0              # in place, as in the book
        return dout


class Sigmoid:
    def __init__(self):
        self.out = None

    def forward(self, x):
        self.out = sigmoid(x)
        return self.out

    def backward(self, dout):
        return dout * (1.0 - self.out) * self.out


class Affine:
    def __init__(self, W, b):
        self.W = W                       # the very arrays of the net's params dict
        self.b = b
        self.x = None
        self.original_x_shape = None
        self.dW = None
        self.db = None

    def forward(self, x):
        self.original_x_shape = x.shape  # a batch of images (N, C, H, W) is flattened to (N, C*H*W)
        self.x = x.reshape(x.shape[0], -1)
        return np.dot(self.x, self.W) + self.b

    def backward(self, dout):
        dx = np.dot(dout, self.W.T)
        self.dW = np.dot(self.x.T, dout)
        self.db = np.sum(dout, axis=0)
        return dx.reshape(*self.original_x_shape)


class SoftmaxWithLoss:
    def __init__(self):
        self.loss = None
        self.y = None                    # the softmax output
        self.t = None                    # the labels: one-hot, or class indices

    def forward(self, x, t):
        self.t = t
        self.y = softmax(x)
        self.loss = cross_entropy_error(self.y, self.t)
        return self.loss

    def backward(self, dout=1):
        n = self.t.shape[0]
        if self.t.size == self.y.size:   # one-hot
            dx = (self.y - self.t) / n
        else:
            dx = self.y.copy()
            dx[np.arange(n), self.t] -= 1
            dx = dx / n
        return dx
