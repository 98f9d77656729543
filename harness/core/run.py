"""What one backend hands back for one spec: plain numpy arrays in the canonical layout."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import npz
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
    npz.write(path, {"output": run.output, "loss": run.loss, "loaded": run.loaded, "grads": run.grads,
                     "stepped": run.stepped, "stepped_by": run.stepped_by})
    meta = {k: getattr(run, k) for k in _META}
    return {**meta, "notes": list(run.notes), "mutated": list(run.mutated)}


def load_run(path: Path, meta: dict) -> Run:
    arrays = npz.read(path)
    stepped_by: dict = {}
    for key, v in npz.group(arrays, "stepped_by").items():
        conv, name = key.split(".", 1)
        stepped_by.setdefault(conv, {})[name] = v
    return Run(output=arrays.get("output"), loss=arrays["loss"], stepped_by=stepped_by,
               **{g: npz.group(arrays, g) for g in ("loaded", "grads", "stepped")},
               **{**{k: meta[k] for k in _META if k in meta}, "notes": tuple(meta["notes"]),
                  "mutated": tuple(meta["mutated"])})
