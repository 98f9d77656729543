"""Backend `keras`: Keras 3 on TensorFlow. Dense layers, tf.GradientTape, keras.optimizers.SGD.

TensorFlow and Keras are imported here only. Before the import this module sets
KERAS_BACKEND=tensorflow and, unless the user set them, TF_CPP_MIN_LOG_LEVEL=2 and
TF_ENABLE_ONEDNN_OPTS=0 (quiet, and oneDNN off changes float32 results only at rounding level).
"""
from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
if "keras" not in __import__("sys").modules:
    os.environ["KERAS_BACKEND"] = "tensorflow"

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from ..run import Run  # noqa: E402
from ..specs import Spec  # noqa: E402

if keras.config.backend() != "tensorflow":
    raise ImportError(f"keras was already imported with the {keras.config.backend()!r} backend; "
                      "the 'keras' backend needs KERAS_BACKEND=tensorflow")


def versions() -> dict:
    return {"keras": keras.__version__, "tensorflow": tf.__version__}


def settings() -> dict:
    return {"keras_backend": keras.config.backend(),
            "tf_onednn_opts": os.environ.get("TF_ENABLE_ONEDNN_OPTS", "unset"),
            "tf_intra_op_threads": tf.config.threading.get_intra_op_parallelism_threads() or "default"}


def loss_fn(spec: Spec, y, t):
    ops = keras.ops
    if spec.loss == "mse_mean_all":
        return ops.mean(keras.losses.mean_squared_error(t, y))
    if spec.loss == "half_sse_mean_batch":
        return 0.5 * ops.sum(ops.square(y - t)) / ops.cast(ops.shape(y)[0], y.dtype)
    if spec.loss == "half_sse_sum_batch":
        return 0.5 * ops.sum(ops.square(y - t))
    if spec.loss == "softmax_ce_mean_batch":
        return ops.mean(keras.losses.categorical_crossentropy(t, y, from_logits=True))
    raise ValueError(spec.loss)


def build(spec: Spec) -> keras.Sequential:
    # floatx decides the dtype Keras gives the learning-rate variable and losses: set it first,
    # or lr becomes float32 (0.10000000149) and every float64 update is off by 1.5e-8.
    keras.config.set_floatx(spec.dtype)
    layers = [keras.Input((spec.sizes[0],), dtype=spec.dtype)]
    layers += [keras.layers.Dense(n, activation=act, dtype=spec.dtype)
               for n, act in zip(spec.sizes[1:], spec.activations)]
    return keras.Sequential(layers)


def _read(model) -> dict:
    out = {}
    for i, layer in enumerate(model.layers, start=1):
        kernel, bias = layer.get_weights()
        out[f"W{i}"], out[f"b{i}"] = kernel, bias                 # Keras keeps (in, out) like us
    return out


_models: dict = {}


def run(spec: Spec, params, X, T) -> Run:
    key = (spec.sizes, spec.activations, spec.dtype)
    if key not in _models:                 # built once per architecture, reloaded every run
        _models[key] = build(spec)
    model = _models[key]
    keras.config.set_floatx(spec.dtype)
    for i, layer in enumerate(model.layers, start=1):
        layer.set_weights([params[f"W{i}"], params[f"b{i}"]])
    loaded = _read(model)
    Xt, Tt = tf.constant(X), tf.constant(T)
    with tf.GradientTape() as tape:
        y = model(Xt, training=True)
        loss = loss_fn(spec, y, Tt)
    variables = model.trainable_variables
    grad_list = tape.gradient(loss, variables)
    grads = {}
    for i in range(len(model.layers)):
        grads[f"W{i + 1}"], grads[f"b{i + 1}"] = grad_list[2 * i].numpy(), grad_list[2 * i + 1].numpy()
    keras.optimizers.SGD(learning_rate=spec.lr).apply_gradients(zip(grad_list, variables))
    return Run(backend="keras", loaded=loaded, output=np.asarray(y.numpy()), loss=np.asarray(loss.numpy()), grads=grads,
               stepped=_read(model), versions=versions())
