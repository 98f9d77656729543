"""What one backend hands back for one spec: plain numpy arrays in the canonical layout."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

Params = dict[str, np.ndarray]

STAGES = ("forward", "loss", "gradients", "step")


@dataclass(frozen=True)
class Run:
    backend: str
    loaded: Params            # parameters read back right after loading the canonical ones
    output: np.ndarray        # forward output (logits for softmax cross-entropy)
    loss: np.ndarray          # 0-d
    grads: Params             # d loss / d parameter, canonical layout
    stepped: Params           # parameters after one SGD step with spec.lr
    notes: tuple[str, ...] = ()
    grads_from_update: bool = False   # gradients recovered as (before - after) / lr
    updates_summed: int = 1           # how many recovered updates each gradient sums (per-sample loops)
    own_step: bool = False            # `stepped` is the code's own update (not derived from `grads`)
    mutated: tuple[str, ...] = ()     # inputs the code modified in place (X, T, rows)
    versions: dict = field(default_factory=dict)

    def stage(self, name: str) -> Params:
        """The arrays compared at one stage, keyed by what the message should call them."""
        if name == "forward":
            return {"output": self.output}
        if name == "loss":
            return {"loss": self.loss}
        if name == "gradients":
            return self.grads
        if name == "step":
            return self.stepped
        raise KeyError(name)

    def computed_dtype(self) -> str:
        """The dtype the backend really computed in, read off what it returned."""
        dtypes = {a.dtype for a in (self.output, *self.grads.values()) if np.issubdtype(a.dtype, np.floating)}
        return str(min(dtypes, key=lambda d: d.itemsize)) if dtypes else "unknown"
