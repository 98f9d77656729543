"""Backends by command-line name. Each lives in its own module and is imported only on use, so
`import harness` imports no framework. A backend whose framework is missing is unavailable,
with the reason and the install hint, never silently passing.
"""
from __future__ import annotations

import atexit
import importlib
import importlib.util
import sys
from dataclasses import dataclass


@dataclass(frozen=True)
class BackendInfo:
    name: str
    module: str                 # harness.backends.<module>, whose create() makes the Backend
    requires: tuple[str, ...]   # top-level packages that must be importable
    install_hint: str
    description: str
    float64_fix: str = "use --dtype float32"
    child_env: tuple = ()       # set: runs in its own child process with this environment
    child_defaults: tuple = ()  # environment the child gets unless the user set it


_KERAS_HINT = 'pip install "backprop-harness[tensorflow]"'
BACKENDS: dict[str, BackendInfo] = {
    b.name: b
    for b in (
        BackendInfo("numpy", "numpy_backend", ("numpy",), "pip install numpy",
                    "the hand-written numpy reference nets (reference_impls/), driven through their adapters"),
        BackendInfo("torch", "torch_backend", ("torch",), 'pip install "backprop-harness[torch]"',
                    "PyTorch nn.Linear layers, autograd, torch.optim"),
        BackendInfo("keras", "keras_backend", ("keras", "tensorflow"), _KERAS_HINT,
                    "Keras 3 on TensorFlow: Dense layers, tf.GradientTape, keras.optimizers"),
        BackendInfo("jax", "jax_backend", ("jax", "optax"), 'pip install "backprop-harness[jax]"',
                    "jax.numpy net, jax.value_and_grad (x64 on), optax optimizers",
                    "leave JAX_ENABLE_X64 unset or set it to 1 (the harness turns x64 on)"),
        BackendInfo("keras-jax", "keras_backend", ("keras", "jax"), 'pip install "backprop-harness[jax]" keras',
                    "Keras 3 on jax (own process): Dense layers, jax.value_and_grad of stateless_call",
                    "set JAX_ENABLE_X64=1 before keras is imported (the harness sets it for its keras-jax process "
                    "unless JAX_ENABLE_X64 is already set)",
                    (("BPH_KERAS_FLAVOUR", "jax"), ("KERAS_BACKEND", "jax")),
                    (("JAX_ENABLE_X64", "1"), ("JAX_PLATFORMS", "cpu"))),
        BackendInfo("keras-torch", "keras_backend", ("keras", "torch"), 'pip install keras "backprop-harness[torch]"',
                    "Keras 3 on torch (own process): Dense layers, torch autograd",
                    "Keras on torch computes float64 inputs in float32 in some ops: compare it in float32",
                    (("BPH_KERAS_FLAVOUR", "torch"), ("KERAS_BACKEND", "torch"))),
        BackendInfo("tf-keras", "keras_backend", ("tf_keras", "tensorflow"), 'pip install "backprop-harness[tf-keras]"',
                    "Keras 2 through tf-keras (own process, TF_USE_LEGACY_KERAS=1): Dense, GradientTape",
                    child_env=(("BPH_KERAS_FLAVOUR", "tf-keras"), ("TF_USE_LEGACY_KERAS", "1"))),
    )
}

class BackendUnavailable(RuntimeError):
    """The backend's framework is not installed or cannot be imported here."""


class UnknownBackend(ValueError):
    pass


def info(name: str) -> BackendInfo:
    try:
        return BACKENDS[name]
    except KeyError:
        raise UnknownBackend(f"unknown backend {name!r}; valid backends: {', '.join(BACKENDS)}") from None


def missing_reason(name: str) -> str | None:
    """Why the backend cannot run here (without importing the framework), or None."""
    b = info(name)
    missing = [pkg for pkg in b.requires if not _findable(pkg)]
    if missing:
        return f"{' and '.join(missing)} not installed; install with: {b.install_hint}"
    return None


def _findable(pkg: str) -> bool:
    try:
        return importlib.util.find_spec(pkg) is not None
    except (ImportError, ValueError):
        return False


_instances: dict = {}


def load(name: str):
    """The backend (a harness.backends.base.Backend; importing its framework on first use).
    Raises BackendUnavailable with the reason."""
    if name in _instances:
        return _instances[name]
    reason = missing_reason(name)
    if reason:
        raise BackendUnavailable(f"{name}: {reason}")
    b = info(name)
    if name != "numpy":
        _triton_before_tensorflow()
    if b.child_env:
        from .isolated import Isolated
        backend = Isolated(name, dict(b.child_env), dict(b.child_defaults))
    else:
        try:
            backend = importlib.import_module(f"{__name__}.{b.module}").create()
        except ImportError as exc:
            raise BackendUnavailable(f"{name}: import failed ({exc}); install with: {b.install_hint}") from None
    _instances[name] = backend
    return backend


def substitute(name: str, backend) -> object | None:
    """Use `backend` for `name` from now on (tests, a custom backend; None: the default again);
    returns the one it replaces."""
    info(name)
    previous = _instances.pop(name, None)
    if backend is not None:
        _instances[name] = backend
    return previous


_TRITON_FIRST = []


def _triton_before_tensorflow() -> None:
    """torch's CUDA wheels bring triton, and triton imported after TensorFlow segfaults (measured:
    torch 2.14.1+cu130 with tensorflow-cpu 2.21; torch.optim.SGD(momentum=...) imports
    torch._dynamo, which imports triton, so a check with Keras and then torch momentum killed the
    process). Where triton, torch and TensorFlow are all installed, torch._dynamo is imported
    before the first framework backend loads; elsewhere (CPU wheels: no triton) nothing is."""
    if _TRITON_FIRST or "tensorflow" in sys.modules:
        return
    _TRITON_FIRST.append(True)
    if all(importlib.util.find_spec(m) is not None for m in ("triton", "torch", "tensorflow")):
        import torch._dynamo  # noqa: F401


def loaded(name: str) -> bool:
    """Whether this backend already ran in this process (so asking its versions costs nothing new)."""
    return name in _instances


@atexit.register
def close_all() -> None:
    """End the child processes of isolated backends and remove their folders."""
    for backend in list(_instances.values()):
        close = getattr(backend, "close", None)
        if close:
            close()
