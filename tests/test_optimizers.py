"""K optimizer steps: the numpy reference implements each framework's convention and every
framework matches its own; across conventions the difference is a documented GAP with its size,
never a failure. Ids read [optimizer-backend-dtype]."""
import numpy as np
import pytest

from harness.check.matrix import check_spec
from harness.core import optim
from harness.core.spec import DTYPES, get_spec

from .helpers import explain, small_spec

OPTIMIZERS = list(optim.OPTIMIZERS)
FRAMEWORKS = ["torch", "keras", "jax", "keras-jax", "keras-torch", "tf-keras"]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("backend", FRAMEWORKS)
@pytest.mark.parametrize("optimizer", OPTIMIZERS)
def test_each_framework_matches_its_own_convention(optimizer, backend, dtype, seed, require_backend):
    require_backend(backend)
    spec = small_spec("relu_mse", dtype=dtype, seed=seed).replace(optimizer=optimizer, steps=3)
    rows = check_spec(spec, ["numpy", backend], fd=False)
    skipped = [c.reason for c in rows[0].cells.values() if c.status == "SKIP"]
    if skipped and all("cannot run float64 here" in reason for reason in skipped):
        pytest.skip(skipped[0])                 # a detected downgrade, reported with its fix (any other SKIP fails)
    assert rows[0].status == "PASS" and rows[0].cells["step"].status == "PASS", explain(rows, seed)


@pytest.mark.parametrize("optimizer", ["adam", "adamw"])
def test_torch_against_keras_adam_is_a_convention_gap_with_its_size(optimizer, seed, require_backend):
    require_backend("torch")
    require_backend("keras")
    spec = small_spec("sigmoid_mse", seed=seed).replace(optimizer=optimizer, steps=3)
    row = check_spec(spec, ["torch", "keras"], fd=False)[0]
    step = row.cells["step"]
    assert step.status == "GAP" and step.worst > 1e3 * step.allowed      # far beyond round-off: by design
    assert "eps" in step.reason and not row.mismatches and row.status == "PASS"
    assert any("step differs by" in n for n in row.notes)


def test_sgd_has_no_gap_between_torch_and_keras(seed, require_backend):
    require_backend("torch")
    require_backend("keras")
    row = check_spec(small_spec("xor", seed=seed).replace(steps=3), ["torch", "keras"], fd=False)[0]
    assert row.cells["step"].status == "PASS", explain([row], seed)


def test_momentum_conventions_agree_for_constant_lr_up_to_keras_float32_constants():
    """b = mu b + g; p -= lr b  equals  v = mu v - lr g; p += v  (keras-exact: to round-off)."""
    rng = np.random.default_rng(0)
    p = {"W": rng.standard_normal((4, 3))}
    grads = [{"W": rng.standard_normal((4, 3))} for _ in range(5)]
    out = {}
    for conv in optim.CONVENTIONS:
        o, q = optim.Optimizer("momentum", conv, 0.1), p
        for g in grads:
            q = o.step(q, g)
        out[conv] = q["W"]
    assert np.max(np.abs(out["torch"] - out["keras-exact"])) < 1e-15
    gap = np.max(np.abs(out["torch"] - out["keras"])) / np.max(np.abs(out["torch"]))
    assert 1e-10 < gap < 1e-7                  # float32(0.9) is 2.2e-9 from 0.9, compounded over 5 steps


def test_adam_conventions_differ_by_design():
    """eps after (torch) vs before (Keras) the bias correction: not equal for any equal eps."""
    p = {"W": np.array([1.0, -2.0, 0.5])}
    g = {"W": np.array([3e-4, -2e-5, 7e-3])}
    a, b = optim.Optimizer("adam", "torch", 0.1).step(p, g)["W"], optim.Optimizer("adam", "keras-exact", 0.1).step(p, g)["W"]
    assert np.max(np.abs(a - b)) > 1e-5


def test_unknown_optimizer_lists_valid_ones():
    from harness.core.spec import SpecError
    with pytest.raises(SpecError, match="unknown optimizer 'rmsprop'; valid: sgd, momentum, nesterov, adam, adamw"):
        get_spec("xor").replace(optimizer="rmsprop")
