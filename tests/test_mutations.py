"""Proof the check can fail: copies of the reference nets with one typical bug injected (a text
edit of the real source), run through the same adapter path. Each must fail, and the failing
gradients must be exactly the parameters the bug touches. Compared with the correct numpy
reference (always available), with finite differences, and with torch when installed."""
from pathlib import Path

import pytest

import reference_impls
from harness.check.matrix import FD, check_spec
from harness.drive.derive import run_adapter

from .helpers import explain, mutant_adapter, small_spec

REF_DIR = Path(reference_impls.__file__).parent

# id: (style, original line fragment, mutated fragment, parameters whose gradient is wrong)
MUTANTS = {
    "x2_gradient": ("sigmoid_mse", "self.W2 -= self.lr * (self.h.T @ delta2)",
                    "self.W2 -= 2 * self.lr * (self.h.T @ delta2)", {"W2"}),
    "transposed_weight_gradient": ("softmax_ce", "self.dW = self.x.T @ dout", "self.dW = dout.T @ self.x",
                                   {"W1", "W2"}),
    "sign_flip": ("xor", "self.w_out += lr * (self.hidden.T @ d_out)", "self.w_out -= lr * (self.hidden.T @ d_out)",
                  {"W2"}),
    "missing_sigmoid_derivative": ("sigmoid_mse", "delta1 = (delta2 @ self.W2.T) * self.h * (1 - self.h)",
                                   "delta1 = (delta2 @ self.W2.T)", {"W1", "b1"}),
    "missing_relu_derivative": ("relu_mse", "d_hidden = (d_output @ net.weights2.T) * (net.z1 > 0)",
                                "d_hidden = (d_output @ net.weights2.T)", {"W1", "b1"}),
    "bias_gradient_not_summed": ("softmax_ce", "self.db = dout.sum(axis=0)", "self.db = dout[0]", {"b1", "b2"}),
    "bias_gradient_averaged": ("xor", "self.b_hidden += lr * d_hidden.sum(axis=0, keepdims=True)",
                               "self.b_hidden += lr * d_hidden.mean(axis=0, keepdims=True)", {"b1"}),
}


def write_mutant(tmp_path, style, original, mutated) -> Path:
    source = (REF_DIR / f"{style}.py").read_text()
    assert source.count(original) == 1, f"mutation target not found once in {style}.py: {original!r}"
    path = tmp_path / f"{style}_mutant.py"
    path.write_text(source.replace(original, mutated))
    return path


def failing_gradients(row) -> set:
    return {m.name for m in row.mismatches if m.context.stage.startswith("gradients")}


@pytest.mark.parametrize("against", ["numpy", FD, "torch"])
@pytest.mark.parametrize("mutant", list(MUTANTS))
def test_mutant_is_caught_and_named(mutant, against, tmp_path, seed, require_backend):
    if against == "torch":
        require_backend("torch")
    style, original, mutated, wrong = MUTANTS[mutant]
    adapter = mutant_adapter(style, write_mutant(tmp_path, style, original, mutated))
    spec = small_spec(style, seed=seed)
    runners = {"mutant": lambda s, p, X, T: run_adapter(adapter, s, p, X, T, backend="mutant")}
    names = ["mutant"] if against == FD else [against, "mutant"]
    rows = [r for r in check_spec(spec, names, runners=runners) if r.expected == against]
    assert len(rows) == 1
    row = rows[0]
    assert row.status == "FAIL", explain(rows, seed)
    assert row.cells["gradients"].status == "FAIL"
    assert failing_gradients(row) == wrong, explain(rows, seed)


def test_transposed_gradient_on_nonsquare_layer_is_reported_as_a_shape_error(tmp_path, seed):
    style, original, mutated, _ = MUTANTS["transposed_weight_gradient"]
    adapter = mutant_adapter(style, write_mutant(tmp_path, style, original, mutated))
    runners = {"mutant": lambda s, p, X, T: run_adapter(adapter, s, p, X, T, backend="mutant")}
    rows = check_spec(small_spec(style, seed=seed), ["numpy", "mutant"], fd=False, runners=runners)
    shape_errors = [m for m in rows[0].mismatches if m.kind == "shape"]
    assert {m.name for m in shape_errors} == {"W1", "W2"}
    assert all("(transposed?)" in m.message() for m in shape_errors)


def test_transposed_gradient_on_square_layer_is_a_value_mismatch(tmp_path, seed):
    style, original, mutated, _ = MUTANTS["transposed_weight_gradient"]
    adapter = mutant_adapter(style, write_mutant(tmp_path, style, original, mutated))
    runners = {"mutant": lambda s, p, X, T: run_adapter(adapter, s, p, X, T, backend="mutant")}
    spec = small_spec(style, seed=seed).replace(sizes=(6, 6, 6))
    rows = check_spec(spec, ["numpy", "mutant"], fd=False, runners=runners)
    assert {(m.name, m.kind) for m in rows[0].mismatches if m.context.stage == "gradients"} == \
        {("W1", "values"), ("W2", "values")}
