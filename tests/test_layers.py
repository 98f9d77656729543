"""Layer-level checks: single layers (a forward/backward function pair with a cache, or a class)
checked alone on seeded inputs and upstream gradients. The oracle (harness.core.layer_kinds) agrees
with torch autograd and finite differences for every kind; the built-in cs231n_layers pack passes
a correct layers.py and names each typical bug per layer; class-style layers (Deep Learning from
Scratch's Affine with .dW, .db) are driven too."""
from pathlib import Path

import numpy as np
import pytest

from harness.core.layer_kinds import LayerCase, kinds, role, validate
from harness.core.layer_math import layer_expected, layer_inputs
from harness.drive.assignment import AssignmentError, load
from harness.drive.problems import Verdict
from harness.grade.batch import grade

from .helpers import strict_pack

HERE = Path(__file__).parent / "course_nets"
LAYERS = (HERE / "cs231n_layers.py").read_text()


def _case(kind: str, seed: int = 3, dtype: str = "float64") -> LayerCase:
    return validate(LayerCase(kind, 5, 4, 3 if kind == "affine" else 0, seed, dtype,
                              (2, 2) if kind == "affine" else ()))


@pytest.mark.parametrize("kind", kinds())
def test_the_layer_oracle_agrees_with_finite_differences(kind):
    case = _case(kind)
    inputs = layer_inputs(case)
    expected = layer_expected(case, inputs)

    def objective(x):
        changed = dict(inputs, x=x)
        e = layer_expected(case, changed)
        return float(e["loss"]) if role(kind) == "loss" else float(np.sum(e["out"] * inputs["dout"]))

    x, h = inputs["x"].astype(np.float64), 1e-6
    fd = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        up, down = x.copy(), x.copy()
        up[i] += h
        down[i] -= h
        fd[i] = (objective(up) - objective(down)) / (2 * h)
    assert np.max(np.abs(fd - expected["dx"])) <= 1e-7 * max(1.0, np.max(np.abs(fd)))


@pytest.mark.parametrize("kind", kinds())
def test_the_layer_oracle_agrees_with_torch(kind, require_backend):
    require_backend("torch")
    import torch

    from harness.backends.torch_backend import ACTIVATIONS, LOSSES
    case = _case(kind)
    inputs = layer_inputs(case)
    expected = layer_expected(case, inputs)
    x = torch.tensor(inputs["x"], requires_grad=True)
    if role(kind) == "affine":
        w, b = (torch.tensor(inputs[k], requires_grad=True) for k in ("w", "b"))
        out = x.reshape(case.batch, -1) @ w + b
        (out * torch.tensor(inputs["dout"])).sum().backward()
        got = {"out": out, "dx": x.grad, "dw": w.grad, "db": b.grad}
    elif role(kind) == "activation":
        out = ACTIVATIONS[kind]()(x)
        (out * torch.tensor(inputs["dout"])).sum().backward()
        got = {"out": out, "dx": x.grad}
    else:
        loss = LOSSES[kind](x, torch.tensor(inputs["T"]))
        loss.backward()
        got = {"loss": loss, "dx": x.grad}
    for name, value in got.items():
        np.testing.assert_allclose(value.detach().numpy(), expected[name], rtol=1e-12, atol=1e-14, err_msg=name)


def test_the_correct_layers_pass_the_builtin_pack():
    g = grade(str(HERE / "cs231n_layers.py"), load("cs231n_layers"))
    assert g.passed and g.score == g.max_score, g.problem
    assert {c.case for c in g.checks} >= {"images as (N, 2, 3)", "float32", "large scores", "hidden"}


# one edit each: (old, new, the failing checks (short names), the cause named, the cases it fails in or None: all)
BUGS = {
    "dw_transposed": ("    dw = x.reshape(x.shape[0], -1).T.dot(dout)", "    dw = dout.T.dot(x.reshape(x.shape[0], -1))",
                      {"affine.dw"}, "transposed"),
    "db_not_summed": ("    db = np.sum(dout, axis=0)", "    db = dout", {"affine.db"}, "bias_not_reduced"),
    "dx_not_reshaped": ("    dx = dout.dot(w.T).reshape(x.shape)", "    dx = dout.dot(w.T)", {"affine.dx"}, "shape_only"),
    "relu_mask_missing": ("    dx = dout * (x > 0)", "    dx = dout", {"relu.dx"}, "missing_act_deriv"),
    "relu_zeroes_dout_in_place": ("    dx = dout * (x > 0)", "    dx = dout\n    dx[x <= 0] = 0", {"relu inputs"}, None),
    "softmax_not_averaged": ("    dx /= N\n", "", {"softmax_loss.dx"}, "scale_batch"),
    "softmax_unstabilized": ("    shifted = x - np.max(x, axis=1, keepdims=True)", "    shifted = x",
                             {"softmax_loss forward", "softmax_loss.dx"}, "overflow"),
    "softmax_sign": ("    dx /= N\n", "    dx /= -N\n", {"softmax_loss.dx"}, "sign"),
}


@pytest.mark.parametrize("bug", list(BUGS))
def test_each_layer_bug_fails_its_own_checks_and_is_named(bug, tmp_path):
    old, new, failing, cause = BUGS[bug]
    assert LAYERS.count(old) == 1, old
    (tmp_path / "layers.py").write_text(LAYERS.replace(old, new))
    g = grade(str(tmp_path / "layers.py"), load(strict_pack("cs231n_layers", tmp_path)))   # in-place, large scores scored
    assert g.status is Verdict.FAILED, g.problem
    assert {c.id.short for c in g.checks if not c.passed} == failing, g.problem
    if cause:
        assert g.diagnosis.primary == cause, g.diagnosis.message()
        assert all(f.hint for f in g.diagnosis.findings)
    else:
        assert "modified its input(s) dout in place" in "\n".join(c.output for c in g.checks if not c.passed)


DLFS_LAYERS = '''
import numpy as np


class Affine:
    def __init__(self, W, b):
        self.W, self.b = W, b

    def forward(self, x):
        self.x = x
        return np.dot(x, self.W) + self.b

    def backward(self, dout):
        dx = np.dot(dout, self.W.T)
        self.dW = np.dot(self.x.T, dout)
        self.db = np.sum(dout, axis=0)
        return dx


class Sigmoid:
    def forward(self, x):
        self.out = 1 / (1 + np.exp(-x))
        return self.out

    def backward(self, dout):
        return dout * (1.0 - self.out) * self.out
'''

DLFS_TOML = '''
[assignment]
name = "dlfs_layers"

[[layers]]
name = "Affine"
kind = "affine"
factory = "Affine"
init = { W = "w", b = "b" }
forward = { call = "forward", args = ["x"], returns = "out" }
backward = { call = "backward", args = ["dout"], returns = "dx" }
attrs = { dw = "dW", db = "db" }

[[layers]]
name = "Sigmoid"
kind = "sigmoid"
factory = "Sigmoid"
forward = { call = "forward", args = ["x"], returns = "out" }
backward = { call = "backward", args = ["dout"], returns = "dx" }

[[cases]]
name = "small"
batch = 3
sizes = [4, 2]
[[cases]]
name = "larger"
batch = 6
sizes = [5, 3]
seed = 1
'''


def test_class_style_layers_are_driven_and_their_bugs_named(tmp_path):
    (tmp_path / "a.toml").write_text(DLFS_TOML)
    (tmp_path / "layers.py").write_text(DLFS_LAYERS)
    assignment = load(str(tmp_path / "a.toml"))
    g = grade(str(tmp_path / "layers.py"), assignment)
    assert g.passed, g.problem
    (tmp_path / "layers.py").write_text(DLFS_LAYERS.replace("dout * (1.0 - self.out) * self.out",
                                                            "dout * (1.0 - self.out) * self.out * 0 + dout"))
    g = grade(str(tmp_path / "layers.py"), assignment)
    assert {c.id.short for c in g.checks if not c.passed} == {"Sigmoid.dx"}
    assert g.diagnosis.primary == "missing_act_deriv", g.diagnosis.message()


@pytest.mark.parametrize("edit, message", [
    (('kind = "sigmoid"', 'kind = "swish"'), "kind 'swish'; valid: affine, relu"),
    (('attrs = { dw = "dW", db = "db" }', 'attrs = { dw = "dW" }'), "missing db"),
    (('args = ["dout"], returns = "dx" }\nattrs', 'args = ["grad"], returns = "dx" }\nattrs'),
     "unknown argument(s) 'grad'; valid: x, w, b, dout, T, labels"),
    (("sizes = [4, 2]", "sizes = [4]"), "sizes = [inputs, outputs]"),
    (('init = { W = "w", b = "b" }', 'init = { W = "weights", b = "b" }'), "'weights'; init/set values"),
])
def test_broken_layer_assignments_are_refused_when_they_load(tmp_path, edit, message):
    old, new = edit
    assert DLFS_TOML.count(old) == 1, old
    (tmp_path / "a.toml").write_text(DLFS_TOML.replace(old, new))
    with pytest.raises(AssignmentError) as info:
        load(str(tmp_path / "a.toml"))
    assert message in str(info.value)
