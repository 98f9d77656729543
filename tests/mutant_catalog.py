"""The mutation catalog: typical backprop bugs, each a one-line edit of a correct net, with the
cause the grader's diagnosis must name (a key of harness.grade.diagnose.CAUSES). A style is a
reference net (reference_impls/<style>.py, graded by the built-in assignment of that name) or a
course-style net (tests/course_nets/<style>.py, graded by the built-in course pack of that name,
by the pack BUILTIN_FOR names, or by <style>.toml beside it)."""
from dataclasses import dataclass
from pathlib import Path

import reference_impls

REF_DIR = Path(reference_impls.__file__).parent
COURSE_DIR = Path(__file__).parent / "course_nets"


def style_file(style: str) -> Path:
    """The correct source a style's mutants edit."""
    ref = REF_DIR / f"{style}.py"
    return ref if ref.is_file() else COURSE_DIR / f"{style}.py"


# Course nets graded by a built-in course pack of another name (a second correct solution of that course).
BUILTIN_FOR = {"dlfs_own_layers": "dlfs_two_layer"}


def style_assignment(style: str) -> str:
    """The assignment a style is graded by: a built-in (a reference style or a course pack of the
    same name) or a course net's .toml."""
    from harness.drive.assignment import builtin_names
    if style in BUILTIN_FOR:
        return BUILTIN_FOR[style]
    return style if style in builtin_names() else str(COURSE_DIR / f"{style}.toml")


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

# Course-style nets (tests/course_nets/): the families beyond the reference nets.
MUTANTS += [
    # cs231n_two_layer (course pack): softmax CE mean over N + reg * sum(W * W), labels as indices,
    # loss(X, y, reg) -> (loss, grads)
    Mutant("cs231n_l2_grad_half", "cs231n_two_layer", "grads['W2'] = hidden_layer.T.dot(dscores) + 2 * reg * W2",
           "grads['W2'] = hidden_layer.T.dot(dscores) + reg * W2", "l2_gradient_half"),
    Mutant("cs231n_l2_grad_missing", "cs231n_two_layer", "grads['W1'] = X.T.dot(dhidden) + 2 * reg * W1",
           "grads['W1'] = X.T.dot(dhidden)", "l2_gradient_missing"),
    Mutant("cs231n_l2_loss_w1_missing", "cs231n_two_layer", "reg_loss = reg * (np.sum(W1 * W1) + np.sum(W2 * W2))",
           "reg_loss = reg * np.sum(W2 * W2)", "l2_loss"),
    Mutant("cs231n_l2_loss_half", "cs231n_two_layer", "reg_loss = reg * (np.sum(W1 * W1) + np.sum(W2 * W2))",
           "reg_loss = 0.5 * reg * (np.sum(W1 * W1) + np.sum(W2 * W2))", "l2_loss"),
    Mutant("cs231n_l2_bias", "cs231n_two_layer", "grads['b2'] = np.sum(dscores, axis=0)",
           "grads['b2'] = np.sum(dscores, axis=0) + 2 * reg * b2", "l2_bias_gradient"),
    Mutant("cs231n_no_batch_mean", "cs231n_two_layer", "        dscores /= N\n", "", "scale_batch"),
    Mutant("cs231n_hardcoded_toy_batch", "cs231n_two_layer", "        dscores /= N\n", "        dscores /= 5\n",
           "hardcoded_batch"),                   # the notebook's toy data has 5 samples
    Mutant("cs231n_relu_mask_missing", "cs231n_two_layer", "        dhidden[hidden_layer <= 0] = 0\n", "",
           "missing_act_deriv"),
    Mutant("cs231n_relu_mask_strict", "cs231n_two_layer", "dhidden[hidden_layer <= 0] = 0",
           "dhidden[hidden_layer < 0] = 0", "missing_act_deriv"),   # a ReLU output is never < 0
    Mutant("cs231n_loss_not_averaged", "cs231n_two_layer", "data_loss = np.sum(correct_logprobs) / N",
           "data_loss = np.sum(correct_logprobs)", "loss_not_grad"),
    Mutant("cs231n_b2_mean", "cs231n_two_layer", "grads['b2'] = np.sum(dscores, axis=0)",
           "grads['b2'] = np.mean(dscores, axis=0)", "scale_inv_batch"),
    # dlfs_own_layers (graded by the dlfs_two_layer pack): Affine / Relu / SoftmaxWithLoss written in the file
    Mutant("dlfs_no_batch_mean", "dlfs_own_layers", "dx = (self.y - self.t) / batch_size", "dx = self.y - self.t",
           "scale_batch"),
    Mutant("dlfs_batch_size_100", "dlfs_own_layers", "dx = (self.y - self.t) / batch_size",
           "dx = (self.y - self.t) / 100", "hardcoded_batch"),     # the book trains with batch_size = 100
    Mutant("dlfs_softmax_grad_sign", "dlfs_own_layers", "dx = (self.y - self.t) / batch_size",
           "dx = (self.t - self.y) / batch_size", "sign"),
    Mutant("dlfs_db_not_summed", "dlfs_own_layers", "self.db = np.sum(dout, axis=0)", "self.db = dout",
           "bias_not_reduced"),
    Mutant("dlfs_db_mean", "dlfs_own_layers", "self.db = np.sum(dout, axis=0)", "self.db = np.mean(dout, axis=0)",
           "scale_inv_batch"),
    Mutant("dlfs_db_keepdims", "dlfs_own_layers", "self.db = np.sum(dout, axis=0)",
           "self.db = np.sum(dout, axis=0, keepdims=True)", "shape_only"),
    Mutant("dlfs_dW_transposed", "dlfs_own_layers", "self.dW = np.dot(self.x.T, dout)", "self.dW = np.dot(dout.T, self.x)",
           "transposed"),
    Mutant("dlfs_relu_mask_missing", "dlfs_own_layers", "        dout[self.mask] = 0\n", "", "missing_act_deriv"),
    Mutant("dlfs_loss_not_averaged", "dlfs_own_layers", "+ 1e-7)) / batch_size", "+ 1e-7))", "loss_not_grad"),
    Mutant("dlfs_loss_over_all_outputs", "dlfs_own_layers", "+ 1e-7)) / batch_size", "+ 1e-7)) / y.size",
           "loss_not_grad"),
    Mutant("dlfs_softmax_no_shift", "dlfs_own_layers", "    x = x - np.max(x, axis=-1, keepdims=True)\n    return np.exp(x)",
           "    return np.exp(x)", "overflow"),      # exp of the pack's large scores overflows
    # dlfs_two_layer (course pack): the book's two_layer_net.py over its common package
    Mutant("dlfs_sigmoid_layer", "dlfs_two_layer", "self.layers['Relu1'] = Relu()",
           "self.layers['Relu1'] = Sigmoid()", "forward"),
    Mutant("dlfs_predict_softmax", "dlfs_two_layer", "            x = layer.forward(x)\n        return x",
           "            x = layer.forward(x)\n        return softmax(x)", "forward"),
    # dlai_deep_nn (course pack): L-layer, columns, ReLU hidden, sigmoid output, BCE mean over m,
    # activations from dnn_utils, update_parameters returns a dict
    Mutant("dlai_deep_dAL_sign", "dlai_deep_nn", "dAL = -(np.divide(Y, AL) - np.divide(1 - Y, 1 - AL))",
           "dAL = np.divide(Y, AL) - np.divide(1 - Y, 1 - AL)", "sign"),
    Mutant("dlai_deep_dAL_as_dZ", "dlai_deep_nn", "dAL = -(np.divide(Y, AL) - np.divide(1 - Y, 1 - AL))",
           "dAL = AL - Y", "slope_not_folded"),   # dZ = AL - Y, then sigmoid_backward applies sigmoid' again
    Mutant("dlai_deep_dW_no_m", "dlai_deep_nn", "dW = np.dot(dZ, A_prev.T) / m", "dW = np.dot(dZ, A_prev.T)",
           "scale_batch"),
    Mutant("dlai_deep_db_no_m", "dlai_deep_nn", "db = np.sum(dZ, axis=1, keepdims=True) / m",
           "db = np.sum(dZ, axis=1, keepdims=True)", "scale_batch"),
    Mutant("dlai_deep_dA_prev_over_m", "dlai_deep_nn", "dA_prev = np.dot(W.T, dZ)", "dA_prev = np.dot(W.T, dZ) / m",
           "scale_inv_batch"),
    Mutant("dlai_deep_cost_no_m", "dlai_deep_nn", "cost = -np.sum(Y * np.log(AL) + (1 - Y) * np.log(1 - AL)) / m",
           "cost = -np.sum(Y * np.log(AL) + (1 - Y) * np.log(1 - AL))", "loss_not_grad"),
    Mutant("dlai_deep_log_eps", "dlai_deep_nn", "Y * np.log(AL)", "Y * np.log(AL + 1e-8)", "log_epsilon"),
    Mutant("dlai_deep_last_layer_relu", "dlai_deep_nn",
           "parameters['b' + str(L)], \"sigmoid\")", "parameters['b' + str(L)], \"relu\")", "forward"),
    Mutant("dlai_deep_lr_missing", "dlai_deep_nn",
           'parameters["W" + str(layer + 1)] - learning_rate * grads["dW" + str(layer + 1)]',
           'parameters["W" + str(layer + 1)] - grads["dW" + str(layer + 1)]', "lr_missing"),
    Mutant("dlai_deep_update_sign", "dlai_deep_nn",
           'parameters["W" + str(layer + 1)] - learning_rate * grads["dW" + str(layer + 1)]',
           'parameters["W" + str(layer + 1)] + learning_rate * grads["dW" + str(layer + 1)]', "sign"),
    # dlai_l2: 3 layers, columns, BCE mean over m + lambd / (2m) * sum(W^2), gradients + lambd / m * W
    Mutant("dlai_l2_grad_half", "dlai_l2", "dW3 = 1. / m * np.dot(dZ3, A2.T) + lambd / m * W3",
           "dW3 = 1. / m * np.dot(dZ3, A2.T) + lambd / (2 * m) * W3", "l2_gradient_half"),
    Mutant("dlai_l2_grad_missing", "dlai_l2", "dW2 = 1. / m * np.dot(dZ2, A1.T) + lambd / m * W2",
           "dW2 = 1. / m * np.dot(dZ2, A1.T)", "l2_gradient_missing"),
    Mutant("dlai_l2_cost_without_l2", "dlai_l2", "cost = cross_entropy_cost + L2_regularization_cost",
           "cost = cross_entropy_cost", "l2_loss"),
    Mutant("dlai_l2_bias_regularized", "dlai_l2", "db3 = 1. / m * np.sum(dZ3, axis=1, keepdims=True)",
           "db3 = 1. / m * np.sum(dZ3, axis=1, keepdims=True) + lambd / m * b3", "l2_bias_gradient"),
    Mutant("dlai_l2_slope_divided_out", "dlai_l2", "dZ3 = A3 - Y", "dZ3 = (A3 - Y) / (A3 * (1 - A3))",
           "slope_divided_out"),
    # nielsen_network (course pack): per-sample column vectors, sigmoid everywhere, quadratic cost, update_mini_batch
    Mutant("nielsen_prime_at_activation", "nielsen_network", "* sigmoid_prime(zs[-1])", "* sigmoid_prime(activations[-1])",
           "deriv_at_activation"),
    Mutant("nielsen_hidden_prime_at_activation", "nielsen_network", "            sp = sigmoid_prime(z)\n",
           "            sp = sigmoid_prime(activations[-k])\n", "deriv_at_activation"),
    Mutant("nielsen_prime_formula_on_z", "nielsen_network", "return sigmoid(z) * (1 - sigmoid(z))", "return z * (1 - z)",
           "deriv_formula_on_z"),
    Mutant("nielsen_hidden_prime_missing", "nielsen_network", "delta = np.dot(self.weights[-k + 1].transpose(), delta) * sp",
           "delta = np.dot(self.weights[-k + 1].transpose(), delta)", "missing_act_deriv"),
    Mutant("nielsen_out_prime_missing", "nielsen_network",
           "delta = self.cost_derivative(activations[-1], y) * sigmoid_prime(zs[-1])",
           "delta = self.cost_derivative(activations[-1], y)", "missing_act_deriv"),
    Mutant("nielsen_cost_derivative_sign", "nielsen_network", "return output_activations - y",
           "return y - output_activations", "sign"),
    Mutant("nielsen_cost_derivative_x2", "nielsen_network", "return output_activations - y",
           "return 2 * (output_activations - y)", "scale_2"),
    Mutant("nielsen_not_averaged", "nielsen_network", "self.weights = [w - (eta / len(mini_batch)) * nw",
           "self.weights = [w - eta * nw", "scale_batch"),
    Mutant("nielsen_biases_not_averaged", "nielsen_network", "self.biases = [b - (eta / len(mini_batch)) * nb",
           "self.biases = [b - eta * nb", "scale_batch"),
    Mutant("nielsen_lr_missing", "nielsen_network", "self.weights = [w - (eta / len(mini_batch)) * nw",
           "self.weights = [w - (1 / len(mini_batch)) * nw", "lr_missing"),
    # nnfs_dense (course pack): Layer_Dense / Activation_ReLU / softmax + categorical cross-entropy / Optimizer_SGD
    Mutant("nnfs_relu_mask_missing", "nnfs_dense", "        self.dinputs[self.inputs <= 0] = 0\n", "",
           "missing_act_deriv"),
    Mutant("nnfs_relu_mask_on_output", "nnfs_dense", "self.dinputs[self.inputs <= 0] = 0",
           "self.dinputs[self.output < 0] = 0", "missing_act_deriv"),   # a ReLU output is never < 0
    Mutant("nnfs_not_divided_by_samples", "nnfs_dense",
           "        self.dinputs = self.dinputs / samples\n\n\nclass Optimizer_SGD", "\n\nclass Optimizer_SGD",
           "scale_batch"),
    Mutant("nnfs_spiral_samples_hardcoded", "nnfs_dense",
           "        self.dinputs = self.dinputs / samples\n\n\nclass Optimizer_SGD",
           "        self.dinputs = self.dinputs / 300\n\n\nclass Optimizer_SGD", "hardcoded_batch"),   # 3 x 100 points
    Mutant("nnfs_loss_sum", "nnfs_dense", "data_loss = np.mean(sample_losses)", "data_loss = np.sum(sample_losses)",
           "loss_not_grad"),
    Mutant("nnfs_log_eps", "nnfs_dense", "negative_log_likelihoods = -np.log(correct_confidences)",
           "negative_log_likelihoods = -np.log(correct_confidences + 1e-7)", "log_epsilon"),
    Mutant("nnfs_softmax_axis0", "nnfs_dense",
           "self.output = exp_values / np.sum(exp_values, axis=1, keepdims=True)",
           "self.output = exp_values / np.sum(exp_values, axis=0, keepdims=True)", "forward"),
    Mutant("nnfs_sgd_sign", "nnfs_dense", "layer.weights += -self.learning_rate * layer.dweights",
           "layer.weights += self.learning_rate * layer.dweights", "sign"),
    Mutant("nnfs_sgd_bias_lr_missing", "nnfs_dense", "layer.biases += -self.learning_rate * layer.dbiases",
           "layer.biases += -layer.dbiases", "lr_missing"),
    # leaky_layers: Dense -> LeakyReLU -> Dense -> Tanh -> Dense, sum of squares mean over the batch
    Mutant("leaky_tanh_no_square", "leaky_layers", "return grad * (1 - self.out ** 2)", "return grad * (1 - self.out)",
           "deriv_miswritten"),
    Mutant("leaky_tanh_on_z", "leaky_layers", "return grad * (1 - self.out ** 2)", "return grad * (1 - self.x ** 2)",
           "deriv_formula_on_z"),
    Mutant("leaky_relu_deriv_missing", "leaky_layers", "return np.where(self.x > 0, grad, self.alpha * grad)",
           "return grad", "missing_act_deriv"),
    Mutant("leaky_mse_no_2", "leaky_layers", "grad = 2 * (output - T) / len(X)", "grad = (output - T) / len(X)",
           "scale_half"),
    # softmax_probs: predict -> probabilities, dL/dP through the full softmax Jacobian, sigmoid hidden
    Mutant("softmax_jacobian_diagonal", "softmax_probs",
           "dZ2 = P * (dP - np.sum(dP * P, axis=1, keepdims=True))", "dZ2 = dP * P * (1 - P)", "softmax_diagonal"),
    Mutant("softmax_hidden_prime_at_activation", "softmax_probs", "dZ1 = dH * H * (1 - H)",
           "dZ1 = dH * sigmoid(H) * (1 - sigmoid(H))", "deriv_at_activation"),
    Mutant("softmax_loss_log_eps", "softmax_probs", "-np.sum(T * np.log(P)) / len(T)",
           "-np.sum(T * np.log(P + 1e-8)) / len(T)", "log_epsilon"),
    Mutant("softmax_no_batch_mean", "softmax_probs", "dP = -T / P / len(X)", "dP = -T / P", "scale_batch"),
]
