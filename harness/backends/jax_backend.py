"""Backend `jax`: the spec's net in jax.numpy, jax.value_and_grad, optax optimizers (whose
update rules follow torch's convention). float64 needs x64, switched on here at import
(jax_enable_x64) unless JAX_ENABLE_X64=0 says otherwise; jax and optax are imported here only."""
from __future__ import annotations

import os

os.environ.setdefault("JAX_PLATFORMS", "cpu")

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import optax  # noqa: E402

if os.environ.get("JAX_ENABLE_X64", "1").lower() not in ("0", "false"):
    jax.config.update("jax_enable_x64", True)

from ..core import optim  # noqa: E402
from ..core.activations import LEAKY_SLOPE  # noqa: E402
from ..core.spec import Spec  # noqa: E402
from .base import FrameworkBackend  # noqa: E402

# One line per activation and per loss of harness.core (activations, losses).
ACTIVATIONS = {"relu": jax.nn.relu, "sigmoid": jax.nn.sigmoid, "linear": lambda z: z, "tanh": jax.numpy.tanh,
               "leaky_relu": lambda z: jax.nn.leaky_relu(z, LEAKY_SLOPE), "softmax": lambda z: jax.nn.softmax(z, axis=-1)}
LOSSES = {
    "mse_mean_all": lambda y, t: jnp.mean((y - t) ** 2),
    "half_sse_mean_batch": lambda y, t: 0.5 * jnp.sum((y - t) ** 2) / y.shape[0],
    "half_sse_sum_batch": lambda y, t: 0.5 * jnp.sum((y - t) ** 2),
    "softmax_ce_mean_batch": lambda y, t: jnp.mean(optax.softmax_cross_entropy(y, t)),
    "sse_mean_batch": lambda y, t: jnp.sum((y - t) ** 2) / y.shape[0],
    "sse_sum_batch": lambda y, t: jnp.sum((y - t) ** 2),
    "ce_probs_mean_batch": lambda y, t: -jnp.sum(t * jnp.log(y)) / y.shape[0],
    "bce_mean_batch": lambda y, t: -jnp.sum(t * jnp.log(y) + (1 - t) * jnp.log1p(-y)) / y.shape[0],
}


def forward(spec: Spec, params, X):
    a = X
    for i, act in enumerate(spec.activations, start=1):
        a = ACTIVATIONS[act](a @ params[f"W{i}"] + params[f"b{i}"])
    return a


def _optax(spec: Spec):
    o, lr = spec.optimizer, spec.lr
    if o == "sgd":
        return optax.sgd(lr)
    if o in ("momentum", "nesterov"):
        return optax.sgd(lr, momentum=optim.MOMENTUM, nesterov=o == "nesterov")
    if o == "adam":
        return optax.adam(lr, b1=optim.BETA1, b2=optim.BETA2, eps=optim.EPS)
    if o == "adamw":
        return optax.adamw(lr, b1=optim.BETA1, b2=optim.BETA2, eps=optim.EPS, weight_decay=optim.WEIGHT_DECAY)
    raise ValueError(o)


class _Model:
    """jax is functional: the model is the spec and its current parameters."""

    def __init__(self, spec: Spec):
        self.spec, self.params = spec, {}


class _Optimizer:
    def __init__(self, transform, params):
        self.transform, self.state = transform, transform.init(params)


class JaxBackend(FrameworkBackend):
    name = "jax"

    def __init__(self):
        super().__init__()
        self._value_and_grad: dict = {}

    def versions(self) -> dict:
        return {"jax": jax.__version__, "optax": optax.__version__}

    def settings(self) -> dict:
        return {"jax_enable_x64": bool(jax.config.jax_enable_x64), "jax_platform": jax.default_backend(),
                "jax_default_matmul_precision": str(jax.config.jax_default_matmul_precision)}

    def build(self, spec: Spec) -> _Model:
        return _Model(spec)

    def load(self, model, params) -> None:
        model.params = {k: jnp.asarray(v) for k, v in params.items()}

    def read(self, model) -> dict:
        return {k: np.asarray(v) for k, v in model.params.items()}

    def inputs(self, array):
        return jnp.asarray(array)

    def _vg(self, spec: Spec):
        key = (spec.sizes, spec.activations, spec.loss, spec.l2, spec.l2_form, spec.l2_biases)
        if key not in self._value_and_grad:          # traced once per architecture, not per check
            def f(params, X, T):
                y = forward(spec, params, X)
                l2 = sum(jnp.sum(v ** 2) for k, v in params.items() if spec.regularized(k))
                return LOSSES[spec.loss](y, T) + spec.l2_coefficient(X.shape[0]) * l2, y
            self._value_and_grad[key] = jax.jit(jax.value_and_grad(f, has_aux=True))
        return self._value_and_grad[key]

    def forward_backward(self, spec: Spec, model, X, T):
        (loss, y), g = self._vg(spec)(model.params, X, T)
        return y, loss, g

    def gradients(self, model, grads) -> dict:
        return {k: np.asarray(v) for k, v in grads.items()}

    def optimizer(self, spec: Spec, model) -> _Optimizer:
        return _Optimizer(_optax(spec), model.params)

    def apply(self, opt, model, grads) -> None:
        updates, opt.state = opt.transform.update(grads, opt.state, model.params)
        model.params = optax.apply_updates(model.params, updates)

    def predict(self, model, X):
        return np.asarray(forward(model.spec, model.params, jnp.asarray(X)))


def create() -> JaxBackend:
    return JaxBackend()
