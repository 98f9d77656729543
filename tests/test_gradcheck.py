import numpy as np
import pytest

from harness import backends
from harness.check import gradcheck
from harness.core import net as model
from harness.core.params import init_params, make_batch
from harness.core.spec import SPECS, get_spec
from harness.drive.assignment import reference_adapter
from harness.drive.derive import run_adapter

from .helpers import small_spec


def reference_grads(spec):
    p = init_params(spec)
    X, T = make_batch(spec)
    return p, X, T, run_adapter(reference_adapter(spec.name), spec, p, X, T).grads


def test_small_nets_get_full_differences_and_large_ones_directions():
    small = small_spec("xor")
    assert gradcheck.check(small, *reference_grads(small), seed=0).mode == "full"
    big = get_spec("softmax_ce")
    assert gradcheck.check(big, *reference_grads(big), seed=0).mode == "directional"


@pytest.mark.parametrize("spec_name", ["relu_mse", "sigmoid_mse", "softmax_ce", "xor", "linear_221"])
def test_full_differences_agree_with_the_reference(spec_name, seed):
    spec = small_spec(spec_name, seed=seed)
    res = gradcheck.full(spec, *reference_grads(spec))
    for k in res.expected:
        assert np.max(np.abs(res.expected[k] - res.actual[k])) <= gradcheck.FD_RTOL * res.scales[k], (k, seed)


@pytest.mark.parametrize("block", [(slice(0, 2), slice(0, 2)), (slice(3, 5), slice(7, 9))])
def test_directions_catch_a_2x2_block_scaled_by_two(block, seed):
    spec = get_spec("softmax_ce").replace(seed=seed)
    p, X, T, g = reference_grads(spec)
    bad = dict(g)
    bad["W1"] = g["W1"].copy()
    bad["W1"][block] *= 2
    res = gradcheck.directional(spec, p, X, T, bad, seed=seed)
    errs = {k: np.max(np.abs(res.expected[k] - res.actual[k])) / res.scales[k] for k in res.expected}
    assert errs["W1"] > 100 * gradcheck.FD_RTOL
    assert all(errs[k] <= gradcheck.FD_RTOL for k in ("b1", "W2", "b2")), errs


def test_steps_never_cross_a_relu_kink():
    """A pre-activation right at a kink: the step shrinks instead of averaging two slopes."""
    spec = small_spec("relu_mse")
    p, X, T, g = reference_grads(spec)
    p = dict(p)
    z = X @ p["W1"] + p["b1"]
    p["b1"] = p["b1"] - z[0] + 1e-9 * np.sign(z[0] + 1e-300)   # sample 0 sits 1e-9 from every kink
    _, X2, T2, g2 = p, X, T, run_adapter(reference_adapter("relu_mse"), spec, p, X, T).grads
    res = gradcheck.full(spec, p, X2, T2, g2)
    for k in res.expected:
        err = np.max(np.abs(res.expected[k] - res.actual[k]))
        assert err <= gradcheck.FD_RTOL * res.scales[k] + res.noise[k], (k, err, res.noise[k])
    assert res.noise["b1"] > 1e3 * res.noise["b2"]      # the shrunken step is visible in the bound


@pytest.mark.parametrize("spec_name", ["relu_mse", "sigmoid_mse", "softmax_ce", "xor", "linear_221"])
def test_gradient_magnitudes_bound_the_gradients(spec_name, seed):
    """The sum of |terms| of each entry is at least |entry|: it can only widen a tolerance
    where terms cancel, never narrow it."""
    from harness.core import net as model
    spec = small_spec(spec_name, seed=seed)
    p, X, T, g = reference_grads(spec)
    mags = model.error_magnitudes(spec, p, X, T)
    for k in g:
        assert mags[k].shape == g[k].shape
        assert np.all(mags[k] >= np.abs(g[k]) * (1 - 1e-12) - 1e-15), k


@pytest.mark.parametrize("name", list(SPECS))
def test_model_backprop_the_graders_expected_value_agrees_with_fd_and_torch(name, seed):
    """net.backprop is what the grader calls right: prove it against finite differences and,
    when installed, torch, on small non-square sizes."""
    spec = small_spec(name, seed=seed)
    p = init_params(spec)
    X, T = make_batch(spec)
    g = model.backprop(spec, p, X, T)
    fd = gradcheck.check(spec, p, X, T, g, seed=seed)
    for k in g:
        assert np.max(np.abs(fd.expected[k] - fd.actual[k])) <= 1e-8 * max(fd.scales[k], 1e-12) + fd.noise[k], k
    if not backends.missing_reason("torch"):
        torch_grads = backends.load("torch").run(spec, p, X, T).grads
        for k in g:
            np.testing.assert_allclose(g[k], torch_grads[k], rtol=0, atol=1e-13 * np.max(np.abs(g[k])) + 1e-300)
