import subprocess
import sys

import numpy as np
import pytest

from harness import backends
from harness.check.matrix import check_spec
from harness.core.spec import get_spec


def test_import_harness_imports_no_framework():
    code = ("import sys, harness, harness.cli, harness.check.matrix, harness.check.report, harness.grade.batch, "
            "harness.train.lockstep, harness.assertion, harness.pytest_plugin; "
            "bad = [m for m in ('torch', 'tensorflow', 'keras', 'jax') if m in sys.modules]; "
            "print(bad); sys.exit(1 if bad else 0)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_unknown_backend_lists_valid_names():
    with pytest.raises(backends.UnknownBackend, match="valid backends: numpy, torch, keras"):
        backends.info("tf")


def test_a_backend_that_loads_weights_in_the_wrong_layout_is_reported_as_a_layout_error(monkeypatch, require_backend):
    """Square layers, so the wrong layout raises no shape error: only the read-back catches it."""
    require_backend("torch")
    import torch

    tb = backends.load("torch")

    def load_without_transpose(model, params):
        with torch.no_grad():
            for i, lin in enumerate((m for m in model if isinstance(m, torch.nn.Linear)), start=1):
                lin.weight.copy_(torch.from_numpy(params[f"W{i}"]))   # bug: torch keeps (out, in)
                lin.bias.copy_(torch.from_numpy(params[f"b{i}"]))

    monkeypatch.setattr(tb, "load", load_without_transpose)
    spec = get_spec("relu_mse").replace(sizes=(6, 6, 6), batch=3)
    rows = check_spec(spec, ["numpy", "torch"], fd=False)
    assert rows[0].status == "ERROR"
    assert "layout error" in rows[0].cells["forward"].reason
    assert {m.name for m in rows[0].mismatches} == {"W1", "W2"}
    assert all(m.context.stage == "load" for m in rows[0].mismatches)


@pytest.mark.parametrize("backend", ["torch", "keras"])
def test_backends_return_plain_numpy_in_the_canonical_layout(backend, require_backend):
    require_backend(backend)
    from harness.core.params import init_params, make_batch
    spec = get_spec("softmax_ce").replace(sizes=(7, 5, 3), batch=4)
    run = backends.load(backend).run(spec, init_params(spec), *make_batch(spec))
    assert {k: v.shape for k, v in run.grads.items()} == {"W1": (7, 5), "b1": (5,), "W2": (5, 3), "b2": (3,)}
    assert all(isinstance(v, np.ndarray) for v in (run.output, run.loss, *run.grads.values(), *run.stepped.values()))
    assert run.output.shape == (4, 3) and run.loss.shape == ()


def test_float64_downgrade_is_a_skip_with_the_fix_not_a_mismatch(require_backend):
    """Keras on torch computes float64 matmuls in float32 and casts back: the arrays say float64,
    the probe of keras.ops.matmul does not."""
    require_backend("keras-torch")
    rows = [r for r in check_spec(get_spec("xor"), ["numpy", "keras-torch"]) if r.actual == "keras-torch"]
    reasons = {c.reason for r in rows for c in r.cells.values() if c.status == "SKIP"}
    assert len(rows) == 2 and all(r.status == "SKIP" for r in rows)
    assert any("keras-torch cannot run float64 here: Keras on torch computes float64 inputs in float32" in x
               for x in reasons)
    assert all(r.status == "PASS" for r in check_spec(get_spec("xor").replace(dtype="float32"), ["numpy", "keras-torch"]))


def test_keras_on_jax_without_x64_is_reported_as_a_downgrade(monkeypatch, require_backend):
    require_backend("keras-jax")
    from harness.backends.isolated import Isolated
    child = Isolated("keras-jax", dict(backends.info("keras-jax").child_env, JAX_ENABLE_X64="0"))
    previous = backends.substitute("keras-jax", child)
    try:
        rows = check_spec(get_spec("xor"), ["numpy", "keras-jax"], fd=False)
    finally:
        child.close()
        backends.substitute("keras-jax", previous)
    reason = rows[0].cells["forward"].reason
    assert rows[0].status == "SKIP" and "keras-jax cannot run float64 here: set JAX_ENABLE_X64=1" in reason


def test_harness_env_prints_every_backend():
    proc = subprocess.run([sys.executable, "-m", "harness", "env"], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    for name in backends.BACKENDS:
        assert f"\n{name:12} " in proc.stdout
    if not backends.missing_reason("torch"):
        assert "torch_tf32_matmul" in proc.stdout
    if not backends.missing_reason("jax"):
        assert "jax_enable_x64 True" in proc.stdout


# Losses and activations added as one record each plus one line per framework backend.
ADDED = [("mse_mean_all", ("tanh", "tanh"), 3, "sgd"), ("sse_mean_batch", ("tanh", "linear"), 3, "sgd"),
         ("sse_sum_batch", ("leaky_relu", "sigmoid"), 2, "momentum"),
         ("ce_probs_mean_batch", ("relu", "softmax"), 4, "sgd"), ("ce_probs_mean_batch", ("tanh", "softmax"), 3, "adam"),
         ("bce_mean_batch", ("tanh", "sigmoid"), 1, "sgd"), ("bce_mean_batch", ("leaky_relu", "sigmoid"), 3, "sgd")]
# The L2 term in each form (weights only, or the biases too): (loss, form, biases, optimizer).
L2_ADDED = [("softmax_ce_mean_batch", "lambda", False, "sgd"), ("bce_mean_batch", "half_lambda_over_n", False, "sgd"),
            ("half_sse_mean_batch", "half_lambda", True, "momentum"), ("ce_probs_mean_batch", "lambda", True, "adam")]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("loss, activations, outputs, optimizer", ADDED)
def test_an_added_loss_or_activation_agrees_in_every_framework(loss, activations, outputs, optimizer, dtype):
    """The frameworks (forward, loss, gradients, steps), finite differences and the spec's own
    math (the grader's expected gradient) agree on each added loss and activation."""
    spec = get_spec("relu_mse").replace(loss=loss, activations=activations, sizes=(6, 5, outputs), batch=4,
                                        dtype=dtype, seed=11, optimizer=optimizer, steps=2 if optimizer != "sgd" else 1)
    _frameworks_and_spec_math_agree(spec)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("loss, form, biases, optimizer", L2_ADDED)
def test_the_l2_term_agrees_in_every_framework(loss, form, biases, optimizer, dtype):
    outputs, last = (3, {"softmax_ce_mean_batch": "linear", "ce_probs_mean_batch": "softmax"}.get(loss, "sigmoid"))
    spec = get_spec("relu_mse").replace(loss=loss, activations=("tanh", last), sizes=(6, 5, outputs), batch=4,
                                        dtype=dtype, seed=12, optimizer=optimizer, steps=2 if optimizer != "sgd" else 1,
                                        l2=0.3, l2_form=form, l2_biases=biases)
    _frameworks_and_spec_math_agree(spec)


def _frameworks_and_spec_math_agree(spec):
    available = [b for b in ("torch", "keras", "jax") if not backends.missing_reason(b)]
    if len(available) < 2:
        pytest.skip(f"needs two of torch, keras, jax; installed: {available or 'none'}")
    dtype = spec.dtype
    rows = check_spec(spec, available)
    assert rows and all(r.status == "PASS" for r in rows), [(r.expected, r.actual, r.status) for r in rows]
    from harness.core import net
    from harness.core.compare import Context, compare
    from harness.core.params import init_params, make_batch
    from harness.core.tolerance import default_tolerance, gradient_tolerance
    params, (X, T) = init_params(spec), make_batch(spec)
    run = backends.load(available[0]).run(spec, params, X, T)
    mags = net.error_magnitudes(spec, params, X, T)
    comparison = compare(net.backprop(spec, params, X, T), run.grads,
                         Context(spec.name, dtype, spec.seed, "gradients", "spec math", available[0]),
                         gradient_tolerance(spec, default_tolerance(dtype), mags, run))
    assert comparison.passed, "\n".join(m.message() for m in comparison.mismatches)
