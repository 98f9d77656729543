"""A two-layer classifier (sigmoid hidden layer) whose predict(X) returns softmax probabilities, not
logits; the cross-entropy -sum(T log P) / N is differentiated the long way, dL/dP first and then back
through the full softmax Jacobian, instead of the (P - T) / N shortcut."""
import numpy as np


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


def softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


class SoftmaxNet:
    def __init__(self, n_in, n_hidden, n_out, dtype=np.float64):
        self.W1 = np.zeros((n_in, n_hidden), dtype)
        self.b1 = np.zeros(n_hidden, dtype)
        self.W2 = np.zeros((n_hidden, n_out), dtype)
        self.b2 = np.zeros(n_out, dtype)

    def predict(self, X):
        self.H = sigmoid(X @ self.W1 + self.b1)
        self.P = softmax(self.H @ self.W2 + self.b2)
        return self.P

    def loss(self, P, T):
        return -np.sum(T * np.log(P)) / len(T)

    def gradients(self, X, T):
        P = self.predict(X)
        H = self.H
        dP = -T / P / len(X)
        # softmax Jacobian: dZ_j = P_j * (dP_j - sum_k dP_k P_k)
        dZ2 = P * (dP - np.sum(dP * P, axis=1, keepdims=True))
        dW2 = H.T @ dZ2
        db2 = dZ2.sum(axis=0)
        dH = dZ2 @ self.W2.T
        dZ1 = dH * H * (1 - H)
        dW1 = X.T @ dZ1
        db1 = dZ1.sum(axis=0)
        return {"W1": dW1, "b1": db1, "W2": dW2, "b2": db2}
