"""Optimizers in plain numpy, in each framework's own convention, so that every framework is
compared with the convention it implements and a cross-framework difference is named a
convention gap (with its size), not a bug.

    momentum   torch:  b = mu*b + g;            p -= lr*b
               keras:  v = mu*v - lr*g;         p += v            (equal for a constant lr)
    nesterov   torch:  b = mu*b + g;            p -= lr*(g + mu*b)
               keras:  v = mu*v - lr*g;         p += mu*v - lr*g
    adam       torch:  p -= lr * m_hat / (sqrt(v_hat) + eps)                  eps after bias correction
               keras:  p -= lr*sqrt(1-b2^t)/(1-b1^t) * m / (sqrt(v) + eps)    eps-hat before it
    adamw      decoupled weight decay, p -= lr*wd*p before the Adam step (torch AdamW, Keras AdamW)
    adam_l2    coupled L2: g += wd*p, then Adam (torch Adam(weight_decay=wd)); reference only

Keras casts the momentum, the weight decay and the betas of the bias correction (beta^t)
through float32 even in float64: they arrive as float64(float32(0.9)), 3e-8 away from 0.9, while its moment updates use
the exact 1 - beta (measured: Keras 3.15). The keras convention does the same, in Keras's own
order of operations (m += (g - m)(1 - beta1)). Keras on jax with x64 keeps them exact: that is
the "keras-exact" convention (measured: Keras 3.15 on jax 0.10). Hyperparameters are fixed here
and passed to every framework.
"""
from __future__ import annotations

import numpy as np

from .run import Run

OPTIMIZERS = ("sgd", "momentum", "nesterov", "adam", "adamw")
CONVENTIONS = ("torch", "keras", "keras-exact")   # keras-exact: Keras on jax (x64), no float32 rounding
MOMENTUM = 0.9
BETA1, BETA2 = 0.9, 0.999
EPS = 1e-7
WEIGHT_DECAY = 0.01

FLOAT32_CONSTANTS = ("Keras on TensorFlow or torch casts momentum, weight decay and the betas of beta^t through "
                     "float32 (3e-8 relative in float64); Keras on jax with x64 does not")
GAPS = {
    "momentum": "Keras rounds the momentum 0.9 through float32 (3e-8 relative in float64); the update rules are "
                "otherwise equal",
    "nesterov": "Keras rounds the momentum 0.9 through float32 (3e-8 relative in float64); the update rules are "
                "otherwise equal",
    "adam": "torch adds eps to the bias-corrected sqrt(v_hat); Keras adds eps-hat to sqrt(v) before the "
            "correction (and rounds the betas through float32)",
    "adamw": "as adam: eps after (torch) vs before (Keras) the bias correction; both decay weights decoupled",
}


def _f32(x: float) -> float:
    return float(np.float32(x))


class Optimizer:
    """State for one parameter set; step(params, grads) -> new params (float64 math in the
    params' dtype)."""

    def __init__(self, name: str, convention: str, lr: float):
        if name not in OPTIMIZERS + ("adam_l2",):
            raise ValueError(f"unknown optimizer {name!r}; valid: {', '.join(OPTIMIZERS)}")
        if convention not in CONVENTIONS:
            raise ValueError(f"unknown convention {convention!r}; valid: {', '.join(CONVENTIONS)}")
        self.name, self.convention, self.lr = name, convention, lr
        keras = convention == "keras"            # rounds through float32; keras-exact does not
        self.mu = _f32(MOMENTUM) if keras else MOMENTUM
        self.pow1, self.pow2 = (_f32(BETA1), _f32(BETA2)) if keras else (BETA1, BETA2)   # for beta^t
        self.wd = _f32(WEIGHT_DECAY) if keras else WEIGHT_DECAY
        self.t = 0
        self.state: dict = {}

    def step(self, params: dict, grads: dict) -> dict:
        self.t += 1
        return {k: self._one(k, np.asarray(p), np.asarray(grads[k], p.dtype)) for k, p in params.items()}

    def _one(self, k, p, g):
        lr, mu, dt = self.lr, self.mu, p.dtype
        s = self.state.setdefault(k, {})
        if self.name == "sgd":
            return p - dt.type(lr) * g
        if self.name in ("momentum", "nesterov"):
            if self.convention == "torch":
                b = g.copy() if "b" not in s else mu * s["b"] + g          # torch: first step b = g
                s["b"] = b
                return p - lr * (g + mu * b if self.name == "nesterov" else b)
            v = mu * s.get("v", np.zeros_like(p)) - lr * g
            s["v"] = v
            return p + (mu * v - lr * g if self.name == "nesterov" else v)
        if self.name == "adamw":
            p = p - lr * self.wd * p if self.convention == "torch" else p - p * self.wd * lr
        if self.name == "adam_l2":
            g = g + WEIGHT_DECAY * p
        m, v = s.get("m", np.zeros_like(p)), s.get("v", np.zeros_like(p))
        c1, c2 = 1 - self.pow1 ** self.t, 1 - self.pow2 ** self.t
        if self.convention == "torch":
            m, v = BETA1 * m + (1 - BETA1) * g, BETA2 * v + (1 - BETA2) * g * g
            s["m"], s["v"] = m, v
            return p - lr * (m / c1) / (np.sqrt(v / c2) + EPS)
        m, v = m + (g - m) * (1 - BETA1), v + (g * g - v) * (1 - BETA2)
        s["m"], s["v"] = m, v
        return p - m * (lr * np.sqrt(c2) / c1) / (np.sqrt(v) + EPS)


def convention_gap(optimizer: str, ra: Run, rb: Run) -> str:
    """Why two runs' steps may differ by design: their optimizer conventions differ ("" if not)."""
    if optimizer == "sgd" or not (ra.convention and rb.convention) or ra.convention == rb.convention:
        return ""
    why = FLOAT32_CONSTANTS if {ra.convention, rb.convention} == {"keras", "keras-exact"} else \
        GAPS[optimizer]
    return f"convention gap ({ra.backend}: {ra.convention}, {rb.backend}: {rb.convention}): {why}"
