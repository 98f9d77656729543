"""Correct code is never flagged over many steps, at any learning rate and in saturation: a
derandomized sweep over every built-in spec and every added loss/activation family, every
optimizer at 1-3 steps, lr 10^U(-3, 0), weights scaled x1 to x1000, both dtypes and every
installed backend. No row may FAIL or ERROR; where a comparison cannot tell right from wrong
(saturated probabilities, gradients lost in an update's round-off, finite differences that
cannot resolve a sharp loss) the row is INCONCLUSIVE with its reason, never PASS.
benchmarks/tolerance_sweep.py runs the same sweep at any length (2,000 configurations: docs/tolerances.md)."""
import warnings

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness import backends
from harness.check.matrix import Status, check_spec
from harness.core.optim import OPTIMIZERS
from harness.core.spec import SPECS, get_spec

from .helpers import explain

FAMILIES = [("sse_mean_batch", "tanh", "linear"), ("sse_sum_batch", "leaky_relu", "sigmoid"),
            ("ce_probs_mean_batch", "relu", "softmax"), ("bce_mean_batch", "tanh", "sigmoid"),
            ("mse_mean_all", "tanh", "tanh"), ("softmax_ce_mean_batch", "leaky_relu", "linear")]
NETS = [*SPECS, *FAMILIES]
INSTALLED = ["numpy", *(b for b in ("torch", "keras", "jax") if not backends.missing_reason(b))]


@settings(max_examples=120, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(net=st.sampled_from(NETS), sizes=st.lists(st.integers(1, 12), min_size=3, max_size=3),
       batch=st.integers(1, 16), seed=st.integers(0, 2**31), dtype=st.sampled_from(["float64", "float32"]),
       lr_exp=st.floats(-3, 0), optimizer=st.sampled_from(OPTIMIZERS), steps=st.integers(1, 3),
       scale=st.sampled_from([1.0, 3.0, 10.0, 100.0, 1000.0]))
def test_correct_code_is_never_flagged(net, sizes, batch, seed, dtype, lr_exp, optimizer, steps, scale):
    common = {"batch": batch, "seed": seed, "dtype": dtype, "lr": 10 ** lr_exp, "optimizer": optimizer,
              "steps": steps, "init_scale": scale}
    n_in, n_hidden, n_out = sizes
    if isinstance(net, str):
        base = get_spec(net)
        spec = base.replace(sizes=(n_in, n_hidden, 1 if base.sizes[-1] == 1 else max(n_out, 2)), **common)
    else:
        loss, hidden, output = net
        spec = get_spec("relu_mse").replace(loss=loss, activations=(hidden, output),
                                            sizes=(n_in, n_hidden, max(n_out, 2)), **common)
    rows = check_spec(spec, INSTALLED)
    bad = [r for r in rows if r.status in (Status.FAIL, Status.ERROR)]
    assert not bad, f"{spec.label()} lr {spec.lr!r}\n" + explain(bad, seed)
    for r in rows:
        for cell in r.cells.values():
            assert cell.status is not Status.INCONCLUSIVE or cell.reason, "an INCONCLUSIVE says why"


def test_saturated_probabilities_are_inconclusive_not_passed(require_backend):
    require_backend("torch")
    spec = get_spec("relu_mse").replace(loss="bce_mean_batch", activations=("tanh", "sigmoid"), sizes=(4, 5, 2),
                                        batch=3, init_scale=1000.0)
    rows = check_spec(spec, ["numpy", "torch"])
    assert all(r.cells["gradients"].status is Status.INCONCLUSIVE for r in rows)
    assert "output probabilities saturate" in rows[0].cells["gradients"].reason


@pytest.mark.parametrize("loss,activations,dtype", [("ce_probs_mean_batch", ("tanh", "softmax"), "float32"),
                                                     ("bce_mean_batch", ("tanh", "sigmoid"), "float32"),
                                                     ("bce_mean_batch", ("relu", "sigmoid"), "float64")])
def test_saturation_raises_no_numpy_warning(loss, activations, dtype):
    """Probabilities of exactly 0 or 1 make the loss infinite in float64 itself: the spec math
    says so through the INCONCLUSIVE row, not through numpy's RuntimeWarnings."""
    spec = get_spec("relu_mse").replace(loss=loss, activations=activations, sizes=(10, 12, 9), batch=8,
                                        init_scale=1000.0, dtype=dtype, steps=2, optimizer="nesterov")
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        rows = check_spec(spec, ["numpy"])
    assert rows and all(r.status is not Status.FAIL for r in rows), explain(rows, spec.seed)


@pytest.mark.parametrize("args", [
    ("sigmoid_mse", (6, 11, 4), 15, 779077, 0.02591, "adam", 3),      # Adam: numpy~framework failed by 1.1-6.6x
    ("linear_221", (4, 9, 1), 13, 127471, 0.545, "momentum", 2),      # parameters growing 100x over the steps
])
def test_the_false_alarms_the_issue_found_are_gone(args, require_backend):
    require_backend("torch")
    name, sizes, batch, seed, lr, optimizer, steps = args
    for dtype in ("float64", "float32"):
        spec = get_spec(name).replace(sizes=sizes, batch=batch, seed=seed, lr=lr, optimizer=optimizer, steps=steps,
                                      dtype=dtype)
        rows = check_spec(spec, INSTALLED)
        assert all(r.status in (Status.PASS, Status.GAP) for r in rows), explain(rows, seed)


def test_a_delta_overflowing_behind_a_dead_relu_is_inconclusive(require_backend):
    """Found by the long sweep: float32, weights x1000, lr 0.45, 3 SGD steps. By the third step
    every ReLU is dead and the parameters are finite (~1e24), but the delta before the ReLU's zero
    slope is 3e40: inf in float32, and inf * 0 is NaN in numpy and Keras, while torch and jax mask
    it. Which one a framework gives is arbitrary: INCONCLUSIVE, not a FAIL between correct code."""
    require_backend("torch")
    spec = get_spec("relu_mse").replace(sizes=(5, 6, 4), batch=3, dtype="float32", seed=967836827, optimizer="sgd",
                                        steps=3, lr=0.4492893636088136, init_scale=1000.0)
    rows = check_spec(spec, INSTALLED)
    assert not [r for r in rows if r.status is Status.FAIL], explain(rows, spec.seed)
    assert any(r.cells["step"].status is Status.INCONCLUSIVE and "beyond float32's range" in r.cells["step"].reason
               for r in rows)


def test_gradients_below_the_dtypes_range_are_inconclusive(require_backend):
    """Found by the long sweep: xor with weights x1000 saturates every sigmoid, and the gradients
    (~1e-304) lie where denormals are flushed by some frameworks and kept by others: torch and
    Keras differed by 100% of such an entry. They are INCONCLUSIVE with the reason, never FAIL."""
    require_backend("torch")
    spec = get_spec("xor").replace(sizes=(4, 11, 1), batch=10, dtype="float64", seed=1615869692, optimizer="momentum",
                                   steps=3, lr=0.01578110095365807, init_scale=1000.0)
    rows = check_spec(spec, INSTALLED)
    assert not [r for r in rows if r.status is Status.FAIL], explain(rows, spec.seed)
    assert any("underflow in float64" in (r.cells["gradients"].reason or "") for r in rows)


def test_an_output_below_float32s_range_is_compared_by_what_it_can_resolve(require_backend):
    """Found by the long sweep (seed 32): a saturated sigmoid output of 4.4e-39 (a float32
    subnormal) where Keras and jax flush it to 0. The forward allowance includes what underflow
    can change, so the frameworks agree; the gradients, all below the range, are INCONCLUSIVE."""
    require_backend("torch")
    spec = get_spec("xor").replace(sizes=(8, 8, 1), batch=1, dtype="float32", seed=492175612, optimizer="adam",
                                   lr=0.00647657790895407, init_scale=100.0)
    rows = check_spec(spec, INSTALLED)
    assert not [r for r in rows if r.status is Status.FAIL], explain(rows, spec.seed)
    assert all(r.cells["forward"].status is Status.PASS for r in rows if r.expected != "fd")
