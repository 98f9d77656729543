"""Nets in the styles courses ask for, with the losses and activations beyond the five reference
nets, graded through the sandbox: the correct one passes, each one-line bug fails on the
parameters it touches."""
from pathlib import Path

import pytest

from harness.drive.assignment import AssignmentError, load
from harness.grade.batch import grade

HERE = Path(__file__).parent / "course_nets"
BCE = (HERE / "bce_tanh.py").read_text()

# one-line bugs: name -> (line, replacement, the gradients that must fail, the cause the diagnosis names)
BCE_BUGS = {
    "sigmoid_slope_not_cancelled": ("        dz_out = (p - Y) / len(X)", "        dz_out = (p - Y) * p * (1 - p) / len(X)",
                                    {"W1", "b1", "W2", "b2"}, "slope_not_folded"),
    "tanh_slope_on_z": ("        dz_hidden = dh * (1 - self.h ** 2)",
                        "        dz_hidden = dh * (1 - (X @ self.params['hidden']['W'] + self.params['hidden']['b']) ** 2)",
                        {"W1", "b1"}, "deriv_formula_on_z"),
    "not_averaged": ("        dz_out = (p - Y) / len(X)", "        dz_out = p - Y", {"W1", "b1", "W2", "b2"}, "scale_batch"),
}


def test_the_correct_binary_classifier_passes_with_float32_and_hidden_cases(tmp_path):
    g = grade(str(HERE / "bce_tanh.py"), load(str(HERE / "bce_tanh.toml")))
    assert g.passed and g.score == g.max_score, g.problem


@pytest.mark.parametrize("bug", list(BCE_BUGS))
def test_each_bug_fails_the_gradients_it_touches(bug, tmp_path):
    old, new, touched, cause = BCE_BUGS[bug]
    assert BCE.count(old) == 1
    (tmp_path / "bce_tanh.py").write_text(BCE.replace(old, new))
    g = grade(str(tmp_path / "bce_tanh.py"), load(str(HERE / "bce_tanh.toml")))
    failed = {c.id.param for c in g.checks if c.id.param and not c.passed}
    assert g.status == "failed" and failed == touched, (g.status, failed, g.problem)
    assert g.diagnosis.primary == cause, g.problem


def test_a_float64_upcast_in_float32_code_is_named(tmp_path):
    """np.float64(len(X)) makes every gradient float64 in the float32 case: right values, wrong
    dtype, right in every float64 run: not 'no typical cause fits'."""
    old = "        dz_out = (p - Y) / len(X)"
    (tmp_path / "bce_tanh.py").write_text(BCE.replace(old, "        dz_out = (p - Y) / np.float64(len(X))"))
    g = grade(str(tmp_path / "bce_tanh.py"), load(str(HERE / "bce_tanh.toml")))
    failing_cases = {c.case for c in g.checks if not c.passed}
    assert failing_cases == {"three outputs, float32"}, failing_cases
    assert g.diagnosis.primary == "float64_upcast", g.problem
    assert "dtype float64, expected float32" in "\n".join(c.output for c in g.checks if not c.passed)


SCORES = (HERE / "two_layer_scores.py").read_text()


def test_one_method_returning_scores_or_loss_and_grads_is_graded():
    """loss(X) -> scores, loss(X, y, reg=0.0) -> (loss, grads): `returns = "loss,grads"` and a
    constant keyword argument; the loss it returns is the code's own and is scored."""
    g = grade(str(HERE / "two_layer_scores.py"), load(str(HERE / "two_layer_scores.toml")))
    assert g.passed and g.score == g.max_score, g.problem
    assert any(c.id.kind == "loss" for c in g.checks)
    assert not any("loss computed by the harness" in n for n in g.notes)


def test_its_loss_and_its_gradients_are_each_checked(tmp_path):
    bad = SCORES.replace("-np.log(probs[np.arange(n), y]).mean()", "-np.log(probs[np.arange(n), y]).sum()")
    assert bad != SCORES
    (tmp_path / "two_layer_scores.py").write_text(bad)
    g = grade(str(tmp_path / "two_layer_scores.py"), load(str(HERE / "two_layer_scores.toml")))
    assert {c.id.kind.value for c in g.checks if not c.passed} == {"loss"}, g.problem


# --- the course idioms: each correct net passes its own assignment, in the sandbox ------------------
# a .toml beside the net, or the built-in course pack of that name (its support modules shipped with it)
COURSE_ASSIGNMENTS = {"cs231n_two_layer": "cs231n_two_layer", "dlfs_two_layer": "dlfs_two_layer",
                      "dlfs_own_layers": "dlfs_two_layer", "dlai_deep_nn": "dlai_deep_nn", "dlai_l2": "dlai_l2.toml",
                      "nielsen_network": "nielsen_network", "nnfs_dense": "nnfs_dense",
                      "leaky_layers": "leaky_layers.toml", "softmax_probs": "softmax_probs.toml"}


def _course_assignment(net: str):
    ref = COURSE_ASSIGNMENTS[net]
    return load(str(HERE / ref) if ref.endswith(".toml") else ref)


@pytest.mark.parametrize("net", sorted(COURSE_ASSIGNMENTS))
def test_each_course_idiom_passes_its_assignment_with_full_marks(net):
    g = grade(str(HERE / f"{net}.py"), _course_assignment(net))
    assert g.passed and g.score == g.max_score, g.problem
    assert g.sandbox == "strict" or g.sandbox


def test_the_deep_learning_from_scratch_net_passes_the_builtin_with_its_epsilon_named():
    """The book's cross_entropy_error takes log(y + 1e-7): the built-in softmax_ce assignment (the
    book's style) accepts it, and the note names epsilon and its effect."""
    g = grade(str(HERE / "dlfs_own_layers.py"), load("softmax_ce"))
    assert g.passed and g.score == g.max_score, g.problem
    note = next(n for n in g.notes if "log(p + 1e-07)" in n)
    assert "which this assignment accepts" in note and "relative" in note


def test_the_epsilon_is_named_not_accepted_where_the_assignment_does_not_say_so(tmp_path):
    text = (HERE.parent.parent / "harness/drive/assignments/softmax_ce.toml").read_text()
    assert text.count("log_eps = 1e-7") == 1
    strict = tmp_path / "strict.toml"
    strict.write_text(text.replace("log_eps = 1e-7", "").replace('reference = "reference_impls.softmax_ce"', ""))
    g = grade(str(HERE / "dlfs_own_layers.py"), load(str(strict)))
    assert g.status == "failed"
    assert {c.id.kind.value for c in g.checks if not c.passed} == {"loss"}
    assert g.diagnosis.primary == "log_epsilon", g.diagnosis.message()
    assert "1e-07" in g.diagnosis.message() and "is not the function" not in g.diagnosis.message()


CS231N = (HERE / "cs231n_two_layer.py").read_text()


def test_an_l2_strength_of_the_case_reaches_the_code_through_kwargs(tmp_path):
    """kwargs = { reg = "$l2" }: each case's own strength (0.05, 0, 0.1 and 0.5) is what the code gets;
    a code that ignores its reg argument fails the cases with L2 and passes the one without."""
    (tmp_path / "cs231n_two_layer.py").write_text(CS231N.replace("def loss(self, X, y=None, reg=0.0):",
                                                                 "def loss(self, X, y=None, reg=0.0):\n        reg = 0.0"))
    assignment = load("cs231n_two_layer")
    g = grade(str(tmp_path / "cs231n_two_layer.py"), assignment)
    failed_cases = {c.case for c in g.checks if not c.passed}
    with_l2 = {c.name for c in assignment.cases if c.spec.l2}
    assert failed_cases == with_l2 and len(with_l2) < len(assignment.cases), failed_cases
    assert g.diagnosis.primary in ("l2_gradient_missing", "l2_loss"), g.diagnosis.message()


def test_parameters_changed_inside_the_gradients_call_are_reported(tmp_path):
    old = "        return loss, grads"
    assert CS231N.count(old) == 1
    step = "        self.params['W1'] -= 0.1 * grads['W1']\n"
    (tmp_path / "cs231n_two_layer.py").write_text(CS231N.replace(old, step + old))
    g = grade(str(tmp_path / "cs231n_two_layer.py"), load("cs231n_two_layer"))
    assert g.status == "failed"         # as the course's numerical gradient check would: W1 moves under it
    assert {c.id.short for c in g.checks if not c.passed} == {"W1"}
    assert any("loss changed the parameter(s) W1" in n for n in g.notes), g.notes
    assert "W1 (in loss)" in next(c.output for c in g.checks if not c.passed)
    assert g.diagnosis.primary == "params_changed", g.diagnosis.message()


def test_a_run_that_errors_does_not_fail_the_inputs_check_it_never_reached(tmp_path):
    old = "        return loss, grads"
    (tmp_path / "cs231n_two_layer.py").write_text(CS231N.replace(old, "        raise ValueError('not yet')\n" + old))
    g = grade(str(tmp_path / "cs231n_two_layer.py"), load("cs231n_two_layer"))
    inputs = [c for c in g.checks if c.id.kind.value == "inputs"]
    assert inputs and all(not c.checked and c.word == "n/a" and c.score == 0 for c in inputs)
    assert all(c.passed for c in g.checks if c.id.kind.value == "forward")


DLFS = (HERE / "dlfs_own_layers.py").read_text()
KEEPDIMS = ("self.db = np.sum(dout, axis=0)", "self.db = np.sum(dout, axis=0, keepdims=True)")


def test_bias_gradients_shaped_1_by_n_are_named_or_accepted_as_the_assignment_says(tmp_path):
    assert DLFS.count(KEEPDIMS[0]) == 1
    (tmp_path / "net.py").write_text(DLFS.replace(*KEEPDIMS))
    text = (HERE.parent.parent / "harness/drive/assignments/softmax_ce.toml").read_text()
    text = text.replace('reference = "reference_impls.softmax_ce"', "")
    exact, lenient = tmp_path / "exact.toml", tmp_path / "lenient.toml"
    exact.write_text(text)
    lenient.write_text(text.replace("[code]\n", '[code]\nbias_shapes = "lenient"\n'))
    g = grade(str(tmp_path / "net.py"), load(str(exact)))
    assert g.status == "failed" and g.diagnosis.primary == "shape_only", g.problem
    g = grade(str(tmp_path / "net.py"), load(str(lenient)))
    assert g.passed, g.problem
    assert any("b1 (1, " in n and "read as shape (n,)" in n for n in g.notes), g.notes


GRADIENT_ONLY = """
[assignment]
name = "gradient_only"
spec = "softmax_ce"
sizes = [5, 4, 3]
batch = 6
log_eps = 1e-7

[code]
factory = "TwoLayerNet"
init = { input_size = "sizes.0", hidden_size = "sizes.1", output_size = "sizes.2" }
gradients = { call = "gradient", args = ["X", "T"], returns = "grads" }

[code.params]
W1 = { path = "params.W1", layout = "in_out" }
b1 = { path = "params.b1", layout = "vec" }
W2 = { path = "params.W2", layout = "in_out" }
b2 = { path = "params.b2", layout = "vec" }

[scoring]
forward = 0
loss = 0
gradients = 8
"""


def test_code_described_by_its_gradients_call_alone_is_graded_on_its_gradients(tmp_path):
    """No forward call: no forward check, no loss check, gradients scored."""
    (tmp_path / "a.toml").write_text(GRADIENT_ONLY)
    g = grade(str(HERE / "dlfs_own_layers.py"), load(str(tmp_path / "a.toml")))
    assert g.passed and g.max_score == 8, g.problem
    assert {c.id.kind.value for c in g.checks} == {"gradient", "inputs"}
    bad = tmp_path / "bad.toml"
    bad.write_text(GRADIENT_ONLY.replace("forward = 0", "forward = 1"))
    with pytest.raises(AssignmentError, match="names no forward call"):
        load(str(bad))


@pytest.mark.parametrize("edit, message", [
    (('args = ["X", "T"], returns = "grads"', 'args = ["X", "T"], kwargs = { reg = "$l3" }, returns = "grads"'),
     "kwargs value '$l3'; values taken from the case: $l2, $lr"),
    (('args = ["X", "T"], returns = "grads"', 'args = ["X", "T", "caches"], returns = "grads"'),
     "unknown argument(s) 'caches'"),
    (('returns = "grads"', 'returns = "grads,grads"'), "returns = 'grads,grads'"),
    (("[code]\n", '[code]\ndata = "cols"\n'), "data = 'cols'"),
    (("log_eps = 1e-7", "log_eps = 1e-5"), "log_eps = 1e-05"),
    (("batch = 6", 'batch = 6\nl2 = 0.1\nl2_form = "full"'), "unknown L2 form 'full'; valid: lambda"),
    (("batch = 6", "batch = 6\nl2 = -1"), "the L2 strength must be a finite number >= 0"),
    (("batch = 6", "batch = 6\nl2_biases = 1"), "l2_biases must be true or false"),
    (('spec = "softmax_ce"', 'spec = "relu_mse"'), "the loss mse_mean_all takes no log"),
])
def test_broken_course_assignment_files_are_refused_when_they_load(tmp_path, edit, message):
    old, new = edit
    assert GRADIENT_ONLY.count(old) == 1
    (tmp_path / "a.toml").write_text(GRADIENT_ONLY.replace(old, new))
    with pytest.raises(AssignmentError) as info:
        load(str(tmp_path / "a.toml"))
    assert message in str(info.value)


NNFS = (HERE / "nnfs_dense.py").read_text()
KEEPDIMS_NNFS = "        self.dbiases = np.sum(dvalues, axis=0, keepdims=True)"


def test_a_gradient_its_layout_cannot_hold_costs_only_that_gradient(tmp_path):
    """nnfs keeps biases as (1, n); a (n,) dbiases used to be API MISMATCH for the whole case."""
    assert NNFS.count(KEEPDIMS_NNFS) == 1
    (tmp_path / "net.py").write_text(NNFS.replace(KEEPDIMS_NNFS, "        self.dbiases = np.sum(dvalues, axis=0)"))
    g = grade(str(tmp_path / "net.py"), load("nnfs_dense"))
    assert g.status == "failed"
    assert {c.id.short for c in g.checks if not c.passed} == {"b1", "b2"}
    assert g.diagnosis.primary == "shape_only", g.diagnosis.message()
    assert "which its layout 'row' cannot hold" in next(c.output for c in g.checks if not c.passed)


def test_an_update_that_raises_after_right_gradients_fails_only_the_step(tmp_path):
    (tmp_path / "net.py").write_text(NNFS.replace(KEEPDIMS_NNFS, "        self.dbiases = dvalues.copy()"))
    g = grade(str(tmp_path / "net.py"), load("nnfs_dense"))
    assert g.status == "failed"
    failed = {c.id.short for c in g.checks if not c.passed}
    assert failed == {"b1", "b2", "step"}, failed
    assert g.diagnosis.primary == "bias_not_reduced", g.diagnosis.message()
    step = next(c for c in g.checks if c.id.short == "step" and not c.passed)
    assert "the update raised after the gradients came back: ValueError" in step.output
    assert any("the step check fails, the gradients are graded" in n and str(tmp_path) in n for n in g.notes), g.notes


def test_a_factor_on_the_data_term_is_named_though_the_l2_term_is_right(tmp_path):
    """CS231n code that forgets `dscores /= N`: every gradient's data part is N times too large
    while its L2 term 2*reg*W is right; all four are named, not only the unregularized biases."""
    (tmp_path / "net.py").write_text(CS231N.replace("        dscores /= N\n", ""))
    g = grade(str(tmp_path / "net.py"), load("cs231n_two_layer"))
    finding = g.diagnosis.findings[0]
    assert finding.cause == "scale_batch" and set(finding.params) == {"W1", "b1", "W2", "b2"}, g.diagnosis.message()
