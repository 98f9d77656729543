import numpy as np
import pytest

from harness.core.params import LayoutError, init_params, make_batch, store, to_canonical
from harness.core.spec import SPECS, SpecError, get_spec


def test_specs_have_the_documented_architectures_and_explicit_reductions():
    assert {n: (s.sizes, s.activations, s.loss) for n, s in SPECS.items()} == {
        "relu_mse": ((784, 100, 10), ("relu", "linear"), "mse_mean_all"),
        "sigmoid_mse": ((784, 500, 10), ("sigmoid", "sigmoid"), "half_sse_mean_batch"),
        "xor": ((2, 4, 1), ("sigmoid", "sigmoid"), "half_sse_sum_batch"),
        "softmax_ce": ((784, 50, 10), ("relu", "linear"), "softmax_ce_mean_batch"),
        "linear_221": ((2, 2, 1), ("linear", "linear"), "half_sse_sum_batch"),
    }


@pytest.mark.parametrize("override, message", [
    ({"sizes": (7, 0, 3)}, "every layer size must be >= 1"),
    ({"batch": 0}, "batch must be >= 1"),
    ({"lr": float("nan")}, "finite number > 0"),
    ({"lr": float("inf")}, "finite number > 0"),
    ({"lr": -0.1}, "finite number > 0"),
    ({"dtype": "float16"}, "dtype must be one of float64, float32"),
    ({"sizes": (7, 5, 3, 2)}, "3 layers need 3 activations"),
])
def test_bad_overrides_raise_a_clear_error(override, message):
    with pytest.raises(SpecError, match=message):
        get_spec("relu_mse").replace(**override)


def test_unknown_spec_lists_valid_names():
    with pytest.raises(SpecError, match="valid specs: relu_mse, sigmoid_mse, xor, softmax_ce, linear_221"):
        get_spec("relu")


def test_params_and_batches_are_seeded_and_canonical():
    spec = get_spec("relu_mse").replace(sizes=(7, 5, 3), seed=3)
    p1, p2 = init_params(spec), init_params(spec)
    assert all(np.array_equal(p1[k], p2[k]) for k in p1)
    assert {k: v.shape for k, v in p1.items()} == {"W1": (7, 5), "b1": (5,), "W2": (5, 3), "b2": (3,)}
    assert all(np.any(v != 0) for v in p1.values())           # biases are non-zero on purpose
    assert not np.array_equal(init_params(spec.replace(seed=4))["W1"], p1["W1"])
    X, T = make_batch(spec)
    assert X.shape == (32, 7) and T.shape == (32, 3) and np.all(T.sum(axis=1) == 1)
    assert init_params(spec.replace(dtype="float32"))["W1"].dtype == np.float32


@pytest.mark.parametrize("w_layout, b_layout, make", [
    ("in_out", "vec", lambda W, b: (W.copy(), b.copy())),
    ("out_in", "row", lambda W, b: (W.T.copy(), b.reshape(1, -1).copy())),
    ("in_out", "col", lambda W, b: (W.copy(), b.reshape(-1, 1).copy())),
])
def test_layouts_round_trip(w_layout, b_layout, make):
    rng = np.random.default_rng(0)
    W, b = rng.standard_normal((4, 3)), rng.standard_normal(3)
    sW, sb = make(np.zeros_like(W), np.zeros_like(b))
    store(w_layout, sW, W)
    store(b_layout, sb, b)
    assert np.array_equal(to_canonical(w_layout, sW), W) and np.array_equal(to_canonical(b_layout, sb), b)


def test_packed_layout_keeps_bias_in_column_zero():
    W, b = np.arange(6.0).reshape(3, 2), np.array([10.0, 20.0])     # (in=3, out=2)
    packed = np.zeros((2, 4))
    store("packed_w", packed, W)
    store("packed_b", packed, b)
    assert np.array_equal(packed, [[10, 0, 2, 4], [20, 1, 3, 5]])
    assert np.array_equal(to_canonical("packed_w", packed), W) and np.array_equal(to_canonical("packed_b", packed), b)


def test_layout_shape_errors_are_clear():
    with pytest.raises(LayoutError, match=r"expected shape \(3, 4\), found \(4, 3\)"):
        store("in_out", np.zeros((4, 3)), np.zeros((3, 4)))
    with pytest.raises(LayoutError, match="expects shape \\(1, n\\)"):
        to_canonical("row", np.zeros(3))


@pytest.mark.parametrize("loss, activations, message", [
    ("bce_mean_batch", ("relu", "linear"), "binary cross-entropy needs a sigmoid output layer, got linear"),
    ("ce_probs_mean_batch", ("relu", "sigmoid"), "cross-entropy on probabilities needs a softmax output layer"),
    ("mse_mean_all", ("relu", "softmax"), "softmax is only an output layer, under a loss written for it: "
                                          "ce_probs_mean_batch"),
    ("ce_probs_mean_batch", ("softmax", "softmax"), "softmax is only an output layer"),
])
def test_a_loss_and_its_output_layer_must_fit(loss, activations, message):
    with pytest.raises(SpecError, match=message):
        get_spec("relu_mse").replace(loss=loss, activations=activations)
