"""The grader's own reference math for the layers of CS231n assignment 2: batch, layer, spatial
batch and spatial group normalization, inverted dropout, convolution, max pooling and the
multiclass SVM loss, forward and backward.

Pure functions in float64: inputs are read as float64 arrays and never changed, every result is a
new array, nothing here draws random numbers (dropout takes its keep-mask from the caller). Each
function states its convention; where a framework differs from the course, the docstring says how.
Shapes follow the course: x (N, D) for the vector layers, x (N, C, H, W) for the spatial ones.
"""
from __future__ import annotations

import numpy as np

__all__ = [
    "batchnorm_forward", "batchnorm_backward", "layernorm_forward", "layernorm_backward",
    "dropout_forward", "dropout_backward", "conv_forward", "conv_backward",
    "max_pool_forward", "max_pool_backward", "spatial_batchnorm_forward", "spatial_batchnorm_backward",
    "spatial_groupnorm_forward", "spatial_groupnorm_backward", "svm_loss",
]

MODES = ("train", "test")


def _f64(a) -> np.ndarray:
    return np.asarray(a, dtype=np.float64)


def _check_mode(mode: str) -> None:
    if mode not in MODES:
        raise ValueError(f"mode must be 'train' or 'test', not {mode!r}")


def _normalized(x: np.ndarray, axes, eps: float) -> tuple[np.ndarray, np.ndarray]:
    """(x_hat, 1 / sqrt(var + eps)), mean and biased variance taken over `axes` (kept as size 1)."""
    mean = x.mean(axis=axes, keepdims=True)
    inv_std = 1.0 / np.sqrt(x.var(axis=axes, keepdims=True) + eps)
    return (x - mean) * inv_std, inv_std


def _normalized_backward(g: np.ndarray, x_hat: np.ndarray, inv_std: np.ndarray, axes) -> np.ndarray:
    """d loss / d x of x_hat = (x - mean) / sqrt(var + eps) over `axes`, given g = d loss / d x_hat."""
    return inv_std * (g - g.mean(axis=axes, keepdims=True) - x_hat * (g * x_hat).mean(axis=axes, keepdims=True))


# --- batch normalization (N, D) ---------------------------------------------------------------
def batchnorm_forward(x, gamma, beta, mode: str, eps: float = 1e-5, momentum: float = 0.9,
                      running_mean=None, running_var=None):
    """Batch normalization of x (N, D) per feature; gamma, beta (D,).

    Returns (out, new_running_mean, new_running_var); the running arrays passed in are not changed
    (missing ones start at zeros (D,), as the course's bn_param.get does).

    train: sample mean and BIASED sample variance (divide by N) over the batch, eps inside the sqrt:
        out = gamma * (x - mean) / sqrt(var + eps) + beta
        new_running_mean = momentum * running_mean + (1 - momentum) * mean
        new_running_var  = momentum * running_var  + (1 - momentum) * var      (var biased)
    test: out = gamma * (x - running_mean) / sqrt(running_var + eps) + beta; running stats unchanged.

    The update is the one CS231n's layers.py docstring gives (momentum 0.9 keeps 90% of the old value).
    torch's batch_norm calls the other weight momentum (torch momentum = 1 - this momentum) and
    moves its running variance with the UNBIASED variance (divide by N - 1); its output and gradients
    use the biased one, as here.
    """
    _check_mode(mode)
    x, gamma, beta = _f64(x), _f64(gamma), _f64(beta)
    d = x.shape[1]
    rm = np.zeros(d) if running_mean is None else _f64(running_mean).copy()
    rv = np.zeros(d) if running_var is None else _f64(running_var).copy()
    if mode == "test":
        return gamma * (x - rm) / np.sqrt(rv + eps) + beta, rm, rv
    x_hat, _ = _normalized(x, 0, eps)
    new_rm = momentum * rm + (1.0 - momentum) * x.mean(axis=0)
    new_rv = momentum * rv + (1.0 - momentum) * x.var(axis=0)
    return gamma * x_hat + beta, new_rm, new_rv


def batchnorm_backward(dout, x, gamma, eps: float = 1e-5):
    """Train-mode batch normalization backward: (dx (N, D), dgamma (D,), dbeta (D,)).

    The statistics are recomputed from x exactly as batchnorm_forward's train mode does (biased
    variance, eps inside the sqrt); the mean and variance are functions of x, so dx carries their
    terms: dx = gamma / sqrt(var + eps) * (dout - mean_N(dout) - x_hat * mean_N(dout * x_hat)).
    """
    dout, x, gamma = _f64(dout), _f64(x), _f64(gamma)
    x_hat, inv_std = _normalized(x, 0, eps)
    dx = _normalized_backward(dout * gamma, x_hat, inv_std, 0)
    return dx, (dout * x_hat).sum(axis=0), dout.sum(axis=0)


# --- layer normalization (N, D) ---------------------------------------------------------------
def layernorm_forward(x, gamma, beta, eps: float = 1e-5):
    """Layer normalization of x (N, D): each ROW normalized over its D features (mean and biased
    variance of the row, eps inside the sqrt), then out = gamma * x_hat + beta with gamma, beta (D,).
    No running statistics; train and test are the same. Returns out (N, D)."""
    x, gamma, beta = _f64(x), _f64(gamma), _f64(beta)
    x_hat, _ = _normalized(x, 1, eps)
    return gamma * x_hat + beta


def layernorm_backward(dout, x, gamma, eps: float = 1e-5):
    """Layer normalization backward: (dx (N, D), dgamma (D,), dbeta (D,)); statistics per row,
    recomputed from x as layernorm_forward does; dgamma, dbeta summed over the batch."""
    dout, x, gamma = _f64(dout), _f64(x), _f64(gamma)
    x_hat, inv_std = _normalized(x, 1, eps)
    dx = _normalized_backward(dout * gamma, x_hat, inv_std, 1)
    return dx, (dout * x_hat).sum(axis=0), dout.sum(axis=0)


# --- inverted dropout --------------------------------------------------------------------------
def _keep_probability(p: float, p_is_keep: bool) -> float:
    keep = float(p) if p_is_keep else 1.0 - float(p)
    if not 0.0 < keep <= 1.0:
        raise ValueError(f"keep probability must be in (0, 1], got {keep} (p={p}, p_is_keep={p_is_keep})")
    return keep


def dropout_forward(x, p: float, mode: str, mask=None, *, p_is_keep: bool):
    """INVERTED dropout of x (any shape) with an explicit boolean keep-mask (True = kept).

    p_is_keep says what p means: True for CS231n 2017 and later ("We keep each neuron output with
    probability p"), False for the earlier years, where p is the probability of DROPPING a unit.
    With p_keep = p if p_is_keep else 1 - p:
        train: out = x * mask / p_keep   (mask broadcast to x; kept units scaled up, dropped ones 0)
        test:  out = x (a copy); the mask is ignored.
    The mask is the caller's: this function draws nothing. (The course's own mask is
    (rand < p) / p, scale folded in; here mask is the boolean part, the scale applied here.)
    """
    _check_mode(mode)
    x = _f64(x)
    keep = _keep_probability(p, p_is_keep)
    if mode == "test":
        return x.copy()
    if mask is None:
        raise ValueError("dropout_forward in train mode needs the keep-mask")
    return x * np.asarray(mask, dtype=bool) / keep


def dropout_backward(dout, mask, p: float, mode: str = "train", *, p_is_keep: bool):
    """Inverted dropout backward: train dx = dout * mask / p_keep, test dx = dout (a copy); p and
    p_is_keep mean what they mean in dropout_forward."""
    _check_mode(mode)
    dout = _f64(dout)
    keep = _keep_probability(p, p_is_keep)
    if mode == "test":
        return dout.copy()
    return dout * np.asarray(mask, dtype=bool) / keep


# --- convolution -------------------------------------------------------------------------------
def _out_size(size: int, window: int, stride: int, pad: int = 0) -> int:
    span = size + 2 * pad - window
    if stride < 1 or span < 0:
        raise ValueError(f"window {window} with pad {pad} does not fit size {size} (stride {stride})")
    return 1 + span // stride


def _window_slices(offset_h: int, offset_w: int, out_h: int, out_w: int, stride: int):
    """The (.., out_h, out_w) positions every window's element (offset_h, offset_w) comes from."""
    return (slice(offset_h, offset_h + stride * (out_h - 1) + 1, stride),
            slice(offset_w, offset_w + stride * (out_w - 1) + 1, stride))


def conv_forward(x, w, b, stride: int = 1, pad: int = 0):
    """Convolution (cross-correlation, as CS231n and torch's conv2d) of x (N, C, H, W) with filters
    w (F, C, HH, WW) and bias b (F,): zero padding of `pad` on both sides of H and W, then
        out[n, f, i, j] = b[f] + sum_{c, k, l} x_pad[n, c, i*stride + k, j*stride + l] * w[f, c, k, l]
    with H' = 1 + (H + 2 pad - HH) // stride and W' = 1 + (W + 2 pad - WW) // stride (floor, as torch;
    rows and columns that no whole window reaches are ignored). Returns out (N, F, H', W')."""
    x, w, b = _f64(x), _f64(w), _f64(b)
    n, c, h, wd = x.shape
    f, cw, hh, ww = w.shape
    if cw != c:
        raise ValueError(f"x has {c} channels, w expects {cw}")
    out_h, out_w = _out_size(h, hh, stride, pad), _out_size(wd, ww, stride, pad)
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    out = np.zeros((n, f, out_h, out_w))
    for k in range(hh):
        for m in range(ww):
            rows, cols = _window_slices(k, m, out_h, out_w, stride)
            out += np.einsum("nchw,fc->nfhw", xp[:, :, rows, cols], w[:, :, k, m])
    return out + b[None, :, None, None]


def conv_backward(dout, x, w, stride: int = 1, pad: int = 0):
    """Convolution backward for conv_forward's convention: (dx (N, C, H, W), dw (F, C, HH, WW), db (F,)).
    Every input position collects (+=) the gradient of every window it falls in; the padding's share
    is dropped."""
    dout, x, w = _f64(dout), _f64(x), _f64(w)
    _, _, h, wd = x.shape
    _, _, hh, ww = w.shape
    out_h, out_w = dout.shape[2], dout.shape[3]
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    dxp = np.zeros_like(xp)
    dw = np.zeros_like(w)
    for k in range(hh):
        for m in range(ww):
            rows, cols = _window_slices(k, m, out_h, out_w, stride)
            dxp[:, :, rows, cols] += np.einsum("nfhw,fc->nchw", dout, w[:, :, k, m])
            dw[:, :, k, m] = np.einsum("nfhw,nchw->fc", dout, xp[:, :, rows, cols])
    return dxp[:, :, pad:pad + h, pad:pad + wd], dw, dout.sum(axis=(0, 2, 3))


# --- max pooling -------------------------------------------------------------------------------
def _pool_windows(x: np.ndarray, pool_height: int, pool_width: int, stride: int) -> np.ndarray:
    """(N, C, H', W', pool_height * pool_width): each window's elements in row-major order."""
    out_h = _out_size(x.shape[2], pool_height, stride)
    out_w = _out_size(x.shape[3], pool_width, stride)
    parts = [x[:, :, rows, cols] for rows, cols in
             (_window_slices(k, m, out_h, out_w, stride) for k in range(pool_height) for m in range(pool_width))]
    return np.stack(parts, axis=-1)


def max_pool_forward(x, pool_height: int, pool_width: int, stride: int):
    """Max pooling of x (N, C, H, W), no padding: out[n, c, i, j] = max of the window whose top-left
    corner is (i*stride, j*stride); H' = 1 + (H - pool_height) // stride, W' likewise. Windows may
    overlap (stride < pool size). Returns out (N, C, H', W')."""
    return _pool_windows(_f64(x), pool_height, pool_width, stride).max(axis=-1)


def max_pool_backward(dout, x, pool_height: int, pool_width: int, stride: int):
    """Max pooling backward: each window sends its whole upstream gradient to ONE element, its FIRST
    maximum in row-major order within the window (np.argmax); where windows overlap an element
    collects (+=) the gradient of every window that chose it. Returns dx (N, C, H, W).

    Ties: torch's max_pool2d (CPU, float64; checked by tests/test_norm_conv_math.py on inputs with
    exact ties) does the same, it routes the gradient to the first maximum of the window in
    row-major order. A backward that gives every tied maximum the gradient (mask == max) differs
    from both only at exact ties."""
    dout, x = _f64(dout), _f64(x)
    first_max = _pool_windows(x, pool_height, pool_width, stride).argmax(axis=-1)
    dx = np.zeros_like(x)
    out_h, out_w = dout.shape[2], dout.shape[3]
    for k in range(pool_height):
        for m in range(pool_width):
            rows, cols = _window_slices(k, m, out_h, out_w, stride)
            dx[:, :, rows, cols] += np.where(first_max == k * pool_width + m, dout, 0.0)
    return dx


# --- spatial batch normalization (N, C, H, W) ----------------------------------------------------
def _channels_last(x: np.ndarray) -> np.ndarray:
    return x.transpose(0, 2, 3, 1).reshape(-1, x.shape[1])


def _channels_first(rows: np.ndarray, shape) -> np.ndarray:
    n, c, h, w = shape
    return rows.reshape(n, h, w, c).transpose(0, 3, 1, 2)


def spatial_batchnorm_forward(x, gamma, beta, mode: str, eps: float = 1e-5, momentum: float = 0.9,
                              running_mean=None, running_var=None):
    """Spatial batch normalization of x (N, C, H, W): batchnorm_forward with one feature per channel,
    statistics over N, H and W (N*H*W values each); gamma, beta and the running stats are (C,).
    Same train/test modes and running-statistics update as batchnorm_forward (biased variance, eps
    inside the sqrt, momentum weighting the old value). Returns (out, new_running_mean, new_running_var)."""
    x = _f64(x)
    out, rm, rv = batchnorm_forward(_channels_last(x), gamma, beta, mode, eps, momentum, running_mean, running_var)
    return _channels_first(out, x.shape), rm, rv


def spatial_batchnorm_backward(dout, x, gamma, eps: float = 1e-5):
    """Train-mode spatial batch normalization backward: (dx (N, C, H, W), dgamma (C,), dbeta (C,))."""
    dout, x = _f64(dout), _f64(x)
    dx, dgamma, dbeta = batchnorm_backward(_channels_last(dout), _channels_last(x), gamma, eps)
    return _channels_first(dx, x.shape), dgamma, dbeta


# --- spatial group normalization (N, C, H, W) ----------------------------------------------------
def _grouped(x: np.ndarray, groups: int) -> np.ndarray:
    n, c, h, w = x.shape
    if groups < 1 or c % groups:
        raise ValueError(f"G={groups} groups do not divide C={c} channels")
    return x.reshape(n, groups, c // groups, h, w)


def _per_channel(param, channels: int) -> np.ndarray:
    p = _f64(param)
    if p.size != channels or p.shape not in ((channels,), (1, channels, 1, 1)):
        raise ValueError(f"a per-channel parameter must be (C,) or (1, C, 1, 1) with C={channels}, got {p.shape}")
    return p.reshape(1, channels, 1, 1)


def spatial_groupnorm_forward(x, gamma, beta, G: int, eps: float = 1e-5):
    """Spatial group normalization of x (N, C, H, W) in G groups of C/G CONTIGUOUS channels (group g
    holds channels g*C/G .. (g+1)*C/G - 1, as the course's reshape (N, G, C/G, H, W) and torch's
    group_norm): mean and biased variance per (sample, group) over its C/G channels and H, W, eps
    inside the sqrt; then a per-CHANNEL affine out = gamma * x_hat + beta.

    gamma, beta: (1, C, 1, 1), the shape the course hands out from 2018 on; (C,) (some years' docstrings,
    torch's weight) is accepted and read as the same values. No running statistics. Returns out (N, C, H, W)."""
    x = _f64(x)
    c = x.shape[1]
    x_hat, _ = _normalized(_grouped(x, G), (2, 3, 4), eps)
    return _per_channel(gamma, c) * x_hat.reshape(x.shape) + _per_channel(beta, c)


def spatial_groupnorm_backward(dout, x, gamma, G: int, eps: float = 1e-5):
    """Spatial group normalization backward: (dx (N, C, H, W), dgamma, dbeta), dgamma and dbeta summed
    over N, H, W and shaped like the gamma passed in ((1, C, 1, 1) or (C,))."""
    dout, x = _f64(dout), _f64(x)
    shape = np.shape(gamma)
    gamma4 = _per_channel(gamma, x.shape[1])
    x_hat, inv_std = _normalized(_grouped(x, G), (2, 3, 4), eps)
    g = _grouped(dout * gamma4, G)
    dx = _normalized_backward(g, x_hat, inv_std, (2, 3, 4)).reshape(x.shape)
    dgamma = (dout * x_hat.reshape(x.shape)).sum(axis=(0, 2, 3))
    return dx, dgamma.reshape(shape), dout.sum(axis=(0, 2, 3)).reshape(shape)


# --- multiclass SVM loss -------------------------------------------------------------------------
def svm_loss(x, y):
    """Multiclass hinge loss of scores x (N, K) with integer labels y (N,), margin 1, as CS231n's
    layers.py svm_loss:
        loss = (1 / N) * sum_n sum_{j != y_n} max(0, x[n, j] - x[n, y_n] + 1)
    dx (N, K): 1/N for each j != y_n whose margin is > 0 (strictly: a margin of exactly 0 counts as
    inactive), minus 1/N times their count at j = y_n. Returns (loss: float, dx).

    torch's multi_margin_loss (p=1, margin=1, reduction 'mean') divides by K as well: loss = K * it."""
    x = _f64(x)
    y = np.asarray(y, dtype=np.intp)
    n = x.shape[0]
    rows = np.arange(n)
    margins = np.maximum(0.0, x - x[rows, y][:, None] + 1.0)
    margins[rows, y] = 0.0
    active = (margins > 0).astype(np.float64)
    active[rows, y] = -active.sum(axis=1)
    return float(margins.sum() / n), active / n
