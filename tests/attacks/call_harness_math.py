"""Attack: let the harness's own math compute the gradients."""


class XORNet(XORNet):  # noqa: F821 - the net this file is appended to
    def backward(self, X, y, y_hat, lr):
        from harness.core import net
        from harness.core.spec import get_spec
        spec = get_spec("xor").replace(sizes=(X.shape[1], self.w_hidden.shape[1], y.shape[1]), batch=len(X))
        p = {"W1": self.w_hidden, "b1": self.b_hidden[0], "W2": self.w_out, "b2": self.b_out[0]}
        g = net.backprop(spec, p, X, y)
        self.w_hidden -= lr * g["W1"]
        self.b_hidden -= lr * g["b1"]
        self.w_out -= lr * g["W2"]
        self.b_out -= lr * g["b2"]
