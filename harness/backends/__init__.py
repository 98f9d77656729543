"""Backends by command-line name. Each lives in its own module and is imported only on use, so
`import harness` imports no framework. A backend whose framework is missing is unavailable,
with the reason and the install hint, never silently passing.
"""
from __future__ import annotations

import importlib
import importlib.util
from dataclasses import dataclass


@dataclass(frozen=True)
class BackendInfo:
    name: str
    module: str                 # harness.backends.<module>
    requires: tuple[str, ...]   # top-level packages that must be importable
    install_hint: str
    description: str


BACKENDS: dict[str, BackendInfo] = {
    b.name: b
    for b in (
        BackendInfo("numpy", "np_reference", ("numpy",), "pip install numpy",
                    "the hand-written numpy reference nets (reference_impls/), driven through their adapters"),
        BackendInfo("torch", "torch_backend", ("torch",), 'pip install "backprop-harness[torch]"',
                    "PyTorch nn.Linear layers, autograd, torch.optim.SGD"),
        BackendInfo("keras", "keras_backend", ("keras", "tensorflow"), 'pip install "backprop-harness[tensorflow]"',
                    "Keras 3 on TensorFlow: Dense layers, tf.GradientTape, keras.optimizers.SGD"),
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


def load(name: str):
    """The backend module (imports its framework). Raises BackendUnavailable with the reason."""
    reason = missing_reason(name)
    if reason:
        raise BackendUnavailable(f"{name}: {reason}")
    try:
        return importlib.import_module(f"{__name__}.{info(name).module}")
    except ImportError as exc:
        raise BackendUnavailable(f"{name}: import failed ({exc}); install with: {info(name).install_hint}") from None
