"""What a net is: layer sizes, activations, loss and its reduction, dtype, batch, seed, lr.

A Spec is plain data. Every backend builds its model from a Spec and nothing else, so the
loss reduction is written here once, explicitly, and never implied by a framework default.
The loss and activation records are imported only when a Spec is validated or asks for them:
the grading child uses Specs and must not load the spec's math.
"""
from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
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


def _finite_number(x) -> bool:
    return isinstance(x, (int, float)) and math.isfinite(x)


def _finite_real(x) -> bool:
    """A finite int or float that is not a bool."""
    return not isinstance(x, bool) and _finite_number(x)


def _losses() -> dict:
    from .losses import LOSSES
    return LOSSES


def _l2_forms() -> dict:
    from .losses import L2_FORMS
    return L2_FORMS


def _optimizers() -> tuple:
    from .optim import OPTIMIZERS
    return OPTIMIZERS


def _unknown_activation(spec: Spec) -> str:
    from .activations import ACTIVATIONS
    for act in spec.activations:
        if act not in ACTIVATIONS:
            return f"unknown activation {act!r}; valid: {', '.join(ACTIVATIONS)}"
    return ""


def _output_layer_missing(spec: Spec) -> str:
    """A loss written for an output layer (softmax, sigmoid, logits) has it, with >= 2 classes
    where its targets are one-hot."""
    loss = spec.loss_record
    if loss.pairs_with and (spec.activations[-1] != loss.pairs_with or (loss.one_hot_targets and spec.sizes[-1] < 2)):
        return (f"{loss.title} needs a {loss.pairs_with} output layer"
                + (" (logits)" if loss.pairs_with == "linear" else "")
                + (" with >= 2 classes" if loss.one_hot_targets else "")
                + f", got {spec.activations[-1]} with {spec.sizes[-1]} output(s)")
    return ""


def _output_only_misplaced(spec: Spec) -> str:
    """An output-only activation (softmax) is the last layer's, under a loss written for it."""
    for i, act in enumerate(spec.activation_records, start=1):
        if act.output_only and (i != spec.n_layers or spec.loss_record.pairs_with != act.name):
            paired = [n for n, r in _losses().items() if r.pairs_with == act.name]
            return f"{act.name} is only an output layer, under a loss written for it: {', '.join(paired)}"
    return ""


def _absent_classes_invalid(spec: Spec) -> bool:
    fits = isinstance(spec.absent_classes, int) and 0 <= spec.absent_classes < spec.sizes[-1]
    return not fits or bool(spec.absent_classes and not spec.classification)


@dataclass(frozen=True)
class SpecRule:
    """A rule a valid Spec keeps: `broken(spec)` says the spec breaks it, `problem(spec)` what is wrong."""
    broken: Callable[[Spec], bool]
    problem: Callable[[Spec], str]

    def __call__(self, spec: Spec) -> str:
        return self.problem(spec) if self.broken(spec) else ""


# What makes a Spec invalid, checked in this order: the first problem found is the error. A later
# check may rely on an earlier one (the loss and activation records exist once their names are
# known). Each check says what is wrong, or "".
VALIDATION_RULES: tuple[Callable[[Spec], str], ...] = (
    SpecRule(lambda s: len(s.sizes) < 2, lambda s: f"sizes need at least an input and an output size, got {s.sizes}"),
    SpecRule(lambda s: any(n <= 0 for n in s.sizes),
             lambda s: f"every layer size must be >= 1, got {'-'.join(map(str, s.sizes))}"),
    SpecRule(lambda s: len(s.activations) != s.n_layers,
             lambda s: f"{s.n_layers} layers need {s.n_layers} activations, got {s.activations}"),
    _unknown_activation,
    SpecRule(lambda s: s.loss not in _losses(), lambda s: f"unknown loss {s.loss!r}; valid: {', '.join(_losses())}"),
    _output_layer_missing,
    _output_only_misplaced,
    SpecRule(lambda s: s.batch <= 0, lambda s: f"batch must be >= 1, got {s.batch}"),
    SpecRule(lambda s: s.dtype not in DTYPES, lambda s: f"dtype must be one of {', '.join(DTYPES)}, got {s.dtype!r}"),
    SpecRule(lambda s: not (_finite_number(s.lr) and s.lr > 0),
             lambda s: f"learning rate must be a finite number > 0, got {s.lr!r}"),
    SpecRule(lambda s: s.optimizer not in _optimizers(),
             lambda s: f"unknown optimizer {s.optimizer!r}; valid: {', '.join(_optimizers())}"),
    SpecRule(lambda s: not (isinstance(s.steps, int) and s.steps >= 1),
             lambda s: f"steps must be a whole number >= 1, got {s.steps!r}"),
    SpecRule(lambda s: not (_finite_real(s.l2) and s.l2 >= 0),
             lambda s: f"the L2 strength must be a finite number >= 0, got {s.l2!r}"),
    SpecRule(lambda s: s.l2_form not in _l2_forms(),
             lambda s: f"unknown L2 form {s.l2_form!r}; valid: "
                       + ", ".join(f"{k} ({f.written})" for k, f in _l2_forms().items())),
    SpecRule(lambda s: not isinstance(s.l2_biases, bool),
             lambda s: f"l2_biases must be true or false, got {s.l2_biases!r}"),
    SpecRule(lambda s: not (_finite_real(s.init_scale) and s.init_scale > 0),
             lambda s: f"init_scale must be a finite number > 0, got {s.init_scale!r}"),
    SpecRule(lambda s: not _finite_real(s.logit_offset),
             lambda s: f"logit_offset must be a finite number, got {s.logit_offset!r}"),
    SpecRule(_absent_classes_invalid,
             lambda s: f"absent_classes must be a whole number below the number of classes ({s.sizes[-1]}), for a "
                       f"classifier; got {s.absent_classes!r}"),
    SpecRule(lambda s: s.seed < 0, lambda s: f"seed must be >= 0, got {s.seed}"),
)


def validate(spec: Spec) -> Spec:
    """The spec itself, or a SpecError naming it and the first of VALIDATION_RULES it breaks."""
    for rule in VALIDATION_RULES:
        problem = rule(spec)
        if problem:
            raise SpecError(f"{spec.name}: {problem}")
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
