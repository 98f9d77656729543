"""Losses: one record each, in one registry. N = batch size, K = number of outputs, y = output,
t = target. Each record gives the value, the derivative with respect to the output (as a
residual times a coefficient), the terms that bound its round-off, and words for messages.
A framework maps each name to its own loss in its backend module (one line per loss there).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .activations import softmax as _softmax


def _log_softmax(y):
    shifted = y - y.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


@dataclass(frozen=True)
class Loss:
    name: str
    title: str                         # a short name: "softmax cross-entropy"
    description: str                   # what it is, in words (messages and hints)
    derivative: str                    # d loss / d y, in words (hints)
    value: Callable                    # (y, t) -> float
    residual: Callable                 # (y, t) -> r with d loss / d y = coefficient(N, K) * r
    residual_terms: Callable           # (y, t) -> per entry, the sum of |terms| making up r
    coefficient: Callable              # (N, K) -> float
    # The output activation this loss is written for, whose slope its residual already includes
    # (softmax cross-entropy on logits: linear; on probabilities: softmax; BCE: sigmoid): the
    # residual is then the derivative with respect to the last pre-activation. None: any output.
    pairs_with: str | None = None
    one_hot_targets: bool = False
    # The value with every log(p) written log(p + eps) (a stabilizer some courses use), or None
    # for a loss that takes no log; BCE's log(1 - p) takes eps_neg when given (code often
    # stabilizes only one of its two logs).
    with_log_eps: Callable | None = None       # (y, t, eps, eps_neg=None) -> float
    # Per entry, a bound of |d residual / d x| for x the output y (or, where the loss folds the
    # output activation's slope, the last pre-activation): how far round-off in the forward pass
    # moves the residual (error analysis of the output delta).
    residual_sensitivity: Callable = lambda y, t: np.ones_like(y)
    # For a loss on probabilities: per entry |d value / d y| * |y| / coefficient, how far the
    # rounding of each probability itself (eps |y|) moves the value: large where y nears 0 or 1.
    rounding_sensitivity: Callable | None = None

    def delta(self, y, t):
        """d loss / d y."""
        n, k = y.shape
        return self.residual(y, t) * self.coefficient(n, k)


def _squared(name, description, derivative, coefficient, value):
    return Loss(name, "squared error", description, derivative, value, lambda y, t: y - t,
                lambda y, t: np.abs(y) + np.abs(t), coefficient)


LOSSES: dict[str, Loss] = {loss.name: loss for loss in (
    _squared("mse_mean_all", "mean over all N*K elements of (y - t)^2", "2 (y - t) / (N K)",
             lambda n, k: 2.0 / (n * k), lambda y, t: float(np.mean((y - t) ** 2))),
    _squared("half_sse_mean_batch", "1/2 * sum over outputs of (y - t)^2, averaged over the batch", "(y - t) / N",
             lambda n, k: 1.0 / n, lambda y, t: float(0.5 * np.sum((y - t) ** 2) / y.shape[0])),
    _squared("half_sse_sum_batch", "1/2 * sum over outputs of (y - t)^2, summed over the batch", "(y - t)",
             lambda n, k: 1.0, lambda y, t: float(0.5 * np.sum((y - t) ** 2))),
    Loss("softmax_ce_mean_batch", "softmax cross-entropy",
         "softmax cross-entropy of logits y with one-hot t, averaged over the batch",
         "(softmax(y) - t) / N", lambda y, t: float(-np.sum(t * _log_softmax(y)) / y.shape[0]),
         lambda y, t: _softmax(y) - t, lambda y, t: _softmax(y) + np.abs(t), lambda n, k: 1.0 / n,
         pairs_with="linear", one_hot_targets=True,
         with_log_eps=lambda y, t, eps, eps_neg=None: float(-np.sum(t * np.log(_softmax(y) + eps)) / y.shape[0]),
         residual_sensitivity=lambda y, t: 2 * _softmax(y)),
    _squared("sse_mean_batch", "sum over outputs of (y - t)^2 (no 1/2), averaged over the batch", "2 (y - t) / N",
             lambda n, k: 2.0 / n, lambda y, t: float(np.sum((y - t) ** 2) / y.shape[0])),
    _squared("sse_sum_batch", "sum over outputs and the batch of (y - t)^2 (no 1/2)", "2 (y - t)",
             lambda n, k: 2.0, lambda y, t: float(np.sum((y - t) ** 2))),
    Loss("ce_probs_mean_batch", "cross-entropy on probabilities",
         "cross-entropy of softmax probabilities y with one-hot t, averaged over the batch",
         "(y - t) / N with respect to the logits (softmax and log cancel)",
         lambda y, t: float(-np.sum(t * np.log(y)) / y.shape[0]), lambda y, t: y - t,
         lambda y, t: np.abs(y) + np.abs(t), lambda n, k: 1.0 / n, pairs_with="softmax", one_hot_targets=True,
         with_log_eps=lambda y, t, eps, eps_neg=None: float(-np.sum(t * np.log(y + eps)) / y.shape[0]),
         residual_sensitivity=lambda y, t: 2 * y, rounding_sensitivity=lambda y, t: np.abs(t)),
    Loss("bce_mean_batch", "binary cross-entropy",
         "binary cross-entropy of sigmoid outputs y with targets t, summed over outputs, averaged over the batch",
         "(y - t) / N with respect to the pre-activation (sigmoid' and the log's derivative cancel)",
         lambda y, t: float(-np.sum(t * np.log(y) + (1 - t) * np.log1p(-y)) / y.shape[0]), lambda y, t: y - t,
         lambda y, t: 1 + np.abs(y) + np.abs(t), lambda n, k: 1.0 / n, pairs_with="sigmoid",
         with_log_eps=lambda y, t, eps, eps_neg=None: float(-np.sum(
             t * np.log(y + eps) + (1 - t) * np.log(1 - y + (eps if eps_neg is None else eps_neg))) / y.shape[0]),
         residual_sensitivity=lambda y, t: y * (1 - y),
         rounding_sensitivity=lambda y, t: np.abs(t) + np.abs(1 - t) * y / np.maximum(1 - y, np.finfo(np.float64).tiny)),
)}


@dataclass(frozen=True)
class L2Form:
    """One way courses write an L2 term on the weights: factor(N) * strength * sum of squares."""
    name: str
    written: str                       # the term, in code words
    gradient: str                      # its gradient for one weight W, in code words
    factor: Callable                   # N -> float


L2_FORMS: dict[str, L2Form] = {f.name: f for f in (
    L2Form("lambda", "reg * sum(W**2)", "2 * reg * W", lambda n: 1.0),                   # CS231n
    L2Form("half_lambda", "0.5 * reg * sum(W**2)", "reg * W", lambda n: 0.5),           # weight decay
    L2Form("half_lambda_over_n", "lambd / (2 * m) * sum(W**2)", "lambd / m * W", lambda n: 0.5 / n),  # deeplearning.ai
)}
