"""Layer assignments as a task kind: each layer on each case compared with what the layer must
compute (harness.core.layer_math) through the one comparison, scored per value, and what
fails diagnosed per layer (a transposed dw, an unsummed db, dx not in x's shape, a missing or
misplaced activation derivative, a constant factor such as N). Pure: runs in, a Graded out.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..core.case_data import LayerData, layer_data
from ..core.compare import Context, compare
from ..core.layer_kinds import role
from ..core.params import row_or_column
from ..core.tolerance import Tolerance, default_tolerance
from ..drive.assignment import LayerAssignment, LayerCaseDef
from ..drive.problems import Problem
from ..drive.protocol import Job
from .checks import Check, CheckId, CheckKind, Scored, accepted_upcast, case_checks_from
from .diagnose import CAUSES, Diagnosis, Finding, close, name_factor, ratios

GRADIENTS = {"affine": ("dx", "dw", "db"), "activation": ("dx",), "loss": ("dx",)}


def layer_check_ids(layer) -> list[CheckId]:
    """A layer's checks on one case: its forward value, each gradient it returns, its inputs."""
    return [CheckId(CheckKind.FORWARD, layer.name),
            *(CheckId(CheckKind.GRADIENT, f"{layer.name}.{g}") for g in GRADIENTS[role(layer.kind)]),
            CheckId(CheckKind.INPUTS, layer.name)]


class LayerTask:
    kind = "layers"

    def plan(self, assignment: LayerAssignment) -> dict[str, LayerData]:
        """Each layer on each case, layer by layer, with its data."""
        return {run_id: layer_data(case) for run_id, (_, case) in assignment.runs().items()}

    def adapter(self, assignment: LayerAssignment, submission: str):
        return None                     # each run carries its layer's adapter (job_runs)

    def job_runs(self, assignment: LayerAssignment, plan: dict[str, LayerData]) -> dict:
        """What the child runs: run id -> (the layer's adapter, its case)."""
        return {run_id: (layer, plan[run_id].case) for run_id, (layer, _) in assignment.runs().items()}

    def judge(self, job: Job, data: LayerData, observation) -> dict:
        return observation              # the layer's arrays, compared as they came back

    def score(self, assignment: LayerAssignment, plan: dict, results: dict, partials: dict,
              missing: Problem) -> Scored:
        """results: run id (LayerAssignment.runs) -> the layer's arrays (a dict) or a Problem."""
        cases = {c.name: c for c in assignment.cases}
        case_of = _case_names(assignment)
        scored = Scored(visibility={r: cases[c].visibility for r, c in case_of.items()}, evidence={})
        reshaped: list[str] = []                        # bias gradients read as (M,), where the assignment accepts it
        for run_id, (layer, _) in assignment.runs().items():
            case_def = cases[case_of[run_id]]
            result = results.get(run_id, missing)
            if not isinstance(result, Problem) and assignment.bias_shapes == "lenient":
                result = _bias_as_vector(result, layer.name, reshaped)
            checks, wrong = _run_checks(layer, plan[run_id], case_def, result, assignment, scored.upcast)
            scored.checks += checks
            for value, item in wrong.items():
                scored.evidence.setdefault(layer.name, {}).setdefault(value, []).append(item)
        if reshaped:
            scored.notes.append(f"bias gradient(s) {', '.join(dict.fromkeys(reshaped))} read as shape (M,): the "
                                "assignment accepts either shape, as the course's gradient check does")
        return scored

    def diagnose(self, assignment: LayerAssignment, plan: dict, scored: Scored, results: dict) -> Diagnosis:
        return Diagnosis(tuple(f for layer in assignment.layers
                               for f in _diagnose(layer, scored.evidence.get(layer.name, {}))))


def _case_names(assignment: LayerAssignment) -> dict[str, str]:
    """Run id -> the name of its case."""
    return {f"{layer.name}: {case.name}": case.name for layer in assignment.layers for case in assignment.cases}


def _bias_as_vector(result: dict, layer: str, reshaped: list) -> dict:
    """A db of shape (1, M) or (M, 1) read as (M,)."""
    db = result.get("db")
    if isinstance(db, np.ndarray) and row_or_column(db.shape, db.size):
        reshaped.append(f"{layer}.db {db.shape}")
        return {**result, "db": db.reshape(-1)}
    return result


def _run_checks(layer, data: LayerData, case_def: LayerCaseDef, result, assignment: LayerAssignment,
                upcast: list) -> tuple[list[Check], dict]:
    """One layer's checks on one case, and per value (out or loss, dx, dw, db) what the diagnosis reads."""
    ids = layer_check_ids(layer)
    messages: dict[CheckId, list[str]] = {i: [] for i in ids}
    wrong: dict[str, tuple] = {}
    problem = result if isinstance(result, Problem) else None
    if problem:
        for i in ids[:-1]:
            messages[i].append(problem.text())
    else:
        for i in ids[:-1]:
            name = _value_name(layer, i)
            mismatches = _compare_value(layer, data, name, result, assignment, upcast, case_def.name)
            messages[i] += [m.message() for m in mismatches]
            wrong[name] = (data.case, result.get(name), data.expected[name], data.inputs, bool(mismatches))
        changed = [n for n, key in (("x", "x_after"), ("dout", "dout_after"))
                   if n in data.inputs and not _same(result.get(key), data.inputs[n])]
        if changed:
            messages[ids[-1]].append(f"the layer modified its input(s) {', '.join(changed)} in place: the caller's "
                                     "arrays change under it; work on a copy (dx = dout.copy())")
    checks = case_checks_from(case_def.name, case_def.visibility, case_def.weight, assignment.scoring,
                              len(GRADIENTS[role(layer.kind)]), messages, problem)
    return checks, wrong


def _value_name(layer, check: CheckId) -> str:
    """The value a check compares: out (a loss layer's: loss), or the gradient it names."""
    if check.kind is CheckKind.FORWARD:
        return "loss" if role(layer.kind) == "loss" else "out"
    return check.param.split(".", 1)[1]


def _compare_value(layer, data: LayerData, name: str, result: dict, assignment: LayerAssignment, upcast: list,
                   case: str) -> list:
    """The value's mismatches through the one comparison, accepted float64 results set aside."""
    c, mags = data.case, data.magnitudes
    ctx = Context(f"{layer.name} ({layer.kind})", c.dtype, c.seed, name, "expected", "yours")
    rel = default_tolerance(c.dtype).rel
    tol = Tolerance(rel, scale=float(np.max(mags[name], initial=0.0))) if name == "loss" else \
        Tolerance(rel, magnitude=mags[name])
    comp = compare({name: data.expected[name]}, {name: result[name]} if name in result else {}, ctx, tol,
                   check_dtype=None if name == "loss" else c.dtype)
    if any(accepted_upcast(m, assignment.float64_results) for m in comp.mismatches):
        upcast.append(case)
    return [m for m in comp.mismatches if not accepted_upcast(m, assignment.float64_results)]


def _same(a, b) -> bool:
    return isinstance(a, np.ndarray) and a.shape == np.shape(b) and bool(np.array_equal(a, b, equal_nan=True))


# --- diagnosis, per layer ------------------------------------------------------------------------
def _diagnose(layer, seen: dict[str, list]) -> list[Finding]:
    """Per failing value of the layer, the first hypothesis that explains it in every failing case
    and agrees with the cases where it passed. `seen`: value -> [(case, got, expected, inputs,
    failed)] over every case."""
    out = []
    failing = {name for name, items in seen.items() if any(i[4] for i in items)}
    for name in sorted(failing, key=list(seen).index):
        items = [i for i in seen[name] if i[4]]
        cause, text = _explain(layer, name, items, seen[name], failing)
        out.append(Finding(cause, (f"{layer.name}.{name}" if name not in ("out", "loss") else layer.name,),
                           text, CAUSES[cause].layer or CAUSES["unexplained"].layer))
    return out


@dataclass(frozen=True)
class Seen:
    """One value of one layer (out, loss, dx, dw, db) across the cases: `items` the failing ones,
    `every` all of them, each (case, got, expected, inputs, failed); `failing`: the layer's
    values that failed somewhere."""
    layer: object
    name: str
    items: list
    every: list
    failing: set

    @property
    def pairs(self) -> list[tuple]:
        """(got, expected) in each failing case."""
        return [(i[1], i[2]) for i in self.items]

    @property
    def cases(self) -> list:
        return [i[0] for i in self.items]


def _explain(layer, name: str, items: list, every: list, failing: set) -> tuple[str, str]:
    """The first hypothesis (LAYER_HYPOTHESES, in order) that explains the value in every failing
    case; (cause, what was seen)."""
    seen = Seen(layer, name, items, every, failing)
    for hypothesis in LAYER_HYPOTHESES:
        found = hypothesis(seen)
        if found:
            return found
    return "unexplained", f"{name} differs in a way no typical bug explains"


def _missing(v: Seen):
    if any(g is None for g, _ in v.pairs):
        return "missing_gradient", f"{v.name} is not among the values the layer returns"
    return None


def _upcast(v: Seen):
    right = all(np.shape(g) == e.shape and close(g, e) for g, e in v.pairs)
    if right and "float64" in {str(np.asarray(g).dtype) for g, _ in v.pairs} and any(c.dtype == "float32" for c in v.cases):
        return "float64_upcast", f"{v.name} has the right values, as float64 for float32 inputs"
    return None


def _nonfinite(v: Seen):
    if not any(not np.all(np.isfinite(np.asarray(g, np.float64))) for g, _ in v.pairs):
        return None
    if not all(c.scale > 1 for c in v.cases):
        return "nonfinite", f"{v.name} holds inf or NaN"
    if v.name == "loss" and "dx" not in v.failing:
        return "log_underflow", ("the loss is inf only in the cases with large scores, while dx is right there: the row "
                                 "maximum is subtracted, but the log is taken of a probability that underflowed to 0")
    return "overflow", f"{v.name} holds inf or NaN only in the cases with large inputs"


def _transposed(v: Seen):
    if v.name == "dw" and all(close(np.asarray(g).T, e) for g, e in v.pairs):
        return "transposed", "dw equals the transpose of the expected gradient"
    return None


def _bias_unreduced(v: Seen):
    if v.name == "db" and all(np.ndim(g) == 2 and np.shape(g)[0] == c.batch and close(np.sum(g, axis=0), e)
                              for (g, e), c in zip(v.pairs, v.cases, strict=True)):
        return "bias_not_reduced", "db holds one row per sample instead of their sum"
    return None


def _reshaped(v: Seen):
    if all(np.shape(g) != e.shape and np.size(g) == e.size and close(np.reshape(g, e.shape), e) for g, e in v.pairs):
        return "shape_only", f"{v.name} has the right values in shape {np.shape(v.pairs[0][0])} instead of " \
                             f"{v.pairs[0][1].shape}"
    return None


def _activation_slip(v: Seen):
    if role(v.layer.kind) == "activation" and v.name == "dx":
        return _activation_deviation(v.layer.kind, v.items)
    return None


def _factor(v: Seen):
    factors = ratios([(i[1], i[2]) for i in v.every])          # the passing cases too: a factor must hold in each
    named = factors and name_factor(factors, [i[0].batch for i in v.every], [i[0].inputs for i in v.every])
    if named:
        return named[0][0], f"exactly {named[1]} times the expected {v.name} in every case"
    return None


# A failing value's hypotheses, in order: the first that explains it in every failing case wins.
LAYER_HYPOTHESES = (_missing, _upcast, _nonfinite, _transposed, _bias_unreduced, _reshaped, _activation_slip, _factor)


def _activation_deviation(kind: str, items: list):
    """dx of an activation layer under each typical slip, against what the code returned."""
    from ..core.activations import ACTIVATIONS
    act = ACTIVATIONS[kind]
    slips = {"missing_act_deriv": lambda x, a: np.ones_like(x),
             "deriv_at_activation": lambda x, a: act.slope(a, act.f(a))}
    if act.slope_of_output is not None:
        slips["deriv_formula_on_z"] = lambda x, a: act.slope_of_output(x)
    if act.miswritten_slope is not None:
        slips["deriv_miswritten"] = act.miswritten_slope[1]
    for cause, slope in slips.items():
        predicted = []
        for _, _, _, inputs, _ in items:
            x, dout = np.asarray(inputs["x"], np.float64), np.asarray(inputs["dout"], np.float64)
            predicted.append(dout * slope(x, act.f(x)))
        if all(close(p, e) for (_, _, e, _, _), p in zip(items, predicted, strict=True)):
            continue                  # this slip gives the right answer here (ReLU's slope at its output): no evidence
        if all(close(g, p) for (_, g, _, _, _), p in zip(items, predicted, strict=True)):
            return cause, "matches dx with this slip in every failing case"
    return None
