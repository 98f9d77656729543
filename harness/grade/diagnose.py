"""Mismatch -> likely cause. Each typical bug is a hypothesis with a prediction: the gradient
that code with that bug returns (harness.core.net.backprop with a Deviation), or a constant factor that is
a known function of the batch size N, the number of outputs K and the learning rate. A
hypothesis explains a parameter when its prediction matches the submission's numbers in every
float64 run (the graded cases plus probes at other batch sizes and learning rates, which tell
N, K, lr and a hard-coded batch size apart). The hypothesis that explains the most failing
parameters wins; what nothing explains is reported as unexplained, never guessed.
"""
from __future__ import annotations

import dataclasses
import functools
import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..core import net
from ..core.run import Run
from ..core.spec import Spec
from ..drive.runner import per_sample_scale

MATCH_RTOL = 1e-6          # float64 runs only: a wrong hypothesis misses by O(1), round-off is ~1e-13

@dataclass(frozen=True)
class HintContext:
    """What a hint may refer to."""
    spec: Spec
    params: tuple[str, ...] = ()
    layer: int = 0
    n0: str = ""                  # the hard-coded batch size, for hardcoded_batch

    @property
    def loss(self) -> str:
        return self.spec.loss_record.description

    @property
    def derivative(self) -> str:
        return self.spec.loss_record.derivative

    @property
    def activation(self) -> str:
        return self.spec.activations[self.layer - 1] if self.layer else ""

    @property
    def l2(self) -> str:
        """The L2 term as the assignment writes it, and its gradient."""
        from ..core.losses import L2_FORMS
        form = L2_FORMS[self.spec.l2_form]
        on = "the weights and the biases" if self.spec.l2_biases else "the weights only (not the biases)"
        return f"the L2 term is {form.written} on {on}; its gradient is {form.gradient}"

    @property
    def miswritten(self) -> str:
        act = self.spec.activation_records[self.layer - 1] if self.layer else None
        return act.miswritten_slope[0] if act is not None and act.miswritten_slope else ""


@dataclass(frozen=True)
class Cause:
    summary: str                                  # what is wrong, in a few words
    hint: Callable[[HintContext], str]            # what to do, in plain words
    layer: str = ""                               # what to do, for a single layer (a layer assignment)


def _bias_or(bias: str, other: str) -> Callable[[HintContext], str]:
    return lambda c: bias if c.params and all(p.startswith("b") for p in c.params) else other.format(c=c)


def _text(template: str) -> Callable[[HintContext], str]:
    return lambda c: template.format(c=c)


CAUSES: dict[str, Cause] = {
    "scale_2": Cause("gradient 2x too large", _text(
        "the loss is {c.loss}; its derivative with respect to the output is {c.derivative}: no extra factor 2")),
    "scale_half": Cause("gradient half the size", _text(
        "the loss is {c.loss}; its derivative with respect to the output is {c.derivative}: keep the 2 of the square")),
    "scale_batch": Cause("not averaged over the batch (xN)", _text(
        "the loss is {c.loss}: divide the output delta by the batch size N = X.shape[0]"),
        layer='the loss averages over the N rows: divide dx by N'),
    "scale_inv_batch": Cause("averaged over the batch where the loss sums (/N)", _bias_or(
        "sum the deltas over the batch for the bias gradient (delta.sum(axis=0)), do not average",
        "the loss is {c.loss}: do not divide by the batch size"),
        layer='the loss sums over the rows: do not divide by N'),
    "scale_outputs": Cause("not averaged over the outputs (xK)", _text(
        "the loss is {c.loss}: divide by N*K (output.size), not only by the batch size N")),
    "scale_inv_outputs": Cause("averaged over the outputs where the loss does not (/K)", _text(
        "the loss is {c.loss}: divide by the batch size only, not by the number of outputs")),
    "hardcoded_batch": Cause("divides by a hard-coded batch size", lambda c: (
        f"the gradient is right only when the batch has {c.n0.split('/')[-1]} rows: use X.shape[0] instead of a "
        "fixed number")),
    "lr_twice": Cause("learning rate applied twice", _text(
        "the step was lr*lr*gradient: multiply by the learning rate once (in the update, not in the delta too)")),
    "lr_missing": Cause("learning rate not applied", _text(
        "the step was the bare gradient: multiply it by the learning rate in the update")),
    "constant_factor": Cause("off by a constant factor", _text(
        "the gradient has the right direction but the wrong size: check every constant in the output delta and "
        "the update")),
    "sign": Cause("sign flipped", _text(
        "the update must go against the gradient: p -= lr * dL/dp (with error = y - t); check each sign"),
        layer='dx is d loss / d x: (softmax(x) - onehot(y)) / N, not its negative'),
    "transposed": Cause("transposed weight gradient", _text(
        "a weight gradient has the layout of the weight: dW = a_prev.T @ delta, shape (in, out) for W in (in, out)"),
        layer='dw = x.reshape(N, -1).T @ dout has the shape of w, (D, M)'),
    "missing_act_deriv": Cause("missing activation derivative", _text(
        "multiply the delta coming into layer {c.layer} by its activation's derivative ({c.activation}'(z{c.layer})) "
        "before using it"),
        layer="dx = dout * f'(x): the upstream gradient times the activation's derivative at x"),
    "deriv_at_activation": Cause("activation derivative taken at the activation", _text(
        "layer {c.layer}: a = {c.activation}(z) is already activated; write its derivative in terms of a "
        "(sigmoid: a * (1 - a)). {c.activation}'(a) applies the activation a second time"),
        layer="f' is taken at the input x (or written in terms of the output: sigmoid' = out * (1 - out)), "
              "not applied to the output again"),
    "deriv_formula_on_z": Cause("activation-form derivative applied to the pre-activation", _text(
        "layer {c.layer}: a derivative written in terms of the activation a (sigmoid: a * (1 - a)) must be given a; "
        "you applied it to the pre-activation z"),
        layer='a derivative written in terms of the output (out * (1 - out), 1 - out**2) takes the output, not x'),
    "shape_only": Cause("right values, wrong shape", _text(
        "the values are right; return each gradient in the shape of its parameter as your code stores it (compare "
        "grad.shape with the parameter's .shape: a bias kept as (n,) takes delta.sum(axis=0), one kept as (1, n) "
        "or (n, 1) takes keepdims=True)"),
        layer='return dx in the shape of x (dx.reshape(x.shape)); a bias gradient as (M,)'),
    "bias_not_reduced": Cause("bias gradient not reduced over the batch", _text(
        "the bias gradient is the delta summed over the batch: db = delta.sum(axis=0), shape (n,), not one row per "
        "sample"),
        layer='db = dout.sum(axis=0): one entry per output, summed over the batch'),
    "slope_not_folded": Cause("output activation's derivative applied twice", _text(
        "the loss is {c.loss}; its derivative with respect to the output layer's pre-activation is {c.derivative}: "
        "the {c.activation} derivative is already in it, do not multiply by it again")),
    "stale_weights": Cause("stale weights: a layer updated before the delta below it was computed", _text(
        "compute every delta before changing any weight: the delta below layer {c.layer} used W{c.layer} after its "
        "update")),
    "loss_not_grad": Cause("reported loss is not the function whose gradient is returned", _text(
        "the loss is {c.loss}: report that value")),
    "deriv_miswritten": Cause("activation derivative written wrong", _text("layer {c.layer}: {c.miswritten}"),
        layer="check the derivative's formula"),
    "slope_divided_out": Cause("output activation's derivative divided out", _text(
        "the loss is {c.loss}; its derivative with respect to the output layer's pre-activation is {c.derivative} "
        "as it stands: do not divide by the {c.activation} derivative")),
    "softmax_diagonal": Cause("softmax Jacobian taken as its diagonal", _text(
        "a softmax output couples every class: dz = p * (dp - sum(dp * p, axis=1, keepdims=True)), not dp * p * (1 - p); "
        "with the cross-entropy this is simply {c.derivative}")),
    "l2_gradient_missing": Cause("L2 term missing from the gradient", _text("{c.l2}: add it to each regularized gradient")),
    "l2_gradient_half": Cause("L2 gradient half the size", _text("{c.l2}: the derivative of a square keeps its 2")),
    "l2_gradient_double": Cause("L2 gradient twice the size", _text("{c.l2}: the 1/2 in front cancels the 2 of the square")),
    "l2_bias_gradient": Cause("biases regularized in the gradient but not in the loss (or the reverse)", _text(
        "{c.l2}: regularize the same parameters in the loss and in the gradient")),
    "l2_loss": Cause("L2 term of the reported loss differs", _text(
        "{c.l2}: the reported loss must include exactly that term")),
    "log_epsilon": Cause("loss computed as log(p + eps)", lambda c: (
        f"the loss is {c.loss}; a stabilizer inside the log changes its value (by {c.n0}): compute the log exactly "
        "(e.g. from the logits with a log-softmax, or np.log of the probabilities) unless the assignment says "
        "otherwise")),
    "forward": Cause("forward pass differs", _text(
        "fix the forward pass first (weights layout, bias, activations, output layer): gradients are only compared "
        "meaningfully once the output matches")),
    "float32_only": Cause("wrong only in float32", _text(
        "every float64 run is right: look for what changes in float32: an array made without dtype= (np.zeros, "
        "np.ones, np.array of floats are float64), a float64 constant or array mixed in (an upcast the case's "
        "dtype check sees), or an exp that overflows in float32 (subtract the row maximum before a softmax)")),
    "overflow": Cause("wrong only with large logits (an exp overflows)", lambda c: (
        "subtract each row's maximum before exp: softmax(z) = exp(z - max) / sum(exp(z - max)), and take the log of "
        "the softmax as (z - max) - log(sum(exp(z - max)))" if c.spec.loss_record.one_hot_targets else
        "an exp of a large argument overflows to inf (np.exp(710) in float64): write the function so that exp only "
        "sees arguments <= 0, e.g. a sigmoid as np.where(z >= 0, 1 / (1 + np.exp(-z)), np.exp(z) / (1 + np.exp(z)))"),
        layer="subtract each row's maximum before exp: the case with large scores overflows otherwise"),
    "params_changed": Cause("parameters changed by the gradients call", _text(
        "compute the gradients without applying them: an update inside the call that returns the gradients moves "
        "the weights each time it is called, so a numerical gradient check (which calls it many times) fails")),
    "log_underflow": Cause("log of an underflowed probability", _text(
        "the row maximum is subtracted, yet at large scores a probability underflows to 0 and its log is -inf: "
        "compute the log-probabilities as a log-softmax, shifted - log(sum(exp(shifted))) with shifted = z - max(z), "
        "instead of np.log(probs)"),
        layer="compute the log-probabilities as a log-softmax, shifted - log(sum(exp(shifted))) with shifted = "
              "x - max(x), instead of log(probs): a probability that underflows to 0 has log -inf"),
    "float64_upcast": Cause("float64 upcast in a float32 run", _text(
        "the values are right, but a float32 case came back as float64: an array made without dtype= (np.zeros, "
        "np.ones, np.array of Python floats are float64) or a float64 scalar such as np.float64(len(X)) mixed in; "
        "make new arrays with the input's dtype (np.zeros_like, dtype=X.dtype)"),
        layer="the values are right, in float64 for float32 inputs: make new arrays with the input's dtype "
              "(np.zeros_like, astype(x.dtype))"),
    "rows_interfere": Cause("rows interfere within one call", _text(
        "each row's step is right when it comes alone, but not when the call gets several rows: something computed "
        "for one row is reused for the next (activations or a delta kept from the previous sample, a weight read "
        "before the previous row's update): compute everything for a row from that row and the current weights")),
    "missing_gradient": Cause("gradient not returned", _text(
        "return every parameter's gradient, under the key the assignment names for it"),
        layer="return every gradient the layer's backward pass must give"),
    "nonfinite": Cause("NaN or inf in the result", _text(
        "look for 0/0, log(0), an overflowing exp, a division by a zero norm, or an array made with np.empty and "
        "never filled"),
        layer="look for an overflowing exp (subtract each row's maximum before a softmax), 0/0 or log(0)"),
    "unexplained": Cause("no typical cause fits", _text(
        "compare your deltas with the chain rule layer by layer, starting at the output"),
        layer='compare each value with its formula for one small input by hand'),
}


# The cause each deviation of harness.core.net's backward pass stands for.
DEVIATION_CAUSES = {"missing_slope": "missing_act_deriv", "slope_at_activation": "deriv_at_activation",
                    "slope_formula_on_z": "deriv_formula_on_z", "stale_weights": "stale_weights",
                    "slope_not_folded": "slope_not_folded", "slope_divided_out": "slope_divided_out",
                    "softmax_diagonal": "softmax_diagonal", "slope_miswritten": "deriv_miswritten",
                    "l2_missing": "l2_gradient_missing", "l2_half": "l2_gradient_half", "l2_double": "l2_gradient_double",
                    "l2_biases_flipped": "l2_bias_gradient"}
LOSS_MATCH_RTOL = 1e-10    # a loss variant (an L2 term, log(p + eps)) must match this closely: round-off is ~1e-15
LOG_EPSILONS = tuple(10.0 ** -k for k in range(3, 17))


@dataclass(frozen=True)
class Finding:
    cause: str                    # a key of CAUSES
    params: tuple[str, ...]       # what it explains: parameter names, or "output" / "loss"
    text: str                     # what was seen
    hint: str                     # what to do, in plain words

    def message(self) -> str:
        return f"{', '.join(self.params)}: {CAUSES[self.cause].summary} - {self.text}\n    hint: {self.hint}"


@dataclass(frozen=True)
class Diagnosis:
    findings: tuple[Finding, ...]
    first_layer: str = ""         # where divergence starts, in the order backprop computes

    @property
    def primary(self) -> str:
        return self.findings[0].cause if self.findings else ""

    def message(self) -> str:
        lines = [f.message() for f in self.findings]
        return "\n".join(lines + ([self.first_layer] if self.first_layer else []))


@dataclass(frozen=True)
class Trial:
    """One run of the submission with everything a hypothesis needs."""
    spec: Spec
    params: dict
    X: np.ndarray
    T: np.ndarray
    run: Run

    @functools.cached_property
    def expected(self) -> dict:
        return self.predict(None)

    def predict(self, deviation: net.Deviation | None) -> dict:
        """The gradient code with this deviation reports for this run. Code that steps once per
        sample is driven one row at a time from fresh weights, its gradients summed."""
        if self.run.updates_summed <= 1:
            return net.backprop(self.spec, self.params, self.X, self.T, deviation, self.spec.lr)
        rows = [net.backprop(self.spec, self.params, self.X[i:i + 1], self.T[i:i + 1], deviation, self.spec.lr)
                for i in range(len(self.X))]
        scale = per_sample_scale(self.spec, len(self.X))
        return {k: sum(r[k] for r in rows) * scale for k in rows[0]}


def close(actual, predicted) -> bool:
    a, p = np.asarray(actual, np.float64), np.asarray(predicted, np.float64)
    if a.shape != p.shape or not np.all(np.isfinite(a)):
        return False
    return float(np.max(np.abs(a - p), initial=0.0)) <= MATCH_RTOL * max(float(np.max(np.abs(p), initial=0.0)), 1e-300)


# --- constant factors ------------------------------------------------------------------------
_SCALE_NAMES = {("two", 1): "scale_2", ("two", -1): "scale_half", ("N", 1): "scale_batch",
                ("N", -1): "scale_inv_batch", ("K", 1): "scale_outputs", ("K", -1): "scale_inv_outputs",
                ("lr", 1): "lr_twice", ("lr", -1): "lr_missing"}


def ratios(values: list[tuple[np.ndarray, np.ndarray]]) -> list[float] | None:
    """Per trial, c with actual = c * expected, or None when no single c fits some trial."""
    out = []
    for a, e in values:
        a, e = np.asarray(a, np.float64), np.asarray(e, np.float64)
        ee = float(np.sum(e * e))
        if a.shape != e.shape or ee == 0 or not np.all(np.isfinite(a)):
            return None
        c = float(np.sum(a * e)) / ee
        if c == 0 or not close(a, c * e):
            return None
        out.append(c)
    return out


def _name_factor(ratios: list[float], trials: list[Trial], with_lr: bool):
    """name_factor for the trials' batch sizes, output counts and learning rates."""
    return name_factor(ratios, [t.X.shape[0] for t in trials], [t.spec.sizes[-1] for t in trials],
                       [t.spec.lr for t in trials] if with_lr else None)


def name_factor(ratios: list[float], n: list[int], k: list[int], lr: list[float] | None = None):
    """Explain per-run ratios as +-2^a N^b K^c lr^d (simplest first) or N/N0 (hard-coded batch
    N0), for runs of batch sizes n, output counts k (and learning rates lr). Returns (causes,
    words) or None."""
    sign = -1.0 if all(r < 0 for r in ratios) else 1.0
    if any(r * sign <= 0 for r in ratios):
        return None
    mags = [abs(r) for r in ratios]
    found = _power_factor(mags, sign, n, k, lr) or _batch_or_constant(mags, sign, n)
    if found is None:
        return None
    causes, words = found
    return causes + (["sign"] if sign < 0 else []), words


def _power_factor(mags: list[float], sign: float, n: list[int], k: list[int], lr: list[float] | None):
    """The simplest 2^a N^b K^c lr^d equal to every magnitude: (causes, words) or None."""
    bases = {"two": [2.0] * len(mags), "N": list(n), "K": list(k), "lr": list(lr or [])}
    names = ["two", "N", "K"] + (["lr"] if lr else [])
    combos = sorted(itertools.product((0, 1, -1), repeat=len(names)), key=lambda e: (sum(map(abs, e)), e))
    for exps in combos[1:] if sign > 0 else combos:     # a factor of exactly 1 explains nothing
        pred = [math.prod(bases[b][i] ** x for b, x in zip(names, exps, strict=True)) for i in range(len(mags))]
        if sign > 0 and all(abs(p - 1) <= 1e-12 for p in pred):
            continue                 # e.g. 2/K with K = 2: a factor of 1 explains nothing
        if all(abs(m - p) <= 1e-6 * p for m, p in zip(mags, pred, strict=True)):
            return ([_SCALE_NAMES[(b, x)] for b, x in zip(names, exps, strict=True) if x],
                    " x ".join(_factor_word(b, x) for b, x in zip(names, exps, strict=True) if x))
    return None


def _batch_or_constant(mags: list[float], sign: float, n: list[int]):
    """N/N0 for a constant whole N0 across batch sizes (a hard-coded batch size), else one
    constant factor in every run: (causes, words) or None."""
    n0 = [b / m for b, m in zip(n, mags, strict=True)]
    constant_n0 = max(n0) - min(n0) <= 1e-6 * max(n0) and abs(n0[0] - round(n0[0])) < 1e-6 and round(n0[0]) >= 1
    if len(set(n)) > 1 and constant_n0:
        return ["hardcoded_batch"], f"N/{round(n0[0])}"
    if len(set(round(m, 9) for m in mags)) == 1 and (sign < 0 or abs(mags[0] - 1) > 1e-6):
        return ["constant_factor"], f"{mags[0]:.6g}"
    return None


def _factor_word(name: str, exp: int) -> str:
    word = {"two": "2", "N": "N (batch size)", "K": "K (outputs)", "lr": "lr"}[name]
    return word if exp > 0 else f"1/{word}"


# --- the diagnosis ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Failed:
    """What mismatched in some graded case: the gradients by name, the loss, the output, the step;
    upcast: every failure is a dtype only (the values are right)."""
    gradients: frozenset
    loss: bool = False
    forward: bool = False
    step: bool = False
    upcast: bool = False


def diagnose(trials: list[Trial], failing: set[str], loss_failed: bool, forward_failed: bool,
             step_failed: bool = False, upcast: bool = False) -> Diagnosis:
    """`trials`: float64 runs of the submission; `failing`: gradient names that mismatched in
    some graded case; loss/forward/step_failed: those mismatched in some case; upcast: every
    failure is a dtype only (values right). The whole-run hypotheses are tried in order, the
    first that holds is the diagnosis; else each gradient's hypotheses claim what they explain."""
    if not trials:
        return Diagnosis(())
    failed = Failed(frozenset(failing), loss_failed, forward_failed, step_failed, upcast)
    for hypothesis in WHOLE_RUN:
        found = hypothesis(trials, failed)
        if found is not None:
            return Diagnosis((found,))
    claims = Claims(trials, [p for p in trials[0].spec.param_names if p in failing])
    for hypothesis in PER_GRADIENT:
        if claims.left:
            hypothesis(claims)
    if claims.left:
        claims.claim("unexplained", list(claims.left), "differs in a way no typical bug explains")
    spec = trials[0].spec
    extra = [_loss_finding(trials, spec, loss_failed, failing),
             _step_finding(trials, spec) if step_failed and not failing else None]
    return Diagnosis(tuple(claims.findings + [f for f in extra if f is not None]), _first_layer(spec, failing))


def _finding(cause: str, what: tuple, seen: str, spec: Spec) -> Finding:
    return Finding(cause, what, seen, CAUSES[cause].hint(HintContext(spec)))


def _failed_values(spec: Spec, failed: Failed, loss: bool = True) -> tuple[str, ...]:
    """What failed, in report order: the output, the loss (when `loss`), the gradients."""
    return (("output",) * failed.forward + ("loss",) * (failed.loss and loss)
            + tuple(p for p in spec.param_names if p in failed.gradients))


def _large_values_only(trials: list[Trial], failed: Failed) -> Finding | None:
    """Right in every run with the usual weights, wrong only in a case with large values: an exp
    overflows, or the log of a probability that underflowed."""
    large = [t for t in trials if t.spec.extreme]
    usual = [t for t in trials if not t.spec.extreme]
    if not (large and usual and _right_in_float64(usual, failed.gradients, failed.loss)
            and not _right_in_float64(large, failed.gradients, failed.loss)):
        return None
    spec, what = trials[0].spec, _failed_values(trials[0].spec, failed)
    if what == ("loss",) and any(not np.isfinite(np.asarray(t.run.loss, np.float64)).all() for t in large
                                 if t.run.loss is not None):
        return _finding("log_underflow", what, "the loss is inf only in the case with large scores, while the output "
                        "and every gradient are right there", spec)
    return _finding("overflow", what, "right in every run with the usual weights, wrong in the case with large values "
                    f"({large[0].spec.label().split(', ', 4)[-1].rstrip(']')})", spec)


def _float32_only(trials: list[Trial], failed: Failed) -> Finding | None:
    """Every float64 run is right: what failed, failed in float32 (or only in its dtype)."""
    if not ((failed.forward or failed.gradients) and _right_in_float64(trials, failed.gradients)):
        return None
    cause, seen = ("float64_upcast", "right values in float64, returned in float64 in a float32 case") if failed.upcast \
        else ("float32_only", "right in every float64 run, wrong in a float32 case")
    return _finding(cause, _failed_values(trials[0].spec, failed, loss=False), seen, trials[0].spec)


def _forward_differs(trials: list[Trial], failed: Failed) -> Finding | None:
    """The forward pass differs: the gradients are not looked at until it is right."""
    if not failed.forward:
        return None
    if any(not np.all(np.isfinite(np.asarray(t.run.output, np.float64))) for t in trials):
        return _finding("nonfinite", ("output",), "the forward output contains NaN or inf", trials[0].spec)
    return _finding("forward", ("output",), "the output of the forward pass already differs", trials[0].spec)


# The whole-run hypotheses, in order: the first that holds is the diagnosis.
WHOLE_RUN = (_large_values_only, _float32_only, _forward_differs)


class Claims:
    """The failing gradients not explained yet (`left`), and the findings that explained the others."""

    def __init__(self, trials: list[Trial], left: list[str]):
        self.trials, self.left, self.findings = trials, left, []
        self.spec = trials[0].spec
        self.expected = [t.expected for t in trials]

    def claim(self, cause: str, params, text: str, layer: int = 0, n0: str = "") -> None:
        self.findings.append(Finding(cause, tuple(params), text,
                                     CAUSES[cause].hint(HintContext(self.spec, tuple(params), layer, n0))))
        for p in params:
            self.left.remove(p)

    def got(self, p: str) -> list:
        return [t.run.grads[p] for t in self.trials]


def _absent(c: Claims) -> None:
    absent = [p for p in c.left if any(p not in t.run.grads for t in c.trials)]
    if absent:
        c.claim("missing_gradient", absent, "is not among the gradients the code returns")


def _nonfinite(c: Claims) -> None:
    bad = [p for p in c.left if any(not np.all(np.isfinite(np.asarray(t.run.grads[p], np.float64))) for t in c.trials)]
    if bad:
        c.claim("nonfinite", bad, "contains NaN or inf where the expected gradient is finite")


def _structure(c: Claims) -> None:
    """Right values in the wrong layout: a shape the layout cannot hold, a transposed weight
    gradient, a bias gradient in another shape, or not summed over the batch."""
    for p in list(c.left):
        got, want = c.got(p), [e[p] for e in c.expected]
        shapes = [t.run.misshaped.get(p) for t in c.trials]
        reshaped = all(np.size(g) == e.size and close(np.reshape(g, e.shape), e) for g, e in zip(got, want, strict=True))
        if all(shapes) and reshaped:
            c.claim("shape_only", [p], f"has the right values in shape {shapes[0]}, which its layout cannot hold")
        elif p.startswith("W") and all(close(np.asarray(g).T, e) for g, e in zip(got, want, strict=True)):
            c.claim("transposed", [p], "equals the transpose of the expected gradient")
        elif p.startswith("b") and reshaped and all(np.shape(g) != e.shape for g, e in zip(got, want, strict=True)):
            c.claim("shape_only", [p], f"has the right values in shape {np.shape(got[0])} instead of {want[0].shape}")
        elif p.startswith("b") and _unreduced(p, c.trials, c.expected):
            c.claim("bias_not_reduced", [p], "holds per-sample values instead of their sum over the batch")


def _deviation(c: Claims) -> None:
    """A deviation of the backward pass (harness.core.net): the one explaining most gradients."""
    candidates = []
    for dev in dict.fromkeys(d for t in c.trials for d in net.deviations(t.spec)):   # cases may differ (L2 or not)
        if dev.kind == "stale_weights" and not c.trials[0].run.grads_from_update:
            continue          # code that returns gradients cannot use weights it has not updated yet
        predicted = [t.predict(dev) for t in c.trials]
        hits = [p for p in c.left if all(close(t.run.grads[p], pr[p]) for t, pr in zip(c.trials, predicted, strict=True))
                and any(not close(pr[p], e[p]) for pr, e in zip(predicted, c.expected, strict=True))]
        if hits:
            candidates.append((len(hits), dev, hits))
    for _, dev, hits in sorted(candidates, key=lambda x: -x[0])[:1]:
        where = f" at layer {dev.layer}" if dev.layer else ""
        c.claim(DEVIATION_CAUSES[dev.kind], hits, f"matches backprop with this bug{where} in every run", dev.layer)


def _factors(c: Claims) -> None:
    """A constant factor (N, K, 2, lr, a hard-coded batch size, a sign), grouped by the factor."""
    by_factor: dict = {}
    for p in list(c.left):
        found = ratios([(t.run.grads[p], e[p]) for t, e in zip(c.trials, c.expected, strict=True)])
        if not found and any(t.spec.regularized(p) for t in c.trials):    # the factor on the data part, L2 right
            found = ratios([(np.asarray(t.run.grads[p], np.float64) - _l2_gradient(t, p), e[p] - _l2_gradient(t, p))
                            for t, e in zip(c.trials, c.expected, strict=True)])
        named = found and _name_factor(found, c.trials, c.trials[0].run.grads_from_update)
        if named:
            by_factor.setdefault((tuple(named[0]), named[1]), []).append(p)
    for (causes, words), params in by_factor.items():
        text = f"exactly {'-' if 'sign' in causes else ''}{words or '1'} times the expected gradient in every run"
        c.claim(causes[0], params, text + (" (and the sign is flipped)" if len(causes) > 1 and "sign" in causes else ""),
                n0=words)


# The per-gradient hypotheses, in order: each claims the failing gradients it explains.
PER_GRADIENT = (_absent, _nonfinite, _structure, _deviation, _factors)


def _step_finding(trials: list[Trial], spec: Spec) -> Finding | None:
    """Right gradients, wrong update: the step each parameter took, as a factor of lr times its
    gradient (the first factor found; parameters may differ, e.g. only the weights); for
    per-sample code, rows that interfere when one call gets several."""
    if any(t.run.chained is not None for t in trials):
        return Finding("rows_interfere", ("step",), "right one row per call, wrong with several rows in one call",
                       CAUSES["rows_interfere"].hint(HintContext(spec)))
    by_factor: dict = {}
    for k in spec.param_names:
        taken = [((np.asarray(t.run.loaded[k], np.float64) - np.asarray(t.run.stepped[k], np.float64)) / t.spec.lr,
                  t.expected[k]) for t in trials if k in t.run.stepped]
        factors = ratios(taken)
        if factors and all(abs(r - 1) <= 1e-6 for r in factors):
            continue                                   # this parameter steps right
        named = factors and _name_factor(factors, trials, with_lr=True)
        if not named:
            return _step_unexplained(spec)
        by_factor.setdefault((tuple(named[0]), named[1]), []).append(k)
    if not by_factor:
        return _step_unexplained(spec)
    (causes, words), params = next(iter(by_factor.items()))
    return Finding(causes[0], ("step",), f"the update moves {', '.join(params)} by {words} times lr * gradient, in every "
                   "run (the gradients themselves are right)", CAUSES[causes[0]].hint(HintContext(spec, n0=words)))


def _step_unexplained(spec: Spec) -> Finding:
    return Finding("unexplained", ("step",), "the update is not p - lr * gradient, though the gradients are right",
                   CAUSES["unexplained"].hint(HintContext(spec)))


def _l2_gradient(t: Trial, name: str):
    """The L2 term's part of a parameter's expected gradient in this run (0 where not regularized)."""
    if not t.spec.regularized(name):
        return 0.0
    return 2 * t.spec.l2_coefficient(len(t.X)) * np.asarray(t.params[name], np.float64)


def _right_in_float64(trials: list[Trial], failing: set[str], loss: bool = False) -> bool:
    """These float64 runs have the expected output and gradients (and loss): what failed, failed
    elsewhere (in float32, or with large weights)."""
    for t in trials:
        if t.run.output is not None and not close(t.run.output, net.forward(t.spec, t.params, t.X)):
            return False
        if any(p not in t.run.grads or p in t.run.misshaped or not close(t.run.grads[p], t.expected[p])
               for p in failing):
            return False
        if loss and not close(t.run.loss, _exact_loss(t)):
            return False
    return True


def _unreduced(p: str, trials: list[Trial], expected: list[dict]) -> bool:
    """Per-sample bias gradients returned as rows, or only the first sample's row."""
    for t, e in zip(trials, expected, strict=True):
        g = np.asarray(t.run.grads[p], np.float64)
        if g.ndim == 2 and g.shape[0] == t.X.shape[0] and close(g.sum(axis=0).reshape(e[p].shape), e[p]):
            continue
        n = t.X.shape[0]
        one = net.backprop(t.spec, t.params, t.X[:1], t.T[:1])[p]
        if n > 1 and g.shape == e[p].shape and any(close(g, one * f) for f in (1.0, 1.0 / n)):
            continue
        return False
    return True


def _loss_finding(trials: list[Trial], spec: Spec, loss_failed: bool, failing: set[str]) -> Finding | None:
    if not loss_failed:
        return None
    context = HintContext(spec)
    variant = _loss_variant(trials)
    if variant is not None and not failing:
        cause, seen, words = variant
        return Finding(cause, ("loss",), seen + ", while the gradients are right",
                       CAUSES[cause].hint(dataclasses.replace(context, n0=words)))
    factors = ratios([(t.run.loss, _exact_loss(t)) for t in trials])
    named = factors and _name_factor(factors, trials, with_lr=False)
    seen = f"the reported loss is {named[1]} times the spec's" if named else "the reported loss differs from the spec's"
    if failing:
        return Finding("loss_not_grad" if named else "unexplained", ("loss",), seen + "; fix the gradients first",
                       CAUSES["loss_not_grad"].hint(context))
    return Finding("loss_not_grad", ("loss",), seen + ", while the gradients are right: it is not the function "
                   "whose gradient you return", CAUSES["loss_not_grad"].hint(context))


def _exact_loss(t: Trial) -> float:
    return net.loss(t.spec, net.forward(t.spec, t.params, t.X), t.T, t.params)


def _loss_variant(trials: list[Trial]) -> tuple[str, str, str] | None:
    """The typical variant of the loss the reported one is, in every run: its L2 term missing,
    halved, doubled or with the biases flipped, or each log written log(p + eps). -> (cause,
    what was seen, the words for the hint) or None."""
    spec = trials[0].spec
    candidates: list[tuple[str, str, str, Callable]] = []
    if any(t.spec.l2 for t in trials):           # cases may differ: some without L2
        for factor, words in ((0.0, "without its L2 term"), (0.5, "with half its L2 term"),
                              (2.0, "with twice its L2 term")):
            candidates.append(("l2_loss", f"the reported loss is the loss {words}", "",
                               lambda t, f=factor: _exact_loss(t) + (f - 1) * net.l2_term(t.spec, t.params, len(t.X))))
        for name in trials[0].spec.param_names:
            candidates.append(("l2_loss", f"the reported loss leaves {name} out of its L2 term", "",
                               lambda t, k=name: _exact_loss(t) - t.spec.l2_coefficient(len(t.X)) * float(
                                   np.sum(np.square(t.params[k]))) if t.spec.regularized(k) else _exact_loss(t)))
        candidates.append(("l2_loss", "the reported loss regularizes the biases "
                           + ("not" if trials[0].spec.l2_biases else "too"), "",
                           lambda t: _exact_loss(t) - net.l2_term(t.spec, t.params, len(t.X))
                           + net.l2_term(t.spec, t.params, len(t.X), biases=not t.spec.l2_biases)))
    log_form = spec.loss_record.with_log_eps
    if log_form is not None:
        for eps in LOG_EPSILONS:
            for pos, neg, which in ((eps, eps, "each log"), (eps, 0.0, "log(p)"), (0.0, eps, "log(1 - p)")):
                if neg and spec.loss_record.name != "bce_mean_batch":
                    continue
                candidates.append(("log_epsilon", f"the reported loss equals the loss with {eps:g} added inside "
                                   f"{which}", f"{eps:g} inside {which}",
                                   lambda t, a=pos, b=neg: _exact_loss(t) - t.spec.loss_record.value(
                                       net.forward(t.spec, t.params, t.X), t.T) + log_form(
                                       net.forward(t.spec, t.params, t.X), t.T, a, b)))
    for cause, seen, words, value in candidates:
        if all(_loss_close(t.run.loss, value(t)) for t in trials) and \
                not all(_loss_close(_exact_loss(t), value(t)) for t in trials):
            return cause, seen, words
    return None


def _loss_close(actual, predicted: float) -> bool:
    a = float(np.asarray(actual, np.float64))
    return math.isfinite(a) and abs(a - predicted) <= LOSS_MATCH_RTOL * max(abs(predicted), 1e-300)


def _first_layer(spec: Spec, failing: set[str]) -> str:
    layers = sorted({int(p[1:]) for p in failing if p[1:].isdigit()})
    if not layers:
        return ""
    top = layers[-1]
    where = "the output layer" if top == spec.n_layers else f"hidden layer {top}"
    text = f"divergence starts at layer {top} ({where}: W{top}, b{top}), the first layer backprop computes that differs"
    below = [i for i in layers if i < top]
    if below:
        text += (f"; layers {', '.join(map(str, below))} below it differ too (they receive its delta)" if len(below) > 1
                 else f"; layer {below[0]} below it differs too (it receives its delta)")
    elif top < spec.n_layers:
        text += f"; the layers above it are right, so look at the delta passed down into layer {top}"
    return text
