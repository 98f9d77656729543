"""Stanford CS231n assignment-1 style: a TwoLayerNet whose `params` dict holds W1 (D, H), b1 (H,),
W2 (H, C), b2 (C,); `loss(X, y=None, reg=0.0)` returns the class scores without labels and
(loss, grads) with them: softmax cross-entropy averaged over N plus reg * sum(W * W), ReLU hidden."""
import numpy as np


class TwoLayerNet:
    def __init__(self, input_size, hidden_size, output_size, std=1e-4):
        rng = np.random.default_rng(0)
        self.params = {}
        self.params['W1'] = std * rng.standard_normal((input_size, hidden_size))
        self.params['b1'] = np.zeros(hidden_size)
        self.params['W2'] = std * rng.standard_normal((hidden_size, output_size))
        self.params['b2'] = np.zeros(output_size)

    def loss(self, X, y=None, reg=0.0):
        W1, b1 = self.params['W1'], self.params['b1']
        W2, b2 = self.params['W2'], self.params['b2']
        N, D = X.shape

        # forward pass
        hidden_layer = np.maximum(0, X.dot(W1) + b1)
        scores = hidden_layer.dot(W2) + b2
        if y is None:
            return scores

        # softmax loss, shifted by the row max for numerical stability
        shifted_scores = scores - np.max(scores, axis=1, keepdims=True)
        exp_scores = np.exp(shifted_scores)
        probs = exp_scores / np.sum(exp_scores, axis=1, keepdims=True)
        correct_logprobs = -np.log(probs[np.arange(N), y])
        data_loss = np.sum(correct_logprobs) / N
        reg_loss = reg * (np.sum(W1 * W1) + np.sum(W2 * W2))
        loss = data_loss + reg_loss

        # backward pass
        grads = {}
        dscores = probs.copy()
        dscores[np.arange(N), y] -= 1
        dscores /= N
        grads['W2'] = hidden_layer.T.dot(dscores) + 2 * reg * W2
        grads['b2'] = np.sum(dscores, axis=0)
        dhidden = dscores.dot(W2.T)
        dhidden[hidden_layer <= 0] = 0
        grads['W1'] = X.T.dot(dhidden) + 2 * reg * W1
        grads['b1'] = np.sum(dhidden, axis=0)
        return loss, grads
