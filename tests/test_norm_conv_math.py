"""harness/core/norm_conv_math.py, the reference math of CS231n assignment 2's layers, checked two ways:
central finite differences for every backward (numpy only, run everywhere) and torch autograd in
float64 for every forward and backward (skipped without torch). Shapes are non-square throughout.

Agreement measure: max |ours - theirs| / max |theirs| over the array (0 when both are 0).
"""
from __future__ import annotations

import numpy as np
import pytest

from harness.core import norm_conv_math as m

FD_RTOL = 1e-7
TORCH_RTOL = 1e-12
N, C, H, W = 3, 2, 5, 7
EPS = 1e-5


def rel_error(ours, expected) -> float:
    ours, expected = np.asarray(ours, dtype=np.float64), np.asarray(expected, dtype=np.float64)
    assert ours.shape == expected.shape, (ours.shape, expected.shape)
    scale = np.max(np.abs(expected)) if expected.size else 0.0
    diff = np.max(np.abs(ours - expected)) if expected.size else 0.0
    return 0.0 if diff == 0 else float(diff / scale) if scale else float("inf")


def numeric_grad(f, args: dict, name: str, dout, h: float = 1e-6) -> np.ndarray:
    """Central differences of sum(f(**args) * dout) with respect to args[name]."""
    args = {k: np.array(v, dtype=np.float64) if isinstance(v, np.ndarray) else v for k, v in args.items()}
    flat = args[name].reshape(-1)
    grad = np.zeros(flat.size)
    for i in range(flat.size):
        old = flat[i]
        flat[i] = old + h
        plus = np.sum(f(**args) * dout)
        flat[i] = old - h
        minus = np.sum(f(**args) * dout)
        flat[i] = old
        grad[i] = (plus - minus) / (2 * h)
    return grad.reshape(args[name].shape)


def distinct(rng, shape, gap: float = 0.1) -> np.ndarray:
    """Values at least `gap` apart (no ties or near-ties anywhere): for max pooling's differences."""
    size = int(np.prod(shape))
    return (rng.permutation(size) * gap + rng.uniform(0, gap / 10, size)).reshape(shape) - size * gap / 2


def svm_inputs(rng, n: int = 4, k: int = 5):
    """Scores whose margins are all at least 1e-3 away from 0 (the hinge's kink)."""
    for _ in range(100):
        x = rng.standard_normal((n, k))
        y = rng.integers(0, k, n)
        margins = x - x[np.arange(n), y][:, None] + 1
        margins[np.arange(n), y] = 1
        if np.min(np.abs(margins)) > 1e-3:
            return x, y
    raise AssertionError("no clear draw")


# --- finite differences: every backward ------------------------------------------------------
def _fd_batchnorm(rng):
    x, gamma, beta = rng.standard_normal((N, 4)) * 2 + 1, rng.standard_normal(4), rng.standard_normal(4)
    dout = rng.standard_normal((N, 4))
    f = lambda x, gamma, beta: m.batchnorm_forward(x, gamma, beta, "train", EPS)[0]  # noqa: E731
    args = {"x": x, "gamma": gamma, "beta": beta}
    return zip(("dx", "dgamma", "dbeta"), m.batchnorm_backward(dout, x, gamma, EPS), (
        numeric_grad(f, args, k, dout) for k in args), strict=True)


def _fd_layernorm(rng):
    x, gamma, beta = rng.standard_normal((N, 4)) * 2 + 1, rng.standard_normal(4), rng.standard_normal(4)
    dout = rng.standard_normal((N, 4))
    f = lambda x, gamma, beta: m.layernorm_forward(x, gamma, beta, EPS)  # noqa: E731
    args = {"x": x, "gamma": gamma, "beta": beta}
    return zip(("dx", "dgamma", "dbeta"), m.layernorm_backward(dout, x, gamma, EPS), (
        numeric_grad(f, args, k, dout) for k in args), strict=True)


def _fd_dropout(rng):
    x, dout = rng.standard_normal((N, 4, 5)), rng.standard_normal((N, 4, 5))
    mask = rng.random((N, 4, 5)) < 0.6
    out = []
    for p, p_is_keep in ((0.6, True), (0.4, False)):
        f = lambda x, p=p, keep=p_is_keep: m.dropout_forward(x, p, "train", mask, p_is_keep=keep)  # noqa: E731
        out.append((f"dx p={p} p_is_keep={p_is_keep}", m.dropout_backward(dout, mask, p, p_is_keep=p_is_keep),
                    numeric_grad(f, {"x": x}, "x", dout)))
    f = lambda x: m.dropout_forward(x, 0.6, "test", p_is_keep=True)  # noqa: E731
    out.append(("dx test", m.dropout_backward(dout, None, 0.6, "test", p_is_keep=True),
                numeric_grad(f, {"x": x}, "x", dout)))
    return out


CONV_SHAPES = [((4, C, 3, 2), 2, 1), ((3, C, 2, 3), 1, 0), ((2, C, 3, 3), 3, 2)]   # (w shape, stride, pad)


def _fd_conv(rng, w_shape=(4, C, 3, 2), stride=2, pad=1):
    x, w, b = rng.standard_normal((N, C, H, W)), rng.standard_normal(w_shape), rng.standard_normal(w_shape[0])
    dout = rng.standard_normal(m.conv_forward(x, w, b, stride, pad).shape)
    f = lambda x, w, b: m.conv_forward(x, w, b, stride, pad)  # noqa: E731
    args = {"x": x, "w": w, "b": b}
    return zip(("dx", "dw", "db"), m.conv_backward(dout, x, w, stride, pad), (
        numeric_grad(f, args, k, dout) for k in args), strict=True)


POOLS = [(2, 2, 2), (3, 2, 1), (2, 3, 2), (3, 3, 1)]   # (pool_height, pool_width, stride): the last three overlap


def _fd_max_pool(rng, pool=(3, 2, 1)):
    x = distinct(rng, (N, C, H, W))
    dout = rng.standard_normal(m.max_pool_forward(x, *pool).shape)
    f = lambda x: m.max_pool_forward(x, *pool)  # noqa: E731
    return [("dx", m.max_pool_backward(dout, x, *pool), numeric_grad(f, {"x": x}, "x", dout))]


def _fd_spatial_batchnorm(rng):
    x = rng.standard_normal((N, C, H, W)) * 3 - 1
    gamma, beta, dout = rng.standard_normal(C), rng.standard_normal(C), rng.standard_normal((N, C, H, W))
    f = lambda x, gamma, beta: m.spatial_batchnorm_forward(x, gamma, beta, "train", EPS)[0]  # noqa: E731
    args = {"x": x, "gamma": gamma, "beta": beta}
    return zip(("dx", "dgamma", "dbeta"), m.spatial_batchnorm_backward(dout, x, gamma, EPS), (
        numeric_grad(f, args, k, dout) for k in args), strict=True)


def _fd_spatial_groupnorm(rng, channels=6, groups=3, param_shape=None):
    shape = param_shape or (1, channels, 1, 1)
    x = rng.standard_normal((N, channels, H, W)) * 2 + 0.5
    gamma, beta = rng.standard_normal(shape), rng.standard_normal(shape)
    dout = rng.standard_normal(x.shape)
    f = lambda x, gamma, beta: m.spatial_groupnorm_forward(x, gamma, beta, groups, EPS)  # noqa: E731
    args = {"x": x, "gamma": gamma, "beta": beta}
    return zip(("dx", "dgamma", "dbeta"), m.spatial_groupnorm_backward(dout, x, gamma, groups, EPS), (
        numeric_grad(f, args, k, dout) for k in args), strict=True)


def _fd_svm(rng):
    x, y = svm_inputs(rng)
    return [("dx", m.svm_loss(x, y)[1], numeric_grad(lambda x: m.svm_loss(x, y)[0], {"x": x}, "x", 1.0))]


FD_CASES = {
    "batchnorm": _fd_batchnorm,
    "layernorm": _fd_layernorm,
    "dropout": _fd_dropout,
    **{f"conv w{ws[2]}x{ws[3]} stride{s} pad{p}": (lambda rng, ws=ws, s=s, p=p: _fd_conv(rng, ws, s, p))
       for ws, s, p in CONV_SHAPES},
    **{f"max_pool {ph}x{pw} stride{s}": (lambda rng, pool=(ph, pw, s): _fd_max_pool(rng, pool)) for ph, pw, s in POOLS},
    "spatial_batchnorm": _fd_spatial_batchnorm,
    "spatial_groupnorm G=3": _fd_spatial_groupnorm,
    "spatial_groupnorm G=2 (C,) params": lambda rng: _fd_spatial_groupnorm(rng, 4, 2, (4,)),
    "svm_loss": _fd_svm,
}


def fd_errors(name: str, seed: int = 0) -> dict[str, float]:
    return {label: rel_error(ours, numeric) for label, ours, numeric in FD_CASES[name](np.random.default_rng(seed))}


@pytest.mark.parametrize("name", list(FD_CASES))
def test_backward_matches_finite_differences(name):
    errors = fd_errors(name)
    assert max(errors.values()) <= FD_RTOL, errors


# --- torch autograd, float64: every forward and backward --------------------------------------
def _t(torch, a, grad: bool = False):
    return torch.tensor(np.asarray(a, dtype=np.float64), dtype=torch.float64, requires_grad=grad)


def _grads(*tensors):
    return [t.grad.numpy() for t in tensors]


def _torch_batchnorm(torch, rng, spatial: bool):
    shape, d = ((N, C, H, W), C) if spatial else ((N, 4), 4)
    x, gamma, beta = rng.standard_normal(shape) * 2 + 1, rng.standard_normal(d), rng.standard_normal(d)
    rm0, rv0, dout, momentum = rng.standard_normal(d), rng.uniform(0.5, 2, d), rng.standard_normal(shape), 0.9
    fwd = m.spatial_batchnorm_forward if spatial else m.batchnorm_forward
    bwd = m.spatial_batchnorm_backward if spatial else m.batchnorm_backward
    out, rm, rv = fwd(x, gamma, beta, "train", EPS, momentum, rm0, rv0)
    xt, gt, bt, rmt, rvt = _t(torch, x, True), _t(torch, gamma, True), _t(torch, beta, True), _t(torch, rm0), _t(torch, rv0)
    outt = torch.nn.functional.batch_norm(xt, rmt, rvt, gt, bt, training=True, momentum=1 - momentum, eps=EPS)
    outt.backward(_t(torch, dout))
    count = x.size // d
    # torch moves running_var with the unbiased variance: take its update back to the biased one
    torch_rv_biased = momentum * rv0 + (rvt.numpy() - momentum * rv0) * (count - 1) / count
    test_out = fwd(x, gamma, beta, "test", EPS, momentum, rm0, rv0)
    test_outt = torch.nn.functional.batch_norm(_t(torch, x), _t(torch, rm0), _t(torch, rv0), _t(torch, gamma),
                                               _t(torch, beta), training=False, eps=EPS)
    pairs = [("out", out, outt.detach().numpy()), ("running_mean", rm, rmt.numpy()),
             ("running_var", rv, torch_rv_biased), ("test out", test_out[0], test_outt.numpy()),
             ("test running stats unchanged", np.concatenate(test_out[1:]), np.concatenate([rm0, rv0]))]
    return pairs + list(zip(("dx", "dgamma", "dbeta"), bwd(dout, x, gamma, EPS), _grads(xt, gt, bt), strict=True))


def _torch_layernorm(torch, rng):
    x, gamma, beta = rng.standard_normal((N, 4)) * 2 + 1, rng.standard_normal(4), rng.standard_normal(4)
    dout = rng.standard_normal((N, 4))
    xt, gt, bt = _t(torch, x, True), _t(torch, gamma, True), _t(torch, beta, True)
    outt = torch.nn.functional.layer_norm(xt, (4,), gt, bt, eps=EPS)
    outt.backward(_t(torch, dout))
    return [("out", m.layernorm_forward(x, gamma, beta, EPS), outt.detach().numpy()),
            *zip(("dx", "dgamma", "dbeta"), m.layernorm_backward(dout, x, gamma, EPS), _grads(xt, gt, bt), strict=True)]


def _torch_dropout(torch, rng):
    x, dout = rng.standard_normal((N, 4, 5)), rng.standard_normal((N, 4, 5))
    mask = rng.random(x.shape) < 0.7
    xt = _t(torch, x, True)
    outt = xt * torch.tensor(mask) / 0.7
    outt.backward(_t(torch, dout))
    pairs = []
    for p, keep in ((0.7, True), (0.3, False)):
        pairs += [(f"out p={p} p_is_keep={keep}", m.dropout_forward(x, p, "train", mask, p_is_keep=keep),
                   outt.detach().numpy()),
                  (f"dx p={p} p_is_keep={keep}", m.dropout_backward(dout, mask, p, p_is_keep=keep), xt.grad.numpy())]
    return pairs + [("test out", m.dropout_forward(x, 0.7, "test", p_is_keep=True), x),
                    ("test dx", m.dropout_backward(dout, mask, 0.7, "test", p_is_keep=True), dout)]


def _torch_conv(torch, rng, w_shape, stride, pad):
    x, w, b = rng.standard_normal((N, C, H, W)), rng.standard_normal(w_shape), rng.standard_normal(w_shape[0])
    xt, wt, bt = _t(torch, x, True), _t(torch, w, True), _t(torch, b, True)
    outt = torch.nn.functional.conv2d(xt, wt, bt, stride=stride, padding=pad)
    dout = rng.standard_normal(tuple(outt.shape))
    outt.backward(_t(torch, dout))
    return [("out", m.conv_forward(x, w, b, stride, pad), outt.detach().numpy()),
            *zip(("dx", "dw", "db"), m.conv_backward(dout, x, w, stride, pad), _grads(xt, wt, bt), strict=True)]


def first_max_flat_index(x, pool_height, pool_width, stride):
    """Per window, the flat index (h * W + w) of its first maximum in row-major order: torch's indices."""
    out_h, out_w = 1 + (x.shape[2] - pool_height) // stride, 1 + (x.shape[3] - pool_width) // stride
    index = np.zeros(x.shape[:2] + (out_h, out_w), dtype=np.int64)
    for i in range(out_h):
        for j in range(out_w):
            window = x[:, :, i * stride:i * stride + pool_height, j * stride:j * stride + pool_width]
            k = window.reshape(x.shape[0], x.shape[1], -1).argmax(axis=-1)
            index[:, :, i, j] = (i * stride + k // pool_width) * x.shape[3] + j * stride + k % pool_width
    return index


def _torch_max_pool(torch, rng, pool, ties: bool):
    x = rng.integers(0, 3, (N, C, H, W)).astype(np.float64) if ties else distinct(rng, (N, C, H, W))
    xt = _t(torch, x, True)
    outt, index = torch.nn.functional.max_pool2d(xt, pool[:2], pool[2], return_indices=True)
    dout = rng.standard_normal(tuple(outt.shape))
    outt.backward(_t(torch, dout))
    return [("out", m.max_pool_forward(x, *pool), outt.detach().numpy()),
            ("dx", m.max_pool_backward(dout, x, *pool), xt.grad.numpy()),
            ("torch indices = first max", first_max_flat_index(x, *pool), index.numpy())]


def _torch_groupnorm(torch, rng, channels, groups, param_shape):
    x = rng.standard_normal((N, channels, H, W)) * 2 + 0.5
    gamma, beta, dout = rng.standard_normal(channels), rng.standard_normal(channels), rng.standard_normal(x.shape)
    xt, gt, bt = _t(torch, x, True), _t(torch, gamma, True), _t(torch, beta, True)
    outt = torch.nn.functional.group_norm(xt, groups, gt, bt, eps=EPS)
    outt.backward(_t(torch, dout))
    g, b = gamma.reshape(param_shape), beta.reshape(param_shape)
    dx, dgamma, dbeta = m.spatial_groupnorm_backward(dout, x, g, groups, EPS)
    assert dgamma.shape == dbeta.shape == param_shape
    return [("out", m.spatial_groupnorm_forward(x, g, b, groups, EPS), outt.detach().numpy()),
            *zip(("dx", "dgamma", "dbeta"), (dx, dgamma.ravel(), dbeta.ravel()), _grads(xt, gt, bt), strict=True)]


def _torch_svm(torch, rng):
    x, y = svm_inputs(rng, 6, 5)
    loss, dx = m.svm_loss(x, y)
    xt, yt = _t(torch, x, True), torch.tensor(y)
    builtin = torch.nn.functional.multi_margin_loss(xt, yt, p=1, margin=1.0) * x.shape[1]   # torch also divides by K
    builtin.backward()
    x2 = _t(torch, x, True)
    margins = torch.clamp(x2 - x2.gather(1, yt[:, None]) + 1, min=0)
    by_ops = (margins.sum() - len(y)) / len(y)      # the correct class contributes exactly max(0, 1) = 1 per row
    by_ops.backward()
    return [("loss (multi_margin_loss * K)", loss, builtin.item()), ("dx (multi_margin_loss)", dx, xt.grad.numpy()),
            ("loss (torch ops)", loss, by_ops.item()), ("dx (torch ops)", dx, x2.grad.numpy())]


TORCH_CASES = {
    "batchnorm": lambda torch, rng: _torch_batchnorm(torch, rng, False),
    "layernorm": _torch_layernorm,
    "dropout": _torch_dropout,
    **{f"conv w{ws[2]}x{ws[3]} stride{s} pad{p}": (lambda torch, rng, ws=ws, s=s, p=p: _torch_conv(torch, rng, ws, s, p))
       for ws, s, p in CONV_SHAPES},
    **{f"max_pool {ph}x{pw} stride{s}{' ties' if ties else ''}":
       (lambda torch, rng, pool=(ph, pw, s), ties=ties: _torch_max_pool(torch, rng, pool, ties))
       for ph, pw, s in POOLS for ties in (False, True)},
    "spatial_batchnorm": lambda torch, rng: _torch_batchnorm(torch, rng, True),
    "spatial_groupnorm G=3 (1,C,1,1) params": lambda torch, rng: _torch_groupnorm(torch, rng, 6, 3, (1, 6, 1, 1)),
    "spatial_groupnorm G=2 (C,) params": lambda torch, rng: _torch_groupnorm(torch, rng, 4, 2, (4,)),
    "svm_loss": _torch_svm,
}


def torch_errors(name: str, seed: int = 0) -> dict[str, float]:
    torch = pytest.importorskip("torch")
    return {label: rel_error(ours, theirs) for label, ours, theirs in TORCH_CASES[name](torch, np.random.default_rng(seed))}


@pytest.mark.parametrize("name", list(TORCH_CASES))
def test_matches_torch_float64(name):
    errors = torch_errors(name)
    assert max(errors.values()) <= TORCH_RTOL, errors


def test_torch_tie_inputs_really_tie():
    """The tie cases above mean something only if their windows hold several equal maxima."""
    x = np.random.default_rng(0).integers(0, 3, (N, C, H, W)).astype(np.float64)
    windows = m._pool_windows(x, 3, 2, 1)
    assert np.sum((windows == windows.max(axis=-1, keepdims=True)).sum(axis=-1) > 1) > 10


# --- the conventions, without torch -------------------------------------------------------------
def test_batchnorm_running_statistics_and_test_mode():
    rng = np.random.default_rng(3)
    x, gamma, beta = rng.standard_normal((N, 4)), rng.standard_normal(4), rng.standard_normal(4)
    rm0, rv0 = rng.standard_normal(4), rng.uniform(0.5, 2, 4)
    saved = [a.copy() for a in (x, rm0, rv0)]
    out, rm, rv = m.batchnorm_forward(x, gamma, beta, "train", EPS, 0.8, rm0, rv0)
    assert np.allclose(rm, 0.8 * rm0 + 0.2 * x.mean(axis=0), rtol=0, atol=1e-15)
    assert np.allclose(rv, 0.8 * rv0 + 0.2 * x.var(axis=0), rtol=0, atol=1e-15)       # biased variance
    assert np.allclose(out, gamma * (x - x.mean(0)) / np.sqrt(x.var(0) + EPS) + beta, rtol=0, atol=1e-14)
    test_out, rm_t, rv_t = m.batchnorm_forward(x, gamma, beta, "test", EPS, 0.8, rm0, rv0)
    assert np.array_equal(rm_t, rm0) and np.array_equal(rv_t, rv0)
    assert np.allclose(test_out, gamma * (x - rm0) / np.sqrt(rv0 + EPS) + beta, rtol=0, atol=1e-14)
    assert all(np.array_equal(a, b) for a, b in zip((x, rm0, rv0), saved, strict=True))
    _, rm_z, rv_z = m.batchnorm_forward(x, gamma, beta, "train")
    assert np.allclose(rm_z, 0.1 * x.mean(0)) and np.allclose(rv_z, 0.1 * x.var(0))   # missing stats start at 0
    with pytest.raises(ValueError):
        m.batchnorm_forward(x, gamma, beta, "eval")


def test_max_pool_ties_go_to_the_first_maximum_and_overlaps_accumulate():
    x = np.ones((1, 1, 3, 4))
    dx = m.max_pool_backward(np.ones((1, 1, 2, 3)), x, 2, 2, 1)
    # every window chooses its top-left corner; no window's top-left is in the last row or column
    assert np.array_equal(dx[0, 0], [[1, 1, 1, 0], [1, 1, 1, 0], [0, 0, 0, 0]])
    x = np.zeros((1, 1, 3, 3))
    x[0, 0, 1, 1] = 5                          # the centre is the maximum of all four 2x2 windows
    dx = m.max_pool_backward(np.array([[[[1.0, 2.0], [3.0, 4.0]]]]), x, 2, 2, 1)
    assert dx[0, 0, 1, 1] == 10 and np.count_nonzero(dx) == 1


def test_dropout_meanings_of_p():
    rng = np.random.default_rng(5)
    x, mask = rng.standard_normal((4, 6)), rng.random((4, 6)) < 0.25
    keep = m.dropout_forward(x, 0.25, "train", mask, p_is_keep=True)
    drop = m.dropout_forward(x, 0.75, "train", mask, p_is_keep=False)
    assert np.array_equal(keep, drop) and np.allclose(keep, np.where(mask, x / 0.25, 0))
    assert np.array_equal(m.dropout_forward(x, 0.25, "test", p_is_keep=True), x)
    with pytest.raises(ValueError):
        m.dropout_forward(x, 1.0, "train", mask, p_is_keep=False)      # drop everything: no keep probability
    with pytest.raises(ValueError):
        m.dropout_forward(x, 0.5, "train", p_is_keep=True)             # train mode needs the mask


def test_conv_output_size_floors_and_groupnorm_checks_groups():
    x, w = np.zeros((1, 1, 5, 7)), np.zeros((2, 1, 3, 2))
    assert m.conv_forward(x, w, np.zeros(2), 2, 1).shape == (1, 2, 3, 4)      # W: 1 + (7 + 2 - 2) // 2 = 4
    with pytest.raises(ValueError):
        m.spatial_groupnorm_forward(np.zeros((1, 6, 2, 2)), np.ones(6), np.zeros(6), 4)
    with pytest.raises(ValueError):
        m.spatial_groupnorm_forward(np.zeros((1, 6, 2, 2)), np.ones((6, 1)), np.zeros(6), 3)


def test_pure_float64_no_global_rng_inputs_untouched():
    rng = np.random.default_rng(9)
    x4 = rng.standard_normal((N, C, H, W)).astype(np.float32)
    x2, y = rng.standard_normal((N, 4)).astype(np.float32), np.array([0, 3, 1])
    saved, state = (x4.copy(), x2.copy()), np.random.get_state()[1].copy()
    results = [
        m.batchnorm_forward(x2, np.ones(4), np.zeros(4), "train")[0], m.layernorm_forward(x2, np.ones(4), np.zeros(4)),
        m.conv_forward(x4, np.ones((2, C, 3, 2), np.float32), np.zeros(2), 2, 1), m.max_pool_forward(x4, 3, 2, 1),
        m.spatial_batchnorm_forward(x4, np.ones(C), np.zeros(C), "train")[0],
        m.spatial_groupnorm_forward(x4, np.ones((1, C, 1, 1)), np.zeros((1, C, 1, 1)), 2),
        m.dropout_forward(x2, 0.5, "train", x2 > 0, p_is_keep=True), m.svm_loss(x2, y)[1],
    ]
    assert all(r.dtype == np.float64 for r in results)
    assert np.array_equal(np.random.get_state()[1], state)
    assert np.array_equal(saved[0], x4) and np.array_equal(saved[1], x2)
