"""The net of "Neural Networks from Scratch in Python" ch. 9-10, assembled as the book's scripts
assemble it, from the student's own classes: dense1 - ReLU - dense2 - softmax + categorical
cross-entropy, trained by Optimizer_SGD. The book builds it at the top level of each chapter's
script; the grader builds it here instead (the script itself is not run), so every call below is
the book's own sequence of calls on the student's objects.

A class is found by its name as the book spells it, or spelled with other capitals or underscores
(Activation_ReLu, ...CategoricalCrossEntropy, LayerDense).
"""
import inspect

import numpy as np

BOOK_CLASSES = ("Layer_Dense", "Activation_ReLU", "Activation_Softmax_Loss_CategoricalCrossentropy", "Optimizer_SGD")


def _key(name):
    return name.replace("_", "").lower()


def book_class(module, name):
    """The submission's class for the book's `name`."""
    found = getattr(module, name, None)
    if isinstance(found, type):
        return found
    spelled = {_key(k): v for k, v in vars(module).items() if isinstance(v, type)}
    if _key(name) in spelled:
        return spelled[_key(name)]
    raise AttributeError(f"the file defines no class {name} (the book's {', '.join(BOOK_CLASSES)})")


def _forward(layer, inputs):
    """layer.forward(inputs), or forward(inputs, training=True) for the later chapters' layers."""
    try:
        takes_training = "training" in inspect.signature(layer.forward).parameters
    except (TypeError, ValueError):
        takes_training = False
    return layer.forward(inputs, training=True) if takes_training else layer.forward(inputs)


class Model:
    def __init__(self, module, n_inputs, n_hidden, n_outputs, learning_rate=1.0):
        dense, relu, softmax_loss, sgd = (book_class(module, n) for n in BOOK_CLASSES)
        self.dense1 = dense(n_inputs, n_hidden)
        self.activation1 = relu()
        self.dense2 = dense(n_hidden, n_outputs)
        self.loss_activation = softmax_loss()
        self.optimizer = sgd(learning_rate=learning_rate)

    def forward(self, X, y):
        """The loss of the batch; the softmax output is left in loss_activation.output."""
        _forward(self.dense1, X)
        _forward(self.activation1, self.dense1.output)
        _forward(self.dense2, self.activation1.output)
        return self.loss_activation.forward(self.dense2.output, y)

    def predict(self, X):
        self.forward(X, np.zeros(len(X), dtype=int))
        return self.loss_activation.output

    def backward(self, X, y):
        self.forward(X, y)
        self.loss_activation.backward(self.loss_activation.output, y)
        self.dense2.backward(self.loss_activation.dinputs)
        self.activation1.backward(self.dense2.dinputs)
        self.dense1.backward(self.activation1.dinputs)
        return {"dense1": self.dense1, "dense2": self.dense2}

    def train_step(self, X, y):
        self.backward(X, y)
        if hasattr(self.optimizer, "pre_update_params"):
            self.optimizer.pre_update_params()
        self.optimizer.update_params(self.dense1)
        self.optimizer.update_params(self.dense2)
        if hasattr(self.optimizer, "post_update_params"):
            self.optimizer.post_update_params()
