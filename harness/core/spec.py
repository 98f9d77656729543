"""What a net is: layer sizes, activations, loss and its reduction, dtype, batch, seed, lr.

A Spec is plain data. Every backend builds its model from a Spec and nothing else, so the
loss reduction is written here once, explicitly, and never implied by a framework default.
The loss and activation records are imported only when a Spec is validated or asks for them:
the grading child uses Specs and must not load the spec's math.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .activations import Activation
    from .losses import Loss

DTYPES = ("float64", "float32")


class SpecError(ValueError):
    """A spec or an override is invalid (bad size, batch, lr, dtype, name)."""


@dataclass(frozen=True)
class Spec:
    name: str
    sizes: tuple[int, ...]          # (inputs, hidden..., outputs)
    activations: tuple[str, ...]    # one per layer (len(sizes) - 1); the last applies to the output
    loss: str                       # a key of harness.core.losses.LOSSES
    batch: int
    seed: int = 0
    dtype: str = "float64"
    lr: float = 0.1
    description: str = ""
    optimizer: str = "sgd"          # see harness.core.optim: sgd | momentum | nesterov | adam | adamw
    steps: int = 1                  # optimizer steps compared (each on the same batch)
    l2: float = 0.0                 # strength of an L2 term added to the loss (0: none)
    l2_form: str = "lambda"         # how it is written: a key of harness.core.losses.L2_FORMS
    l2_biases: bool = False         # the biases are regularized too
    init_scale: float = 1.0         # the initial weights times this (saturated units)
    logit_offset: float = 0.0       # added to the output layer's bias: the same softmax, large logits
    absent_classes: int = 0         # classifiers: the batch's labels never use the last this many classes

    @property
    def n_layers(self) -> int:
        return len(self.sizes) - 1

    @property
    def n_weights(self) -> int:
        return sum(a * b for a, b in zip(self.sizes[:-1], self.sizes[1:], strict=True))

    @property
    def param_names(self) -> tuple[str, ...]:
        return tuple(f"{kind}{i}" for i in range(1, self.n_layers + 1) for kind in ("W", "b"))

    @property
    def loss_record(self) -> Loss:
        from .losses import LOSSES
        return LOSSES[self.loss]

    @property
    def activation_records(self) -> tuple[Activation, ...]:
        from .activations import ACTIVATIONS
        return tuple(ACTIVATIONS[a] for a in self.activations)

    def l2_coefficient(self, n: int) -> float:
        """c with the L2 term = c * sum of squares of the regularized parameters, at batch size n."""
        if not self.l2:
            return 0.0
        from .losses import L2_FORMS
        return self.l2 * L2_FORMS[self.l2_form].factor(n)

    def regularized(self, name: str) -> bool:
        """The parameter is in the L2 term."""
        return bool(self.l2) and (name.startswith("W") or self.l2_biases)

    @property
    def extreme(self) -> bool:
        """Made for large values (scaled weights, offset logits), not the usual ones."""
        return self.init_scale != 1 or self.logit_offset != 0

    @property
    def classification(self) -> bool:
        """Targets are one-hot class labels (else real-valued in [0, 1))."""
        return self.loss_record.one_hot_targets or self.sizes[-1] > 1

    def replace(self, **overrides) -> Spec:
        """A copy with overrides applied and validated; None values are ignored."""
        changes = {k: v for k, v in overrides.items() if v is not None}
        if "sizes" in changes:
            changes["sizes"] = tuple(int(s) for s in changes["sizes"])
        return validate(dataclasses.replace(self, **changes))

    def label(self) -> str:
        opt = "" if (self.optimizer, self.steps) == ("sgd", 1) else f", {self.optimizer} x{self.steps}"
        if self.l2:
            opt += f", L2 {self.l2:g} ({self.l2_form}{', biases too' if self.l2_biases else ''})"
        if self.init_scale != 1:
            opt += f", weights x{self.init_scale:g}"
        if self.logit_offset:
            opt += f", output bias +{self.logit_offset:g}"
        if self.absent_classes:
            opt += f", last {self.absent_classes} class(es) absent"
        return f"{self.name}[{'-'.join(map(str, self.sizes))}, batch {self.batch}, {self.dtype}, seed {self.seed}{opt}]"

    def to_json(self) -> dict:
        return dataclasses.asdict(self)

    @staticmethod
    def from_json(data: dict) -> Spec:
        return Spec(**{**data, "sizes": tuple(data["sizes"]), "activations": tuple(data["activations"])})


def validate(spec: Spec) -> Spec:
    from .activations import ACTIVATIONS
    from .losses import L2_FORMS, LOSSES
    from .optim import OPTIMIZERS
    if len(spec.sizes) < 2:
        raise SpecError(f"{spec.name}: sizes need at least an input and an output size, got {spec.sizes}")
    if any(s <= 0 for s in spec.sizes):
        raise SpecError(f"{spec.name}: every layer size must be >= 1, got {'-'.join(map(str, spec.sizes))}")
    if len(spec.activations) != spec.n_layers:
        raise SpecError(f"{spec.name}: {spec.n_layers} layers need {spec.n_layers} activations, got {spec.activations}")
    for act in spec.activations:
        if act not in ACTIVATIONS:
            raise SpecError(f"{spec.name}: unknown activation {act!r}; valid: {', '.join(ACTIVATIONS)}")
    if spec.loss not in LOSSES:
        raise SpecError(f"{spec.name}: unknown loss {spec.loss!r}; valid: {', '.join(LOSSES)}")
    loss = spec.loss_record
    if loss.pairs_with and (spec.activations[-1] != loss.pairs_with or (loss.one_hot_targets and spec.sizes[-1] < 2)):
        raise SpecError(f"{spec.name}: {loss.title} needs a {loss.pairs_with} output layer"
                        + (" (logits)" if loss.pairs_with == "linear" else "")
                        + (" with >= 2 classes" if loss.one_hot_targets else "")
                        + f", got {spec.activations[-1]} with {spec.sizes[-1]} output(s)")
    for i, act in enumerate(spec.activation_records, start=1):
        if act.output_only and (i != spec.n_layers or loss.pairs_with != act.name):
            paired = [n for n, r in LOSSES.items() if r.pairs_with == act.name]
            raise SpecError(f"{spec.name}: {act.name} is only an output layer, under a loss written for it: "
                            f"{', '.join(paired)}")
    if spec.batch <= 0:
        raise SpecError(f"{spec.name}: batch must be >= 1, got {spec.batch}")
    if spec.dtype not in DTYPES:
        raise SpecError(f"{spec.name}: dtype must be one of {', '.join(DTYPES)}, got {spec.dtype!r}")
    if not (isinstance(spec.lr, (int, float)) and math.isfinite(spec.lr) and spec.lr > 0):
        raise SpecError(f"{spec.name}: learning rate must be a finite number > 0, got {spec.lr!r}")
    if spec.optimizer not in OPTIMIZERS:
        raise SpecError(f"{spec.name}: unknown optimizer {spec.optimizer!r}; valid: {', '.join(OPTIMIZERS)}")
    if not (isinstance(spec.steps, int) and spec.steps >= 1):
        raise SpecError(f"{spec.name}: steps must be a whole number >= 1, got {spec.steps!r}")
    if isinstance(spec.l2, bool) or not (isinstance(spec.l2, (int, float)) and math.isfinite(spec.l2) and spec.l2 >= 0):
        raise SpecError(f"{spec.name}: the L2 strength must be a finite number >= 0, got {spec.l2!r}")
    if spec.l2_form not in L2_FORMS:
        raise SpecError(f"{spec.name}: unknown L2 form {spec.l2_form!r}; valid: "
                        + ", ".join(f"{k} ({f.written})" for k, f in L2_FORMS.items()))
    if not isinstance(spec.l2_biases, bool):
        raise SpecError(f"{spec.name}: l2_biases must be true or false, got {spec.l2_biases!r}")
    if isinstance(spec.init_scale, bool) or not (isinstance(spec.init_scale, (int, float))
                                                 and math.isfinite(spec.init_scale) and spec.init_scale > 0):
        raise SpecError(f"{spec.name}: init_scale must be a finite number > 0, got {spec.init_scale!r}")
    if isinstance(spec.logit_offset, bool) or not (isinstance(spec.logit_offset, (int, float))
                                                   and math.isfinite(spec.logit_offset)):
        raise SpecError(f"{spec.name}: logit_offset must be a finite number, got {spec.logit_offset!r}")
    if not (isinstance(spec.absent_classes, int) and 0 <= spec.absent_classes < spec.sizes[-1]) or \
            (spec.absent_classes and not spec.classification):
        raise SpecError(f"{spec.name}: absent_classes must be a whole number below the number of classes "
                        f"({spec.sizes[-1]}), for a classifier; got {spec.absent_classes!r}")
    if spec.seed < 0:
        raise SpecError(f"{spec.name}: seed must be >= 0, got {spec.seed}")
    return spec


def _builtin() -> dict[str, Spec]:
    return {s.name: validate(s) for s in (
        Spec("relu_mse", (784, 100, 10), ("relu", "linear"), "mse_mean_all", batch=32,
             description="784-100-10, ReLU hidden, linear output, MSE mean over all elements"),
        Spec("sigmoid_mse", (784, 500, 10), ("sigmoid", "sigmoid"), "half_sse_mean_batch", batch=32,
             description="784-500-10, sigmoid hidden and output, 1/2 sum of squares averaged over the batch"),
        Spec("xor", (2, 4, 1), ("sigmoid", "sigmoid"), "half_sse_sum_batch", batch=4, lr=0.5,
             description="2-4-1, sigmoid hidden and output, 1/2 sum of squares summed over the batch"),
        Spec("softmax_ce", (784, 50, 10), ("relu", "linear"), "softmax_ce_mean_batch", batch=32,
             description="784-50-10, ReLU hidden, softmax + cross-entropy averaged over the batch"),
        Spec("linear_221", (2, 2, 1), ("linear", "linear"), "half_sse_sum_batch", batch=1, lr=0.05,
             description="2-2-1, no activations, squared error of one sample (1/2 (y - t)^2)"),
    )}


def __getattr__(name: str):
    """SPECS, the built-in specs, made (and validated) on first use."""
    if name == "SPECS":
        globals()["SPECS"] = _builtin()
        return globals()["SPECS"]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def get_spec(name: str) -> Spec:
    specs = __getattr__("SPECS") if "SPECS" not in globals() else globals()["SPECS"]
    try:
        return specs[name]
    except KeyError:
        raise SpecError(f"unknown spec {name!r}; valid specs: {', '.join(specs)}") from None
