"""The spec's own math in plain numpy, written from the Spec alone: forward pass, loss, backprop.

forward/loss are the independent function that finite differences differentiate (they know no
gradient). backprop() is the grader's expected gradient (tests prove it equal to the reference
nets, torch and finite differences) and, given a Deviation, the gradient that code with one
typical bug returns: the diagnosis tests each such hypothesis against a submission's numbers.
error_magnitudes() runs the same backward pass on absolute values to bound round-off.
Activations and losses come from their records (harness.core.activations, .losses).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .spec import Spec


def forward(spec: Spec, params, X, keep_preactivations: bool = False, z1=None):
    """Output of the net; with keep_preactivations also the list of pre-activations per layer.
    z1: the first layer's pre-activation X W1 + b1, already known (finite differences perturb it
    directly instead of multiplying X again)."""
    a, zs = X, []
    for i, act in enumerate(spec.activation_records, start=1):
        z = z1 if i == 1 and z1 is not None else a @ params[f"W{i}"] + params[f"b{i}"]
        zs.append(z)
        a = act.f(z)
    return (a, zs) if keep_preactivations else a


def loss(spec: Spec, output, T, params=None) -> float:
    """The spec's loss of an output; with an L2 term, `params` (the weights it is taken of) are needed."""
    if spec.l2 and params is None:
        raise ValueError(f"{spec.label()}: the loss has an L2 term: pass the parameters")
    with np.errstate(divide="ignore", invalid="ignore"):   # a probability of exactly 0 or 1: the loss is
        value = spec.loss_record.value(output, T)           # infinite, and the checks say what that means
    return value + (l2_term(spec, params, len(output)) if spec.l2 else 0.0)


def l2_term(spec: Spec, params, n: int, factor: float = 1.0, biases: bool | None = None) -> float:
    """The L2 term at batch size n; factor and biases give the variants the diagnosis tests
    (the term doubled or halved, the biases in or out)."""
    biases = spec.l2_biases if biases is None else biases
    names = [k for k in spec.param_names if k.startswith("W") or biases]
    return factor * spec.l2_coefficient(n) * sum(float(np.sum(np.square(np.asarray(params[k], np.float64))))
                                                  for k in names)


def loss_with_log_eps(spec: Spec, params, X, T, eps: float) -> float:
    """The loss as code written with log(p + eps) computes it, in float64 (an assignment may accept
    that form of the textbooks: its gradients stay those of the exact loss)."""
    p, X, T = as64(params, X, T)
    return spec.loss_record.with_log_eps(forward(spec, p, X), T, eps) + (l2_term(spec, p, len(X)) if spec.l2 else 0.0)


def loss_of_params(spec: Spec, params, X, T) -> float:
    return loss(spec, forward(spec, params, X), T, params)


@dataclass(frozen=True)
class Deviation:
    """One typical backprop bug, as a change to the backward pass.

    missing_slope        layer `layer`'s activation derivative left out
    slope_at_activation  f' evaluated at the activation: f'(a), a = f(z)
    slope_formula_on_z   the activation-form derivative (sigmoid: a(1 - a)) applied to the pre-activation z
    stale_weights        deltas below layer `layer` backpropagated through W_layer already
                         updated with lr (the later layer was updated first)
    slope_not_folded     the output activation's slope applied again, though the loss's derivative
                         already includes it (BCE after a sigmoid, cross-entropy after a softmax)
    slope_divided_out    the output activation's slope divided out of a derivative that already
                         folds it (the shortcut (a - t) then divided by sigmoid'(z))
    softmax_diagonal     a softmax output backpropagated through the diagonal of its Jacobian,
                         p (1 - p), instead of the whole of it
    slope_miswritten     the activation's typical wrongly written derivative (tanh: 1 - tanh(z))
    l2_missing, l2_half, l2_double   the L2 term's gradient left out, halved, doubled (layer 0)
    l2_biases_flipped    the biases regularized in the gradient where the loss does not (or the reverse)
    """
    kind: str
    layer: int


def _slope_folded(spec: Spec, layer: int) -> bool:
    return layer == spec.n_layers and spec.loss_record.pairs_with is not None


L2_FACTORS = {"l2_missing": 0.0, "l2_half": 0.5, "l2_double": 2.0}


def deviations(spec: Spec) -> list[Deviation]:
    """Every deviation that changes something for this spec."""
    out = []
    for i, act in enumerate(spec.activation_records, start=1):
        if _slope_folded(spec, i) and not act.is_identity and not act.output_only:
            out += [Deviation("slope_not_folded", i), Deviation("slope_divided_out", i)]
        if _slope_folded(spec, i) and act.output_only:
            out.append(Deviation("softmax_diagonal", i))
        if act.miswritten_slope is not None and not _slope_folded(spec, i):
            out.append(Deviation("slope_miswritten", i))
        if not act.is_identity and not _slope_folded(spec, i):
            out.append(Deviation("missing_slope", i))
        if act.slope_of_output is not None:
            out += [Deviation("slope_at_activation", i), Deviation("slope_formula_on_z", i)]
        if i >= 2:
            out.append(Deviation("stale_weights", i))
    if spec.l2:
        out += [Deviation(kind, 0) for kind in (*L2_FACTORS, "l2_biases_flipped")]
    return out


def _slope(spec: Spec, layer: int, z, a, deviation: Deviation | None):
    act = spec.activation_records[layer - 1]
    kind = deviation.kind if deviation and deviation.layer == layer else None
    if _slope_folded(spec, layer):
        if kind == "slope_not_folded":
            return act.slope(z, a)
        if kind in ("slope_at_activation", "slope_formula_on_z", "slope_miswritten"):
            # code that takes dL/da and then a wrong slope: the folded slope replaced by the wrong one
            return _wrong_slope(act, kind, z, a) / act.slope(z, a)
        return 1.0 / act.slope(z, a) if kind == "slope_divided_out" else np.ones_like(z)
    if kind == "missing_slope":
        return np.ones_like(z)
    return _wrong_slope(act, kind, z, a) if kind else act.slope(z, a)


def _wrong_slope(act, kind: str, z, a):
    if kind == "slope_miswritten":
        return act.miswritten_slope[1](z, a)
    if kind == "slope_at_activation":
        return act.slope(a, act.f(a))
    if kind == "slope_formula_on_z":
        return act.slope_of_output(z)
    return act.slope(z, a)


def _backward(spec: Spec, d, inputs, slopes, weights, stale_lr=None, reached: list | None = None):
    """Deltas down the layers: d (dL/d output of the last layer, before its slope) -> grads.
    `reached` collects each delta's largest entry before its slope (magnitudes: what a float
    computes there, even where a zero slope masks it afterwards)."""
    grads = {}
    for i in range(spec.n_layers, 0, -1):
        if reached is not None:
            reached.append(float(np.max(np.abs(d))))
        d = d * slopes[i - 1]
        grads[f"W{i}"], grads[f"b{i}"] = inputs[i - 1].T @ d, d.sum(axis=0)
        W = weights[i - 1]
        if stale_lr is not None and stale_lr[0] == i:
            W = W - stale_lr[1] * grads[f"W{i}"]
        d = d @ W.T
    return grads


def as64(params, X, T):
    """The parameters, X and T as float64 arrays (the parameters in a new dict)."""
    return {k: np.asarray(v, np.float64) for k, v in params.items()}, np.asarray(X, np.float64), np.asarray(T, np.float64)


def backprop(spec: Spec, params, X, T, deviation: Deviation | None = None, lr: float | None = None) -> dict:
    """d loss / d parameter, canonical layout, in float64; with a deviation, the buggy version
    (stale_weights needs the learning rate of the update)."""
    p, X, T = as64(params, X, T)
    out, zs = forward(spec, p, X, keep_preactivations=True)
    values = [act.f(z) for z, act in zip(zs, spec.activation_records, strict=True)]
    slopes = [_slope(spec, i, z, a, deviation) for i, (z, a) in enumerate(zip(zs, values, strict=True), 1)]
    stale = None
    if deviation is not None and deviation.kind == "stale_weights":
        stale = (deviation.layer, spec.lr if lr is None else lr)
    weights = [p[f"W{i}"] for i in range(1, spec.n_layers + 1)]
    delta = spec.loss_record.delta(out, T)
    if deviation is not None and deviation.kind == "softmax_diagonal":
        delta = _softmax_diagonal(spec, out, T)
    grads = _backward(spec, delta, [X] + values[:-1], slopes, weights, stale)
    return _add_l2(spec, grads, p, len(X), deviation)


def _softmax_diagonal(spec: Spec, p, T):
    """The output delta of code that takes d loss / d p (the log's derivative, -t / p, times the
    loss's coefficient) through p (1 - p) only, the diagonal of the softmax Jacobian."""
    n, k = p.shape
    return -T / p * spec.loss_record.coefficient(n, k) * p * (1 - p)


def _add_l2(spec: Spec, grads: dict, p: dict, n: int, deviation: Deviation | None) -> dict:
    """The L2 term's gradient, 2 c W per regularized parameter (and its typical mistakes)."""
    if not spec.l2:
        return grads
    kind = deviation.kind if deviation is not None else ""
    factor = L2_FACTORS.get(kind, 1.0)
    biases = spec.l2_biases != (kind == "l2_biases_flipped")
    c = 2.0 * spec.l2_coefficient(n) * factor
    return {k: g + c * p[k] if (k.startswith("W") or biases) else g for k, g in grads.items()}


def _slope_magnitude(spec: Spec, layer: int, z, a, z_mag):
    """The slope's size for error bounds (1 where the loss folds it; else its sum of |terms| and
    its sensitivity to round-off in z)."""
    if _slope_folded(spec, layer):
        return np.ones_like(z)
    return spec.activation_records[layer - 1].slope_magnitude(z, a, z_mag)


def error_magnitudes(spec: Spec, params, X, T) -> dict:
    """Per entry, the sum of the absolute values of the terms that make up each computed value:
    every gradient entry (backprop with every product in absolute value), the forward output
    (|a| |W| + |b| through each slope) and the loss (how far round-off in the output can move
    it). Round-off in any correct computation is bounded by a small multiple of eps times
    this, also where terms cancel to a tiny result, so tolerances scale by it (componentwise
    error analysis, as for a dot product). Keys: W1, b1, ..., "output", "loss";
    "reached": the largest |terms| of any pre-activation or delta (a float, for overflow);
    "underflow": the absolute error values below the dtype's range can bring (underflow_floor)."""
    p, X, T = as64(params, X, T)
    out, zs = forward(spec, p, X, keep_preactivations=True)
    n, k = out.shape
    acts, lossrec = spec.activation_records, spec.loss_record
    values = [act.f(z) for z, act in zip(zs, acts, strict=True)]
    # forward: per entry, the |terms| of each pre-activation z and activation a (their round-off
    # is about eps times these, also where a W + b cancels)
    a_mags, z_mags = [np.abs(X)], []
    for i, act in enumerate(acts, start=1):
        z_mags.append(a_mags[-1] @ np.abs(p[f"W{i}"]) + np.abs(p[f"b{i}"]))
        a_mags.append(z_mags[-1] if act.is_identity else
                      np.abs(values[i - 1]) + z_mags[-1] * act.slope(zs[i - 1], values[i - 1]))
    slopes = [_slope_magnitude(spec, i, z, a, zm)
              for i, (z, a, zm) in enumerate(zip(zs, values, z_mags, strict=True), 1)]
    coefficient = lossrec.coefficient(n, k)
    moved_by = z_mags[-1] if _slope_folded(spec, spec.n_layers) else a_mags[-1]
    d = (lossrec.residual_terms(out, T) + lossrec.residual_sensitivity(out, T) * moved_by) * coefficient
    reached = [float(np.max(z)) for z in z_mags]
    mags = _add_l2(spec, _backward(spec, d, a_mags[:-1], slopes, [np.abs(p[f"W{i}"]) for i in range(1, spec.n_layers + 1)],
                                   reached=reached), {k: np.abs(v) for k, v in p.items()}, n, None)
    mags["output"] = a_mags[-1]
    mags["reached"] = max(reached)      # the largest intermediate: every z, every delta before its slope
    mags["underflow"] = underflow_floor(spec, p, a_mags)
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):   # saturated probabilities: the
        # loss is infinite in float64 itself, so is its magnitude (the check says INCONCLUSIVE, not why numpy warned)
        rounding = lossrec.rounding_sensitivity(out, T) if lossrec.rounding_sensitivity is not None else 0.0
        mags["loss"] = (abs(lossrec.value(out, T))
                        + float(np.sum(np.abs(lossrec.residual(out, T)) * moved_by + rounding)) * coefficient
                        + (l2_term(spec, p, n) if spec.l2 else 0.0))
    return mags


def underflow_floor(spec: Spec, p: dict, a_mags: list) -> float:
    """The absolute error a gradient entry can carry from values that underflow: any intermediate
    below the dtype's smallest normal number (tiny) may be rounded to a subnormal or, on
    frameworks that flush denormals (XLA, oneDNN), to zero: an error of up to tiny, which the
    rest of backprop multiplies by at most each weight matrix's largest row or column sum, the
    largest activation and the batch size (summed over rows)."""
    tiny = float(np.finfo(spec.dtype).tiny)
    through = np.prod([max(1.0, float(np.max(np.abs(p[f"W{i}"]).sum(axis=0))), float(np.max(np.abs(p[f"W{i}"]).sum(axis=1))))
                       for i in range(1, spec.n_layers + 1)])
    return tiny * len(a_mags[0]) * max(1.0, max(float(np.max(a, initial=0.0)) for a in a_mags)) * float(through)


def spec_run(spec: Spec, params, X, T, backend: str = "spec math"):
    """The spec's own math as a Run, in float64: forward output, loss, gradients and one SGD step
    with spec.lr, whatever spec.optimizer and spec.steps say (the grader's expected run: the code's
    one update; the numpy backend replaces `stepped` by spec.steps steps of spec.optimizer)."""
    from .run import Run
    p, X, T = as64(params, X, T)
    g = backprop(spec, p, X, T)
    out = forward(spec, p, X)
    return Run(backend=backend, loaded=p, output=out, loss=np.asarray(loss(spec, out, T, p)), grads=g,
               stepped={k: p[k] - spec.lr * g[k] for k in p})


def _largest(arrays: dict) -> float:
    return max(float(np.max(np.abs(v))) for v in arrays.values())


def trajectory(spec: Spec, params, X, T) -> dict:
    """The spec's own K optimizer steps in float64 (torch's convention). "steps": per step t =
    0..K-1 and parameter, (|p_t|, |g_t|, the sum of |terms| of g_t); "amplification": how much
    the steps magnify a difference in the parameters (the largest growth, over the steps, of a
    tiny seeded perturbation of p_0: above 1 where a large lr makes the trajectory unstable);
    "largest": the largest value the steps compute (|p_t|, and the |terms| of each step's
    pre-activations, deltas, output and gradients: a float32 delta can overflow to inf, and inf
    times a ReLU's zero slope is NaN, while every parameter is finite). K-step allowances are derived from these."""
    from .optim import Optimizer
    p, X, T = as64(params, X, T)
    rng = np.random.default_rng([spec.seed, 11])
    delta = {k: 1e-9 * np.maximum(np.abs(v), 1e-3) * rng.choice((-1.0, 1.0), size=v.shape) for k, v in p.items()}
    q = {k: v + delta[k] for k, v in p.items()}
    size0 = max(float(np.max(np.abs(d))) for d in delta.values())
    opt, opt_q = Optimizer(spec.optimizer, "torch", spec.lr), Optimizer(spec.optimizer, "torch", spec.lr)
    steps, growth, largest = [], 1.0, 0.0
    with np.errstate(all="ignore"):
        for _ in range(spec.steps):
            g, mags = backprop(spec, p, X, T), error_magnitudes(spec, p, X, T)
            steps.append({k: (np.abs(p[k]), np.abs(g[k]), mags[k]) for k in p})
            p, q = opt.step(p, g), opt_q.step(q, backprop(spec, q, X, T))
            gap = max(float(np.max(np.abs(q[k] - p[k]))) for k in p)
            growth = max(growth, gap / size0) if np.isfinite(gap) else float("inf")
            largest = max(largest, _largest(p), _largest({k: v for k, v in mags.items() if k != "loss"}))
    return {"steps": steps, "amplification": growth, "largest": largest}
