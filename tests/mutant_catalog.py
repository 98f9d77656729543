"""The mutation catalog: typical backprop bugs, each a one-line edit of a correct net, with the
cause the grader's diagnosis must name (a key of harness.grade.diagnose.CAUSES). A style is a
reference net (reference_impls/<style>.py, graded by the built-in assignment of that name) or a
course-style net (tests/course_nets/<style>.py, graded by <style>.toml beside it)."""
from dataclasses import dataclass
from pathlib import Path

import reference_impls

REF_DIR = Path(reference_impls.__file__).parent
COURSE_DIR = Path(__file__).parent / "course_nets"


def style_file(style: str) -> Path:
    """The correct source a style's mutants edit."""
    ref = REF_DIR / f"{style}.py"
    return ref if ref.is_file() else COURSE_DIR / f"{style}.py"


def style_assignment(style: str) -> str:
    """The assignment a style is graded by: a built-in name or a course net's .toml."""
    return style if (REF_DIR / f"{style}.py").is_file() else str(COURSE_DIR / f"{style}.toml")


@dataclass(frozen=True)
class Mutant:
    id: str
    style: str          # reference net / built-in assignment
    original: str       # a fragment found exactly once in reference_impls/<style>.py
    mutated: str
    cause: str

    def source(self) -> str:
        text = style_file(self.style).read_text()
        if text.count(self.original) != 1:
            raise AssertionError(f"{self.id}: fragment not found exactly once in {self.style}.py: {self.original!r}")
        return text.replace(self.original, self.mutated)

    def write(self, folder: Path) -> Path:
        path = folder / f"{self.id}.py"
        path.write_text(self.source())
        return path


_R = "d_output = 2 * (output - Y) / output.size"
_S = "delta2 = (self.o - self.y) * self.o * (1 - self.o) / n"
_X = "d_out = error * sigmoid_derivative(y_hat)"
_C = "return dout * (self.y - self.t) / self.t.shape[0]"

MUTANTS = [
    # relu_mse: MSE over all N*K elements, update function, ReLU
    Mutant("relu_no_2", "relu_mse", _R, "d_output = (output - Y) / output.size", "scale_half"),
    Mutant("relu_mean_batch_only", "relu_mse", _R, "d_output = 2 * (output - Y) / output.shape[0]", "scale_outputs"),
    Mutant("relu_hardcoded_batch", "relu_mse", _R, "d_output = 2 * (output - Y) / (32 * output.shape[1])",
           "hardcoded_batch"),
    Mutant("relu_sign", "relu_mse", "net.weights2 -= lr * (net.a1.T @ d_output)",
           "net.weights2 += lr * (net.a1.T @ d_output)", "sign"),
    Mutant("relu_missing_relu_deriv", "relu_mse", "d_hidden = (d_output @ net.weights2.T) * (net.z1 > 0)",
           "d_hidden = d_output @ net.weights2.T", "missing_act_deriv"),
    Mutant("relu_stale_weights", "relu_mse",
           "    d_hidden = (d_output @ net.weights2.T) * (net.z1 > 0)\n    net.weights2 -= lr * (net.a1.T @ d_output)\n",
           "    net.weights2 -= lr * (net.a1.T @ d_output)\n    d_hidden = (d_output @ net.weights2.T) * (net.z1 > 0)\n",
           "stale_weights"),
    Mutant("relu_lr_twice", "relu_mse", "net.weights1 -= lr * (X.T @ d_hidden)",
           "net.weights1 -= lr * lr * (X.T @ d_hidden)", "lr_twice"),
    Mutant("relu_loss_sum", "relu_mse", "return np.mean((output - target) ** 2)",
           "return np.sum((output - target) ** 2) / output.shape[0]", "loss_not_grad"),
    # sigmoid_mse: 1/2 SSE averaged over the batch, forward(X, y) + backward(), biases (n,)
    Mutant("sig_deriv_at_activation_out", "sigmoid_mse", _S,
           "delta2 = (self.o - self.y) * sigmoid(self.o) * (1 - sigmoid(self.o)) / n", "deriv_at_activation"),
    Mutant("sig_deriv_at_activation_hidden", "sigmoid_mse", "delta1 = (delta2 @ self.W2.T) * self.h * (1 - self.h)",
           "delta1 = (delta2 @ self.W2.T) * sigmoid(self.h) * (1 - sigmoid(self.h))", "deriv_at_activation"),
    Mutant("sig_missing_out_deriv", "sigmoid_mse", _S, "delta2 = (self.o - self.y) / n", "missing_act_deriv"),
    Mutant("sig_no_batch_mean", "sigmoid_mse", _S, "delta2 = (self.o - self.y) * self.o * (1 - self.o)",
           "scale_batch"),
    Mutant("sig_lr_missing", "sigmoid_mse", "self.W2 -= self.lr * (self.h.T @ delta2)",
           "self.W2 -= self.h.T @ delta2", "lr_missing"),
    Mutant("sig_x2", "sigmoid_mse", _S, "delta2 = 2 * (self.o - self.y) * self.o * (1 - self.o) / n", "scale_2"),
    Mutant("sig_loss_no_half", "sigmoid_mse", "loss = 0.5 * np.sum((self.o - y) ** 2) / X.shape[0]",
           "loss = np.sum((self.o - y) ** 2) / X.shape[0]", "loss_not_grad"),
    Mutant("sig_formula_on_z", "sigmoid_mse", "delta1 = (delta2 @ self.W2.T) * self.h * (1 - self.h)",
           "delta1 = (delta2 @ self.W2.T) * self.z1 * (1 - self.z1)", "deriv_formula_on_z"),
    # xor: 1/2 SSE summed over the batch, backward(X, y, y_hat, lr), error = y - y_hat, +=
    Mutant("xor_mean_batch", "xor", _X, "d_out = error * sigmoid_derivative(y_hat) / len(X)", "scale_inv_batch"),
    Mutant("xor_x2", "xor", _X, "d_out = 2 * error * sigmoid_derivative(y_hat)", "scale_2"),
    Mutant("xor_sign_hidden", "xor", "self.w_hidden += lr * (X.T @ d_hidden)", "self.w_hidden -= lr * (X.T @ d_hidden)",
           "sign"),
    Mutant("xor_stale_weights", "xor",
           "        d_hidden = (d_out @ self.w_out.T) * sigmoid_derivative(self.hidden)\n"
           "        self.w_out += lr * (self.hidden.T @ d_out)\n",
           "        self.w_out += lr * (self.hidden.T @ d_out)\n"
           "        d_hidden = (d_out @ self.w_out.T) * sigmoid_derivative(self.hidden)\n", "stale_weights"),
    Mutant("xor_missing_hidden_deriv", "xor", "d_hidden = (d_out @ self.w_out.T) * sigmoid_derivative(self.hidden)",
           "d_hidden = d_out @ self.w_out.T", "missing_act_deriv"),
    Mutant("xor_deriv_at_activation", "xor", _X, "d_out = error * sigmoid_derivative(sigmoid(y_hat))",
           "deriv_at_activation"),
    Mutant("xor_bias_mean", "xor", "self.b_out += lr * d_out.sum(axis=0, keepdims=True)",
           "self.b_out += lr * d_out.mean(axis=0, keepdims=True)", "scale_inv_batch"),
    # softmax_ce: layered, gradient(x, t) -> dict
    Mutant("ce_bias_not_summed", "softmax_ce", "self.db = dout.sum(axis=0)", "self.db = dout", "bias_not_reduced"),
    Mutant("ce_bias_first_row", "softmax_ce", "self.db = dout.sum(axis=0)", "self.db = dout[0]", "bias_not_reduced"),
    Mutant("ce_transposed", "softmax_ce", "self.dW = self.x.T @ dout", "self.dW = dout.T @ self.x", "transposed"),
    Mutant("ce_no_batch_mean", "softmax_ce", _C,
           "return dout * (self.y - self.t)", "scale_batch"),
    Mutant("ce_hardcoded_batch", "softmax_ce", _C,
           "return dout * (self.y - self.t) / 32", "hardcoded_batch"),
    Mutant("ce_missing_relu_deriv", "softmax_ce", "        dout = dout.copy()\n        dout[self.mask] = 0\n",
           "        dout = dout.copy()\n", "missing_act_deriv"),
    Mutant("ce_loss_sum", "softmax_ce", "return -np.sum(t * log_y) / x.shape[0]", "return -np.sum(t * log_y)",
           "loss_not_grad"),
    Mutant("ce_sign", "softmax_ce", _C,
           "return dout * (self.t - self.y) / self.t.shape[0]", "sign"),
    Mutant("ce_mean_outputs", "softmax_ce", _C,
           "return dout * (self.y - self.t) / self.t.size", "scale_inv_outputs"),
    # linear_221: scalar per-sample code, packed (out, 1 + in) with the bias in column 0
    Mutant("lin_lr_twice", "linear_221", "self.output[0, 1 + j] -= lr * error * h[j]",
           "self.output[0, 1 + j] -= lr * lr * error * h[j]", "lr_twice"),
    Mutant("lin_x2", "linear_221", "error = self.predict(x) - y ", "error = 2 * (self.predict(x) - y) ", "scale_2"),
    Mutant("lin_sign", "linear_221", "self.hidden[j, 1 + i] -= lr * d_hidden[j] * x[i]",
           "self.hidden[j, 1 + i] += lr * d_hidden[j] * x[i]", "sign"),
    Mutant("lin_stale_weights", "linear_221",
           "                d_hidden = [error * self.output[0, 1 + j] for j in range(len(h))]\n"
           "                self.output[0, 0] -= lr * error\n"
           "                for j in range(len(h)):\n"
           "                    self.output[0, 1 + j] -= lr * error * h[j]\n",
           "                self.output[0, 0] -= lr * error\n"
           "                for j in range(len(h)):\n"
           "                    self.output[0, 1 + j] -= lr * error * h[j]\n"
           "                d_hidden = [error * self.output[0, 1 + j] for j in range(len(h))]\n", "stale_weights"),
    Mutant("lin_lr_missing", "linear_221", "self.hidden[j, 0] -= lr * d_hidden[j]", "self.hidden[j, 0] -= d_hidden[j]",
           "lr_missing"),
]
