""""Deep Learning from Scratch" (Saito), chapter 5, two_layer_net.py: the layers come from the
book's `common` package (Affine, Relu, SoftmaxWithLoss; the grader ships it, see
harness/drive/assignments/support/dlfs_two_layer), chained in an OrderedDict; gradient(x, t)
runs the loss forward, then every layer's backward in reverse order, and collects dW and db."""
# ruff: noqa: F403, F405
from collections import OrderedDict

import numpy as np
from common.gradient import numerical_gradient
from common.layers import *  # Affine, Relu, SoftmaxWithLoss, as the book imports them


class TwoLayerNet:

    def __init__(self, input_size, hidden_size, output_size, weight_init_std=0.01):
        rng = np.random.default_rng(0)
        self.params = {}
        self.params['W1'] = weight_init_std * rng.standard_normal((input_size, hidden_size))
        self.params['b1'] = np.zeros(hidden_size)
        self.params['W2'] = weight_init_std * rng.standard_normal((hidden_size, output_size))
        self.params['b2'] = np.zeros(output_size)

        # the layers share the arrays of self.params
        self.layers = OrderedDict()
        self.layers['Affine1'] = Affine(self.params['W1'], self.params['b1'])
        self.layers['Relu1'] = Relu()
        self.layers['Affine2'] = Affine(self.params['W2'], self.params['b2'])
        self.lastLayer = SoftmaxWithLoss()

    def predict(self, x):
        for layer in self.layers.values():
            x = layer.forward(x)
        return x

    # x: input data, t: labels (one-hot or class indices)
    def loss(self, x, t):
        y = self.predict(x)
        return self.lastLayer.forward(y, t)

    def accuracy(self, x, t):
        y = np.argmax(self.predict(x), axis=1)
        if t.ndim != 1:
            t = np.argmax(t, axis=1)
        return np.sum(y == t) / float(x.shape[0])

    def numerical_gradient(self, x, t):
        def loss_W(W):
            return self.loss(x, t)

        grads = {}
        for key in ('W1', 'b1', 'W2', 'b2'):
            grads[key] = numerical_gradient(loss_W, self.params[key])
        return grads

    def gradient(self, x, t):
        # forward
        self.loss(x, t)

        # backward
        dout = 1
        dout = self.lastLayer.backward(dout)

        layers = list(self.layers.values())
        layers.reverse()
        for layer in layers:
            dout = layer.backward(dout)

        grads = {}
        grads['W1'], grads['b1'] = self.layers['Affine1'].dW, self.layers['Affine1'].db
        grads['W2'], grads['b2'] = self.layers['Affine2'].dW, self.layers['Affine2'].db
        return grads
