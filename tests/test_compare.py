import numpy as np
import pytest

from harness.core.compare import Context, compare
from harness.core.tolerance import RTOL, Tolerance, default_tolerance

CTX = Context("relu_mse", "float64", 7, "gradients", "torch", "yours")


def test_equal_maps_pass_and_report_zero_error():
    a = {"W1": np.arange(6.0).reshape(2, 3)}
    c = compare(a, {"W1": a["W1"].copy()}, CTX, default_tolerance("float64"))
    assert c.passed and c.worst == 0.0


def test_structure_is_checked_before_values_and_all_mismatches_are_reported():
    exp = {"W1": np.zeros((2, 3)), "b1": np.zeros(3), "W2": np.ones((3, 1))}
    act = {"W1": np.zeros((3, 2)), "W2": np.ones((3, 1)) * 2, "extra": np.zeros(1)}
    c = compare(exp, act, CTX, default_tolerance("float64"))
    kinds = {(m.name, m.kind) for m in c.mismatches}
    assert kinds == {("b1", "missing"), ("extra", "unexpected"), ("W1", "shape"), ("W2", "values")}
    assert "(transposed?)" in next(m for m in c.mismatches if m.kind == "shape").message()


def test_message_names_everything_a_reader_needs():
    exp = {"W1": np.full((4, 5), 0.5)}
    act = {"W1": exp["W1"].copy()}
    act["W1"][2, 3] += 1e-3
    (m,) = compare(exp, act, CTX, default_tolerance("float64")).mismatches
    text = m.message()
    for part in ("relu_mse", "float64", "seed 7", "gradients", "torch vs yours", "W1 (4, 5)",
                 "Mismatched elements: 1 / 20 (5.0%)", "at index (2, 3)", "allowed", "Tolerance:"):
        assert part in text, (part, text)
    assert m.max_abs == pytest.approx(1e-3)
    assert m.allowed == pytest.approx(RTOL["float64"] * 0.5)


def test_tolerance_scales_with_magnitude_of_expected():
    for scale in (1e-6, 1.0, 1e6):
        exp = {"g": np.array([1.0, -2.0]) * scale}
        ok = {"g": exp["g"] * (1 + 5 * np.finfo(float).eps)}
        bad = {"g": exp["g"] * (1 + 1e-10)}
        assert compare(exp, ok, CTX, default_tolerance("float64")).passed
        assert not compare(exp, bad, CTX, default_tolerance("float64")).passed


def test_nonfinite_positions_are_compared_separately():
    exp = {"g": np.array([1.0, np.nan, np.inf, 3.0])}
    assert compare(exp, {"g": exp["g"].copy()}, CTX, Tolerance(1e-12)).passed
    act = {"g": np.array([1.0, 2.0, -np.inf, 3.0])}
    c = compare(exp, act, CTX, Tolerance(1e-12))
    (m,) = c.mismatches
    assert m.kind == "nonfinite" and "2 / 4 positions" in m.message() and "index (1,)" in m.message()


def test_dtype_is_part_of_the_structure():
    exp = {"g": np.ones(3)}
    c = compare(exp, {"g": np.ones(3, dtype=np.float32)}, CTX, default_tolerance("float64"), check_dtype="float64")
    assert [m.kind for m in c.mismatches] == ["dtype"]


def test_zero_tolerance_demands_exact_equality():
    exp = {"W": np.array([[0.1, 0.2]])}
    assert compare(exp, {"W": exp["W"].copy()}, CTX, Tolerance(0.0)).passed
    assert not compare(exp, {"W": np.nextafter(exp["W"], 1)}, CTX, Tolerance(0.0)).passed
