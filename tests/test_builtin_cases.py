"""Bugs the built-in assignments used to miss, each caught now by a case made for it and named by
the diagnosis: a float64 upcast in a float32 run (float32 cases, the arrays put in by the
harness in the case's dtype), an exp that overflows at large logits, classes counted from the
labels, rows of a per-sample train() that interfere."""
from pathlib import Path

import reference_impls
from harness.drive.assignment import load
from harness.drive.problems import Verdict
from harness.grade.batch import grade

REF = Path(reference_impls.__file__).parent


def _edit(tmp_path: Path, style: str, old: str, new: str) -> Path:
    text = (REF / f"{style}.py").read_text()
    assert text.count(old) == 1, old
    path = tmp_path / f"{style}.py"
    path.write_text(text.replace(old, new))
    return path


def _failed(g) -> set:
    return {c.case for c in g.checks if not c.passed}


def test_code_without_a_dtype_argument_runs_the_float32_case():
    """write = "replace": the harness puts float32 arrays where the code keeps its weights."""
    g = grade(str(REF / "xor.py"), load("xor"))
    assert g.passed and "float32" in {c.case for c in g.checks}


def test_a_constructor_without_dtype_still_gets_float32_weights(tmp_path):
    path = _edit(tmp_path, "xor", "dtype=np.float64", "dtype=None")
    text = path.read_text()
    assert "dtype=None" in text
    g = grade(str(path), load("xor"))
    assert g.passed, g.problem


def test_a_float64_constant_in_float32_code_is_named_an_upcast(tmp_path):
    path = _edit(tmp_path, "sigmoid_mse", "self.z1 = X @ self.W1 + self.b1",
                 "self.z1 = X @ self.W1 + self.b1 + np.zeros(self.b1.shape)")
    g = grade(str(path), load("sigmoid_mse"))
    assert g.status is Verdict.FAILED and _failed(g) == {"float32"}, (g.status, _failed(g))
    assert g.diagnosis.primary == "float64_upcast", g.diagnosis.message()
    assert "forward pass differs" not in g.diagnosis.message()


def test_an_unstabilized_softmax_is_named_at_large_logits(tmp_path):
    path = _edit(tmp_path, "softmax_ce", "shifted = x - x.max(axis=1, keepdims=True)", "shifted = x")
    g = grade(str(path), load("softmax_ce"))
    assert g.status is Verdict.FAILED and _failed(g) == {"large logits"}, (g.status, _failed(g))
    assert g.diagnosis.primary == "overflow", g.diagnosis.message()
    assert "subtract each row's maximum" in g.diagnosis.message()


def test_classes_counted_from_the_labels_are_caught_by_a_batch_missing_a_class(tmp_path):
    path = _edit(tmp_path, "softmax_ce", "        self.t = t\n",
                 "        labels = t.argmax(axis=1)\n        self.t = np.eye(labels.max() + 1)[labels]\n")
    g = grade(str(path), load("softmax_ce"))
    assert g.status is not Verdict.PASSED and "a class absent" in _failed(g), (g.status, _failed(g))
    assert any("take the number of classes from the net" in n for n in g.notes), g.notes


def test_rows_that_interfere_within_one_train_call_are_caught(tmp_path):
    """The adapter used to hand train() one row at a time; now it also hands all rows in one
    call and compares that with the same code's one-row calls chained."""
    old = ("            for row in rows:\n                x, y = row[:-1], row[-1]\n"
           "                h = self.hidden_values(x)\n")
    new = ("            h = None\n            for row in rows:\n                x, y = row[:-1], row[-1]\n"
           "                h = self.hidden_values(x) if h is None else h\n")
    g = grade(str(_edit(tmp_path, "linear_221", old, new)), load("linear_221"))
    assert g.status is Verdict.FAILED
    assert {c.id.kind.value for c in g.checks if not c.passed} == {"step"}
    assert _failed(g) == {c.name for c in load("linear_221").cases if c.spec.batch > 1}
    assert g.diagnosis.primary == "rows_interfere", g.diagnosis.message()
