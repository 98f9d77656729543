"""Nets in the styles courses ask for, with the losses and activations beyond the five reference
nets, graded through the sandbox: the correct one passes, each one-line bug fails on the
parameters it touches."""
from pathlib import Path

import pytest

from harness.drive.assignment import load
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
    assert g.diagnosis.primary == "float32_only", g.problem
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
