"""Verdicts that say what happened and nothing more: each was wrong before (a correct net
failed, the harness's own crash or a probe's blamed on the student, a constructor mismatch
called an error in the harness)."""
from pathlib import Path

import harness
import reference_impls
from harness.drive.assignment import load
from harness.grade.batch import grade

from . import misbehaving

REF = Path(reference_impls.__file__).parent


def test_per_sample_training_under_a_batch_mean_loss_is_not_failed(tmp_path):
    """linear_221 steps once per row; with the loss averaged over the batch, the batch's gradient
    is the mean of the rows' (it was taken as their sum: correct code failed at batch > 1)."""
    text = (Path(harness.__file__).parent / "drive" / "assignments" / "linear_221.toml").read_text()
    assert 'spec = "linear_221"' in text
    toml = tmp_path / "mean.toml"
    toml.write_text(text.replace('spec = "linear_221"', 'spec = "linear_221"\nloss = "half_sse_mean_batch"')
                    .replace('reference = "reference_impls.linear_221"', ""))
    g = grade(str(REF / "linear_221.py"), load(str(toml)))
    assert g.passed, g.problem
    assert any("per sample" in n for n in g.notes)


def test_a_constructor_that_rejects_the_assignments_arguments_is_an_api_mismatch(tmp_path):
    source = misbehaving.XOR.replace("def __init__(self, n_in=2, n_hidden=4, n_out=1, seed=0, dtype=np.float64):",
                                     "def __init__(self, inputs, hidden, outputs):\n"
                                     "        n_in, n_hidden, n_out, seed, dtype = inputs, hidden, outputs, 0, np.float64")
    assert source != misbehaving.XOR
    (tmp_path / "sub.py").write_text(source)
    g = grade(str(tmp_path / "sub.py"), load("xor"))
    assert g.status == "api", g.problem
    assert "cannot be called with the assignment's arguments n_in=, n_hidden=, n_out=" in g.problem


def test_a_forward_output_of_the_wrong_shape_is_the_codes_wrong_shape(tmp_path):
    """forward returns its output transposed, and backward runs its own forward pass, so the code
    itself never trips over it: the harness used to crash computing with that output and blame
    the student for a line of its own."""
    source = misbehaving.XOR.replace("        return sigmoid(self.hidden @ self.w_out + self.b_out)\n",
                                     "        return sigmoid(self.hidden @ self.w_out + self.b_out).T\n")
    source = source.replace("        error = y - y_hat\n", "        y_hat = self.forward(X).T\n        error = y - y_hat\n")
    (tmp_path / "sub.py").write_text(source)
    g = grade(str(tmp_path / "sub.py"), load("xor"))
    assert g.status == "shape", g.problem
    assert "forward returned an output of shape (1, 4), expected (4, 1)" in g.problem


def test_an_unscored_probe_that_raises_is_a_note_not_the_verdict(tmp_path):
    """xor's cases have batches 4, 6 and 5; the first diagnosis probe has batch 3."""
    source = misbehaving.XOR.replace("        error = y - y_hat\n",
                                     "        if len(X) == 3:\n            raise ValueError('three rows')\n"
                                     "        error = y - y_hat\n")
    (tmp_path / "sub.py").write_text(source)
    g = grade(str(tmp_path / "sub.py"), load("xor"))
    assert g.passed and g.score == g.max_score, g.problem
    assert any("unscored diagnosis run" in n and "three rows" in n for n in g.notes), g.notes


def test_a_loss_the_harness_computes_is_never_scored_as_the_students():
    """xor's code reports no loss: no loss check at all (it would grade the harness's own
    computation from the output), and the report says how the loss was had."""
    g = grade(str(REF / "xor.py"), load("xor"))
    assert g.passed and not any(c.id.kind == "loss" for c in g.checks)
    assert any("loss computed by the harness" in n for n in g.notes)


def test_an_assignment_scoring_a_loss_the_code_does_not_report_is_refused(tmp_path):
    import pytest

    from harness.drive.assignment import AssignmentError
    text = (Path(__file__).parent / "custom_assignment" / "hw3.toml").read_text()
    line = 'loss = { call = "loss", args = ["output", "T"], returns = "loss" }\n'
    assert text.count(line) == 1
    (tmp_path / "a.toml").write_text(text.replace(line, ""))
    with pytest.raises(AssignmentError, match=r"\[scoring\] loss = 1, but the code reports no loss"):
        load(str(tmp_path / "a.toml"))


def test_a_gradient_dict_missing_one_key_costs_only_that_key(tmp_path):
    text = (REF / "softmax_ce.py").read_text()
    old = '"W2": self.layers["Affine2"].dW, "b2": self.layers["Affine2"].db,'
    assert text.count(old) == 1, "the reference's gradient() changed: update this test"
    (tmp_path / "sub.py").write_text(text.replace(old, '"W2": self.layers["Affine2"].dW,'))
    g = grade(str(tmp_path / "sub.py"), load("softmax_ce"))
    failed = {(c.id.kind.value, c.id.param) for c in g.checks if not c.passed}
    assert failed == {("gradient", "b2")}, failed
    assert any("returned no 'b2'" in n for n in g.notes), g.notes


def test_a_bias_gradient_right_but_shaped_1_by_n_is_named_as_such(tmp_path):
    text = (REF / "softmax_ce.py").read_text()
    old = '"W1": self.layers["Affine1"].dW, "b1": self.layers["Affine1"].db,'
    assert text.count(old) == 1
    (tmp_path / "sub.py").write_text(text.replace(old, '"W1": self.layers["Affine1"].dW, '
                                                       '"b1": self.layers["Affine1"].db.reshape(1, -1),'))
    g = grade(str(tmp_path / "sub.py"), load("softmax_ce"))
    assert {c.id.param for c in g.checks if not c.passed} == {"b1"}
    assert g.diagnosis.primary == "shape_only" and "right values, wrong shape" in g.problem, g.problem


def test_a_loss_call_that_raises_keeps_the_forward_credit(tmp_path):
    text = (REF / "softmax_ce.py").read_text()
    old = "    def loss(self, x, t):\n"
    assert text.count(old) == 1
    (tmp_path / "sub.py").write_text(text.replace(old, old + "        raise RuntimeError('loss not written yet')\n"))
    g = grade(str(tmp_path / "sub.py"), load("softmax_ce"))
    passed = {c.id.kind.value for c in g.checks if c.passed}
    assert "forward" in passed and "loss" not in passed, [(c.name, c.passed) for c in g.checks]
    assert "loss not written yet" in g.problem
