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

from .. import optim  # noqa: E402
from ..run import Run  # noqa: E402
from ..specs import Spec  # noqa: E402

_ACT = {"relu": jax.nn.relu, "sigmoid": jax.nn.sigmoid, "linear": lambda z: z}


def versions() -> dict:
    return {"jax": jax.__version__, "optax": optax.__version__}


def settings() -> dict:
    return {"jax_enable_x64": bool(jax.config.jax_enable_x64), "jax_platform": jax.default_backend(),
            "jax_default_matmul_precision": str(jax.config.jax_default_matmul_precision)}


def forward(spec: Spec, params, X):
    a = X
    for i, act in enumerate(spec.activations, start=1):
        a = _ACT[act](a @ params[f"W{i}"] + params[f"b{i}"])
    return a


def loss_fn(spec: Spec, y, t):
    if spec.loss == "mse_mean_all":
        return jnp.mean((y - t) ** 2)
    if spec.loss == "half_sse_mean_batch":
        return 0.5 * jnp.sum((y - t) ** 2) / y.shape[0]
    if spec.loss == "half_sse_sum_batch":
        return 0.5 * jnp.sum((y - t) ** 2)
    if spec.loss == "softmax_ce_mean_batch":
        return jnp.mean(optax.softmax_cross_entropy(y, t))
    raise ValueError(spec.loss)


def optimizer(spec: Spec):
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


_steps: dict = {}


def _value_and_grad(spec: Spec):
    key = (spec.sizes, spec.activations, spec.loss)
    if key not in _steps:                  # traced once per architecture, not per check
        def f(params, X, T):
            y = forward(spec, params, X)
            return loss_fn(spec, y, T), y
        _steps[key] = jax.jit(jax.value_and_grad(f, has_aux=True))
    return _steps[key]


def run(spec: Spec, params, X, T) -> Run:
    p = {k: jnp.asarray(v) for k, v in params.items()}
    loaded = {k: np.asarray(v) for k, v in p.items()}
    opt = optimizer(spec)
    state = opt.init(p)
    vg = _value_and_grad(spec)
    Xj, Tj = jnp.asarray(X), jnp.asarray(T)
    for step in range(spec.steps):
        (loss, y), g = vg(p, Xj, Tj)
        if step == 0:
            output, first_loss, grads = np.asarray(y), np.asarray(loss), {k: np.asarray(v) for k, v in g.items()}
        updates, state = opt.update(g, state, p)
        p = optax.apply_updates(p, updates)
    return Run(backend="jax", loaded=loaded, output=output, loss=first_loss, grads=grads,
               stepped={k: np.asarray(v) for k, v in p.items()}, versions=versions(), convention="torch")


class Trainer:
    """Parameters and optax state kept across batches (harness train)."""

    def __init__(self, spec: Spec, params):
        self.spec, self.p = spec, {k: jnp.asarray(v) for k, v in params.items()}
        self.opt = optimizer(spec)
        self.state = self.opt.init(self.p)
        self.vg = _value_and_grad(spec)

    def step(self, X, T, want_output: bool = True) -> np.ndarray | None:
        (_, y), g = self.vg(self.p, jnp.asarray(X), jnp.asarray(T))
        updates, self.state = self.opt.update(g, self.state, self.p)
        self.p = optax.apply_updates(self.p, updates)
        return np.asarray(y) if want_output else None

    def output(self, X) -> np.ndarray:
        return np.asarray(forward(self.spec, self.p, jnp.asarray(X)))

    def params(self) -> dict:
        return {k: np.asarray(v) for k, v in self.p.items()}
