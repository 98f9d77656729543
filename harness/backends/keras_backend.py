"""Keras, every flavour: Keras 3 on TensorFlow (backend `keras`, in-process), on jax
(`keras-jax`) and on torch (`keras-torch`), and Keras 2 through tf-keras (`tf-keras`). Dense
layers, the flavour's own gradient machinery, keras.optimizers with harness.core.optim's
hyperparameters. Keras, TensorFlow and tf-keras are imported here only.

One process can hold one Keras backend, so the flavour is fixed at import: BPH_KERAS_FLAVOUR
(tensorflow | jax | torch | tf-keras; default tensorflow), set by harness.backends.isolated for
the children that run the other flavours. Before the import this module sets KERAS_BACKEND
(and TF_USE_LEGACY_KERAS for tf-keras) and, unless the user set them, TF_CPP_MIN_LOG_LEVEL=2
and TF_ENABLE_ONEDNN_OPTS=0 (quiet; oneDNN off changes float32 results only at rounding level).
"""
from __future__ import annotations

import os
import sys

FLAVOUR = os.environ.get("BPH_KERAS_FLAVOUR", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
if FLAVOUR == "tf-keras":
    os.environ["TF_USE_LEGACY_KERAS"] = "1"
elif "keras" not in sys.modules:
    os.environ["KERAS_BACKEND"] = FLAVOUR

import numpy as np  # noqa: E402

if FLAVOUR == "tf-keras":
    import tensorflow as tf  # noqa: E402
    import tf_keras as keras  # noqa: E402
else:
    import keras  # noqa: E402
    if keras.config.backend() != FLAVOUR:
        raise ImportError(f"keras was already imported with the {keras.config.backend()!r} backend; "
                          f"this backend needs KERAS_BACKEND={FLAVOUR}")
    if FLAVOUR == "tensorflow":
        import tensorflow as tf  # noqa: E402

from ..core import optim  # noqa: E402
from ..core.activations import LEAKY_SLOPE  # noqa: E402
from ..core.spec import Spec  # noqa: E402
from .base import FrameworkBackend  # noqa: E402

KERAS3 = FLAVOUR != "tf-keras"
CONVENTION = "keras-exact" if FLAVOUR == "jax" else "keras"     # see harness.core.optim
NAME = {"tensorflow": "keras", "jax": "keras-jax", "torch": "keras-torch", "tf-keras": "tf-keras"}[FLAVOUR]


class _TfOps:
    """The few keras.ops that Keras 2 spells in TensorFlow."""
    sum = staticmethod(lambda x: tf.reduce_sum(x))
    square = staticmethod(lambda x: tf.square(x))
    cast = staticmethod(lambda x, dtype: tf.cast(x, dtype))
    shape = staticmethod(lambda x: tf.shape(x))
    log = staticmethod(lambda x: tf.math.log(x))
    log1p = staticmethod(lambda x: tf.math.log1p(x))
    where = staticmethod(lambda c, a, b: tf.where(c, a, b))


_ops = keras.ops if KERAS3 else _TfOps


def _n(y):
    return _ops.cast(_ops.shape(y)[0], y.dtype)


# One line per activation and per loss of harness.core (activations, losses). Means are written
# as sum / count: on jax, keras.ops.mean reduces float64 in float32 precision (measured: Keras
# 3.15, 9e-8 relative), which would hide every other difference.
ACTIVATIONS = {"relu": "relu", "sigmoid": "sigmoid", "linear": "linear", "tanh": "tanh", "softmax": "softmax",
               "leaky_relu": lambda x: _ops.where(x > 0, x, LEAKY_SLOPE * x)}
LOSSES = {
    "mse_mean_all": lambda y, t: _ops.sum(_ops.square(y - t)) / (_n(y) * y.shape[-1]),
    "half_sse_mean_batch": lambda y, t: 0.5 * _ops.sum(_ops.square(y - t)) / _n(y),
    "half_sse_sum_batch": lambda y, t: 0.5 * _ops.sum(_ops.square(y - t)),
    "softmax_ce_mean_batch": lambda y, t: _ops.sum(keras.losses.categorical_crossentropy(t, y, from_logits=True)) / _n(y),
    "sse_mean_batch": lambda y, t: _ops.sum(_ops.square(y - t)) / _n(y),
    "sse_sum_batch": lambda y, t: _ops.sum(_ops.square(y - t)),
    "ce_probs_mean_batch": lambda y, t: -_ops.sum(t * _ops.log(y)) / _n(y),        # no clipping, unlike Keras's own
    "bce_mean_batch": lambda y, t: -_ops.sum(t * _ops.log(y) + (1 - t) * _ops.log1p(-y)) / _n(y),
}


def _set_floatx(dtype: str) -> None:
    # floatx decides the dtype Keras gives the learning-rate variable and losses: set it first,
    # or lr becomes float32 (0.10000000149) and every float64 update is off by 1.5e-8.
    (keras.config.set_floatx if KERAS3 else keras.backend.set_floatx)(dtype)


def _optimizer(spec: Spec):
    o, lr, opts = spec.optimizer, spec.lr, keras.optimizers
    if o == "sgd":
        return opts.SGD(learning_rate=lr)
    if o in ("momentum", "nesterov"):
        return opts.SGD(learning_rate=lr, momentum=optim.MOMENTUM, nesterov=o == "nesterov")
    if o == "adam":
        return opts.Adam(learning_rate=lr, beta_1=optim.BETA1, beta_2=optim.BETA2, epsilon=optim.EPS)
    if o == "adamw":
        return opts.AdamW(learning_rate=lr, beta_1=optim.BETA1, beta_2=optim.BETA2, epsilon=optim.EPS,
                          weight_decay=optim.WEIGHT_DECAY)
    raise ValueError(o)


class KerasBackend(FrameworkBackend):
    name = NAME
    convention = CONVENTION

    def __init__(self):
        super().__init__()
        self._computes_in: dict = {}

    def versions(self) -> dict:
        out = {"keras": keras.__version__}
        if FLAVOUR in ("tensorflow", "tf-keras"):
            out["tensorflow"] = tf.__version__
        elif FLAVOUR == "jax":
            import jax
            out["jax"] = jax.__version__
        else:
            import torch
            out["torch"] = torch.__version__
        return out

    def settings(self) -> dict:
        out = {"keras_backend": keras.config.backend() if KERAS3 else "tensorflow (Keras 2, tf-keras)",
               "keras_floatx": "set to each run's dtype before building"}
        if FLAVOUR in ("tensorflow", "tf-keras"):
            out["tf_onednn_opts"] = os.environ.get("TF_ENABLE_ONEDNN_OPTS", "unset")
            out["tf_intra_op_threads"] = tf.config.threading.get_intra_op_parallelism_threads() or "default"
            out["tf32_execution"] = tf.config.experimental.tensor_float_32_execution_enabled()
        elif FLAVOUR == "jax":
            import jax
            out["jax_enable_x64"] = bool(jax.config.jax_enable_x64)
        else:
            import torch
            out["torch_threads"] = torch.get_num_threads()
            out["torch_tf32_matmul"] = torch.backends.cuda.matmul.allow_tf32
        return out

    def prepare(self, spec: Spec) -> None:
        _set_floatx(spec.dtype)

    def build(self, spec: Spec):
        _set_floatx(spec.dtype)
        layers = [keras.Input((spec.sizes[0],), dtype=spec.dtype)]
        layers += [keras.layers.Dense(n, activation=ACTIVATIONS[act], dtype=spec.dtype)
                   for n, act in zip(spec.sizes[1:], spec.activations, strict=True)]
        return keras.Sequential(layers)

    def load(self, model, params) -> None:
        for i, layer in enumerate(model.layers, start=1):
            layer.set_weights([params[f"W{i}"], params[f"b{i}"]])

    def read(self, model) -> dict:
        out = {}
        for i, layer in enumerate(model.layers, start=1):
            kernel, bias = layer.get_weights()
            out[f"W{i}"], out[f"b{i}"] = kernel, bias                 # Keras keeps (in, out) like us
        return out

    def forward_backward(self, spec: Spec, model, X, T):
        """(output, loss, [gradient per trainable variable]) with the flavour's own autodiff."""
        variables = model.trainable_variables
        if FLAVOUR in ("tensorflow", "tf-keras"):
            with tf.GradientTape() as tape:
                y = model(tf.constant(X), training=True)
                loss = LOSSES[spec.loss](y, tf.constant(T)) + _l2(spec, variables, len(X))
            return y, loss, tape.gradient(loss, variables)
        if FLAVOUR == "jax":
            import jax
            non_trainable = [v.value for v in model.non_trainable_variables]

            def f(trainable):
                y, _ = model.stateless_call(trainable, non_trainable, X, training=True)
                return LOSSES[spec.loss](y, T) + _l2(spec, trainable, len(X)), y
            (loss, y), grads = jax.value_and_grad(f, has_aux=True)([v.value for v in variables])
            return y, loss, grads
        import torch
        for v in variables:
            v.value.grad = None
        y = model(torch.from_numpy(X), training=True)
        loss = LOSSES[spec.loss](y, torch.from_numpy(T)) + _l2(spec, [v.value for v in variables], len(X))
        loss.backward()
        return y, loss, [v.value.grad for v in variables]

    def gradients(self, model, grads) -> dict:
        out = {}
        for i in range(len(model.layers)):
            out[f"W{i + 1}"], out[f"b{i + 1}"] = self.to_numpy(grads[2 * i]), self.to_numpy(grads[2 * i + 1])
        return out

    def optimizer(self, spec: Spec, model):
        return _optimizer(spec)

    def apply(self, opt, model, grads) -> None:
        opt.apply_gradients(zip(grads, model.trainable_variables, strict=True))

    def predict(self, model, X):
        return self.to_numpy(model(X, training=False))

    def to_numpy(self, value):
        return np.asarray(keras.ops.convert_to_numpy(value) if KERAS3 else value.numpy())

    def computed_in(self, dtype: str) -> str:
        """The dtype keras.ops.matmul really returns for two arrays of `dtype`: Keras on torch
        returns float32 for float64 and casts back afterwards, so the arrays alone would not tell."""
        if not KERAS3:
            return dtype
        if dtype not in self._computes_in:
            a = keras.ops.convert_to_tensor(np.ones((2, 2), dtype))
            self._computes_in[dtype] = str(keras.ops.convert_to_numpy(keras.ops.matmul(a, a)).dtype)
        return self._computes_in[dtype]


def create() -> KerasBackend:
    return KerasBackend()


def _l2(spec: Spec, variables, n: int):
    """The spec's L2 term of the trainable variables (kernel, bias per layer, in order)."""
    if not spec.l2:
        return 0.0
    kept = [v for i, v in enumerate(variables) if i % 2 == 0 or spec.l2_biases]
    return spec.l2_coefficient(n) * sum(_ops.sum(_ops.square(v)) for v in kept)
