"""What one backend hands back for one spec: plain numpy arrays in the canonical layout."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .params import Params

STAGES = ("forward", "loss", "gradients", "step")


@dataclass(frozen=True)
class Run:
    backend: str
    loaded: Params            # parameters read back right after loading the canonical ones
    output: np.ndarray | None  # forward output (logits for softmax cross-entropy); None: the code has no forward call
    loss: np.ndarray          # 0-d
    grads: Params             # d loss / d parameter, canonical layout
    stepped: Params           # parameters after spec.steps steps of spec.optimizer on (X, T) (a backend's
                              # run; torch's convention where stepped_by has each); after the code's one
                              # update (SGD, spec.lr) in a driven or expected run (drive.runner, net.spec_run)
    notes: tuple[str, ...] = ()
    grads_from_update: bool = False   # gradients recovered as (before - after) / lr
    updates_summed: int = 1           # how many recovered updates each gradient sums (per-sample loops)
    convention: str = ""              # optimizer convention `stepped` follows (harness.core.optim), "" for SGD
    stepped_by: dict = field(default_factory=dict)   # the numpy reference: convention -> parameters
    computed_in: str = ""             # the dtype the backend's ops really returned, when narrower than its arrays
    mutated: tuple[str, ...] = ()     # inputs the code modified in place (X, T, rows)
    one_call: dict | None = None      # per-sample code: the parameters after one call over all the rows ...
    chained: dict | None = None       # ... and after its one-row calls chained, each from the last one's weights
    step_problem: str = ""            # the code's own update raised (its gradients still count)
    misshaped: dict = field(default_factory=dict)   # parameter -> the shape its gradient came back in, which
                                                    # the layout cannot read (values in `grads` when they fit)
    versions: dict = field(default_factory=dict)

    def stage(self, name: str, convention: str = "") -> Params:
        """The arrays compared at one stage, keyed by what the message should call them; for the
        step, in the given optimizer convention when this run has one per convention."""
        if name == "forward":
            return {"output": self.output}
        if name == "loss":
            return {"loss": self.loss}
        if name == "gradients":
            return self.grads
        if name == "step":
            return self.stepped_by.get(convention, self.stepped)
        raise KeyError(name)

    def computed_dtype(self) -> str:
        """The dtype the backend really computed in, read off what it returned."""
        dtypes = {a.dtype for a in (self.output, *self.grads.values())
                  if a is not None and np.issubdtype(a.dtype, np.floating)}
        if self.computed_in:
            dtypes.add(np.dtype(self.computed_in))
        return str(min(dtypes, key=lambda d: d.itemsize)) if dtypes else "unknown"


# --- across processes: arrays in one .npz, flags as JSON-able metadata --------------------------
_META = ("backend", "notes", "grads_from_update", "updates_summed", "mutated", "convention", "versions",
         "computed_in")


def save_run(run: Run, path: Path) -> dict:
    """Write the arrays to `path` (.npz); return the rest as JSON-able metadata."""
    arrays = {"output": run.output, "loss": run.loss}
    for group in ("loaded", "grads", "stepped"):
        arrays.update({f"{group}.{k}": v for k, v in getattr(run, group).items()})
    for conv, params in run.stepped_by.items():
        arrays.update({f"stepped_by.{conv}.{k}": v for k, v in params.items()})
    np.savez(path, **{k: np.asarray(v) for k, v in arrays.items()})
    meta = {k: getattr(run, k) for k in _META}
    return {**meta, "notes": list(run.notes), "mutated": list(run.mutated)}


def load_run(path: Path, meta: dict) -> Run:
    with np.load(path, allow_pickle=False) as data:
        arrays = {k: data[k] for k in data.files}
    group = {g: {k.split(".", 1)[1]: v for k, v in arrays.items() if k.split(".", 1)[0] == g}
             for g in ("loaded", "grads", "stepped")}
    stepped_by: dict = {}
    for key, v in arrays.items():
        if key.startswith("stepped_by."):
            _, conv, name = key.split(".", 2)
            stepped_by.setdefault(conv, {})[name] = v
    return Run(output=arrays["output"], loss=arrays["loss"], stepped_by=stepped_by, **group,
               **{**{k: meta[k] for k in _META if k in meta}, "notes": tuple(meta["notes"]),
                  "mutated": tuple(meta["mutated"])})
