"""Training parity: the numpy reference net, PyTorch and Keras trained from the same initial
weights on the same batches in the same order; per step the loss of each and how far each
framework's parameters have drifted from the numpy reference's; per epoch train and test
accuracy. Written as CSV + JSON, and as a PNG of the curves when matplotlib is installed.
"""
from __future__ import annotations

import csv
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .. import backends as backend_registry
from ..core import net
from ..core.params import init_params
from ..core.spec import Spec
from .datasets import Dataset

TRAINABLE = ("numpy", "torch", "keras", "jax")


@dataclass(frozen=True)
class StepLog:
    epoch: int
    step: int
    backend: str
    loss: float
    divergence: float             # max parameter difference from the numpy net, relative to its scale


@dataclass(frozen=True)
class EpochLog:
    epoch: int
    backend: str
    train_accuracy: float
    test_accuracy: float


@dataclass
class History:
    dtype: str
    steps: list[StepLog] = field(default_factory=list)
    epochs: list[EpochLog] = field(default_factory=list)
    seconds: dict = field(default_factory=dict)   # backend -> training wall seconds
    interrupted: bool = False                      # Ctrl-C: the steps and epochs so far

    def final(self) -> dict:
        last = max((e.epoch for e in self.epochs), default=0)
        return {e.backend: {"train_accuracy": e.train_accuracy, "test_accuracy": e.test_accuracy}
                for e in self.epochs if e.epoch == last}


def one_hot(y: np.ndarray, k: int, dtype: str) -> np.ndarray:
    return np.eye(k, dtype=dtype)[y]


def accuracy(out: np.ndarray, y: np.ndarray) -> float:
    return float(np.mean(np.argmax(out, axis=1) == y))


def _trainer(name: str, spec: Spec, params):
    backend = backend_registry.load(name)
    if not backend.trainable:
        raise backend_registry.BackendUnavailable(f"{name}: not supported by `harness train`; valid: {', '.join(TRAINABLE)}")
    return backend.trainer(spec, params)


def _divergence(p: dict, ref: dict) -> float:
    return max(float(np.max(np.abs(p[k].astype(np.float64) - ref[k]))) / max(float(np.max(np.abs(ref[k]))), 1e-300)
               for k in ref)


def train(spec: Spec, data: Dataset, epochs: int, backend_names, progress=None) -> tuple[History, list[str]]:
    """Train every backend in lockstep; returns the history and the backends skipped (with why)."""
    spec = spec.replace(sizes=(data.n_features, *spec.sizes[1:-1], data.n_classes))
    params = init_params(spec)
    trainers, skipped = {}, []
    for name in backend_names:
        try:
            trainers[name] = _trainer(name, spec, params)
        except backend_registry.BackendUnavailable as exc:
            skipped.append(str(exc))
    h = History(spec.dtype, seconds={n: 0.0 for n in trainers})
    Xtr, Xte = data.X_train.astype(spec.dtype), data.X_test.astype(spec.dtype)
    Ttr = one_hot(data.y_train, data.n_classes, spec.dtype)
    try:
        _lockstep(spec, data, epochs, trainers, h, Xtr, Xte, Ttr, progress)
    except KeyboardInterrupt:          # keep what is done: the caller writes it
        h.interrupted = True
    return h, skipped


def _lockstep(spec: Spec, data: Dataset, epochs: int, trainers: dict, h: History, Xtr, Xte, Ttr, progress) -> None:
    n, step = len(Xtr), 0
    total = epochs * -(-n // spec.batch)
    for epoch in range(1, epochs + 1):
        order = np.random.default_rng([spec.seed, 100 + epoch]).permutation(n)
        for start in range(0, n, spec.batch):
            idx = order[start:start + spec.batch]
            X, T = Xtr[idx], Ttr[idx]
            step += 1
            params_now = {}
            for name, tr in trainers.items():
                t = time.perf_counter()
                out = tr.step(X, T)
                h.seconds[name] += time.perf_counter() - t
                loss = net.loss(spec, np.asarray(out, np.float64), T.astype(np.float64))
                params_now[name] = tr.params()
                div = _divergence(params_now[name], params_now["numpy"]) if "numpy" in params_now else float("nan")
                h.steps.append(StepLog(epoch, step, name, loss, div))
            if progress:
                progress(step, total, epoch)
        for name, tr in trainers.items():
            h.epochs.append(EpochLog(epoch, name, accuracy(tr.output(Xtr), data.y_train),
                                     accuracy(tr.output(Xte), data.y_test)))


# --- writing -------------------------------------------------------------------------------
def write_csv(histories: list[History], path: Path) -> None:
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["dtype", "epoch", "step", "backend", "loss", "loss_minus_numpy", "max_param_divergence_from_numpy"])
        for h in histories:
            ref = {s.step: s.loss for s in h.steps if s.backend == "numpy"}
            for s in h.steps:
                w.writerow([h.dtype, s.epoch, s.step, s.backend, f"{s.loss:.17g}",
                            f"{s.loss - ref[s.step]:.3g}" if s.step in ref else "", f"{s.divergence:.3g}"])


def steps_done(h: History, backend: str) -> int:
    return sum(s.backend == backend for s in h.steps)


def summary(spec: Spec, data: Dataset, epochs: int, histories: list[History], skipped: list[str]) -> dict:
    out = {"spec": spec.name, "sizes": [data.n_features, *spec.sizes[1:-1], data.n_classes], "dataset": data.name,
           "dataset_description": data.description, "epochs": epochs, "batch": spec.batch, "lr": spec.lr,
           "optimizer": spec.optimizer, "seed": spec.seed, "skipped": skipped, "dtypes": {}}
    for h in histories:
        divs = [s.divergence for s in h.steps if s.backend != "numpy"]
        losses = {}
        for s in h.steps:
            losses.setdefault(s.step, {})[s.backend] = s.loss
        loss_diff = max((abs(v - d["numpy"]) for d in losses.values() for k, v in d.items() if "numpy" in d), default=0.0)
        out["dtypes"][h.dtype] = {"complete": not h.interrupted, "epochs_done": max((e.epoch for e in h.epochs), default=0),
                                  "final": h.final(), "max_param_divergence": max(divs, default=0.0),
                                  "max_loss_difference": loss_diff,
                                  "samples_per_s": {b: steps_done(h, b) * spec.batch / s for b, s in h.seconds.items() if s}}
    return out


def plot(histories: list[History], title: str, path: Path) -> str | None:
    """Loss and accuracy curves per backend, and the divergence curve per dtype; None if
    matplotlib is missing (the message says so)."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return "matplotlib not installed: no PNG (pip install matplotlib); the CSV and JSON have every number"
    from matplotlib.ticker import MaxNLocator
    fig, axes = plt.subplots(1, 3, figsize=(16, 4.5))
    main = histories[0]
    # the backends agree closely, so their curves coincide: each gets its own line style and marker
    # (drawn over each other, every one stays visible), and the third panel shows the differences
    styles = [dict(ls="-", marker="o", lw=2.2, alpha=0.55), dict(ls="--", marker="s", lw=1.4),
              dict(ls=":", marker="^", lw=1.4), dict(ls="-.", marker="x", lw=1.2)]
    for k, name in enumerate(dict.fromkeys(s.backend for s in main.steps)):
        style = styles[k % len(styles)]
        pts = [(s.step, s.loss) for s in main.steps if s.backend == name]
        if not pts:
            continue
        axes[0].plot(*zip(*pts, strict=True), label=name, markevery=max(1, len(pts) // 12), ms=5, **style)
        acc = [(e.epoch, e.test_accuracy) for e in main.epochs if e.backend == name]
        if acc:
            axes[1].plot(*zip(*acc, strict=True), label=f"{name}", ms=5, **style)
    axes[0].set(title=f"training loss per step ({main.dtype})", xlabel="step", ylabel="loss (log scale)", yscale="log")
    axes[1].set(title=f"test accuracy per epoch ({main.dtype})", xlabel="epoch", ylabel="test accuracy")
    axes[1].xaxis.set_major_locator(MaxNLocator(integer=True))
    for h in histories:
        for name in dict.fromkeys(s.backend for s in h.steps if s.backend != "numpy"):
            pts = [(s.step, max(s.divergence, 1e-18)) for s in h.steps if s.backend == name]
            if pts:
                axes[2].plot(*zip(*pts, strict=True), label=f"{name} {h.dtype}", lw=1)
    axes[2].set(title="parameters: difference from numpy", xlabel="step",
                ylabel="max |p - p_numpy| / max |p_numpy|", yscale="log")
    for ax in axes:
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
    fig.suptitle(title + ("  (interrupted: the steps done)" if any(h.interrupted for h in histories) else ""))
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return None
