"""From a layer assignment's runs to its verdict: each layer on each case compared with what the
layer must compute (harness.core.layers) through the one comparison, scored per value, and what
fails diagnosed per layer (a transposed dw, an unsummed db, dx not in x's shape, a missing or
misplaced activation derivative, a constant factor such as N). Pure: runs in, a Graded out.
"""
from __future__ import annotations

import numpy as np

from ..core.compare import Context, compare
from ..core.layer_math import layer_expected, layer_inputs, layer_magnitudes
from ..core.layers import LayerCase, role
from ..core.params import row_or_column
from ..core.tolerance import Tolerance, default_tolerance
from ..drive.assignment import LayerAssignment, LayerCaseDef
from ..drive.problems import Problem, Verdict, grader_error
from .diagnose import Diagnosis, Finding, _close, _ratios, name_factor
from .evaluate import Check, CheckId, CheckKind, Graded, accepted_findings, accepted_upcast, verdict

GRADIENTS = {"affine": ("dx", "dw", "db"), "activation": ("dx",), "loss": ("dx",)}


def layer_check_ids(layer) -> list[CheckId]:
    """A layer's checks on one case: its forward value, each gradient it returns, its inputs."""
    return [CheckId(CheckKind.FORWARD, layer.name),
            *(CheckId(CheckKind.GRADIENT, f"{layer.name}.{g}") for g in GRADIENTS[role(layer.kind)]),
            CheckId(CheckKind.INPUTS, layer.name)]


def _points(check: CheckId, layer, scoring) -> float:
    if check.kind is CheckKind.GRADIENT:
        return scoring.gradients / len(GRADIENTS[role(layer.kind)])
    return getattr(scoring, check.kind.value)


def evaluate_layers(assignment: LayerAssignment, submission: str, results: dict, fatal: Problem | None = None,
                    notes=(), stdout: str = "", stderr: str = "", seconds: float = 0.0) -> Graded:
    """results: run id (LayerAssignment.runs) -> the layer's arrays (a dict) or a Problem."""
    missing = fatal or Problem(Verdict.CRASHED, "the process ended before this layer ran")
    checks: list[Check] = []
    failures: dict[str, dict[str, list]] = {}          # layer -> value -> [(case, got, expected)]
    upcast: list[str] = []
    reshaped: list[str] = []                           # bias gradients read as (M,), where the assignment accepts it
    for run_id, (layer, case) in assignment.runs().items():
        case_def = next(c for c in assignment.cases if run_id.endswith(f": {c.name}"))
        result = results.get(run_id, missing)
        if not isinstance(result, Problem) and assignment.bias_shapes == "lenient":
            result = _bias_as_vector(result, layer.name, reshaped)
        cs, wrong = _run_checks(layer, case, case_def, result, assignment, upcast)
        checks += cs
        for value, item in wrong.items():
            failures.setdefault(layer.name, {}).setdefault(value, []).append(item)
    problems = [r for r in results.values() if isinstance(r, Problem)]
    grader = [p for p in [fatal, *problems] if p is not None and p.kind is Verdict.GRADER]
    first = (grader + ([fatal] if fatal else problems))[:1]
    findings = tuple(f for layer in assignment.layers for f in _diagnose(layer, failures.get(layer.name, {})))
    status, problem = verdict(checks, first, Diagnosis(findings))
    accepted = accepted_findings(checks, upcast)
    if reshaped:
        notes = (*notes, f"bias gradient(s) {', '.join(dict.fromkeys(reshaped))} read as shape (M,): the assignment "
                         "accepts either shape, as the course's gradient check does")
    return Graded(submission, assignment.name, status, problem, tuple(checks), Diagnosis(findings),
                  (*notes, *accepted.notes), stdout, stderr, seconds, "\n".join(p.detail for p in grader if p.detail),
                  accepted=accepted.tags)


def _bias_as_vector(result: dict, layer: str, reshaped: list) -> dict:
    """A db of shape (1, M) or (M, 1) read as (M,)."""
    db = result.get("db")
    if isinstance(db, np.ndarray) and row_or_column(db.shape, db.size):
        reshaped.append(f"{layer}.db {db.shape}")
        return {**result, "db": db.reshape(-1)}
    return result


def _run_checks(layer, case: LayerCase, case_def: LayerCaseDef, result, assignment: LayerAssignment,
                upcast: list) -> tuple[list[Check], dict]:
    scoring = assignment.scoring
    ids = layer_check_ids(layer)
    messages: dict[CheckId, list[str]] = {i: [] for i in ids}
    wrong: dict[str, tuple] = {}
    problem = result if isinstance(result, Problem) else None
    if problem:
        for i in ids:
            if i.kind is not CheckKind.INPUTS:
                messages[i].append(problem.text())
    else:
        inputs = layer_inputs(case)
        expected, mags = layer_expected(case, inputs), layer_magnitudes(case, inputs)
        rel = default_tolerance(case.dtype).rel
        for i in ids[:-1]:
            name = "loss" if i.kind is CheckKind.FORWARD and role(layer.kind) == "loss" else \
                "out" if i.kind is CheckKind.FORWARD else i.param.split(".", 1)[1]
            ctx = Context(f"{layer.name} ({layer.kind})", case.dtype, case.seed, name, "expected", "yours")
            tol = Tolerance(rel, scale=float(np.max(mags[name], initial=0.0))) if name == "loss" else \
                Tolerance(rel, magnitude=mags[name])
            comp = compare({name: expected[name]}, {name: result[name]} if name in result else {}, ctx, tol,
                           check_dtype=None if name == "loss" else case.dtype)
            if any(accepted_upcast(m, assignment.float64_results) for m in comp.mismatches):
                upcast.append(case_def.name)
            mismatches = [m for m in comp.mismatches if not accepted_upcast(m, assignment.float64_results)]
            messages[i] += [m.message() for m in mismatches]
            wrong[name] = (case, result.get(name), expected[name], inputs, bool(mismatches))
        changed = [n for n, key in (("x", "x_after"), ("dout", "dout_after"))
                   if n in inputs and not _same(result.get(key), inputs[n])]
        if changed:
            messages[ids[-1]].append(f"the layer modified its input(s) {', '.join(changed)} in place: the caller's "
                                     "arrays change under it; work on a copy (dx = dout.copy())")
    checks = []
    for i in ids:
        points = case_def.weight * _points(i, layer, scoring)
        unchecked = problem is not None and i.kind is CheckKind.INPUTS
        text = "not checked: the run ended before it finished" if unchecked else "\n".join(messages[i])
        checks.append(Check(case_def.name, i, not messages[i] and not unchecked,
                            0.0 if messages[i] or unchecked else points, points, case_def.visibility, text,
                            checked=not unchecked))
    return checks, wrong


def _same(a, b) -> bool:
    return isinstance(a, np.ndarray) and a.shape == np.shape(b) and bool(np.array_equal(a, b, equal_nan=True))


# --- diagnosis, per layer ------------------------------------------------------------------------
HINTS = {
    "transposed": "dw = x.reshape(N, -1).T @ dout has the shape of w, (D, M)",
    "bias_not_reduced": "db = dout.sum(axis=0): one entry per output, summed over the batch",
    "shape_only": "return dx in the shape of x (dx.reshape(x.shape)); a bias gradient as (M,)",
    "missing_act_deriv": "dx = dout * f'(x): the upstream gradient times the activation's derivative at x",
    "deriv_at_activation": "f' is taken at the input x (or written in terms of the output: sigmoid' = out * (1 - out)), "
                           "not applied to the output again",
    "deriv_formula_on_z": "a derivative written in terms of the output (out * (1 - out), 1 - out**2) takes the output, "
                          "not x",
    "deriv_miswritten": "check the derivative's formula",
    "scale_batch": "the loss averages over the N rows: divide dx by N",
    "scale_inv_batch": "the loss sums over the rows: do not divide by N",
    "sign": "dx is d loss / d x: (softmax(x) - onehot(y)) / N, not its negative",
    "nonfinite": "look for an overflowing exp (subtract each row's maximum before a softmax), 0/0 or log(0)",
    "overflow": "subtract each row's maximum before exp: the case with large scores overflows otherwise",
    "log_underflow": "compute the log-probabilities as a log-softmax, shifted - log(sum(exp(shifted))) with shifted = "
                     "x - max(x), instead of log(probs): a probability that underflows to 0 has log -inf",
    "float64_upcast": "the values are right, in float64 for float32 inputs: make new arrays with the input's dtype "
                      "(np.zeros_like, astype(x.dtype))",
    "missing_gradient": "return every gradient the layer's backward pass must give",
    "unexplained": "compare each value with its formula for one small input by hand",
}


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
                           text, HINTS.get(cause, HINTS["unexplained"])))
    return out


def _explain(layer, name: str, items: list, every: list, failing: set) -> tuple[str, str]:
    """items: the failing cases of this value; every: all its cases (a factor must hold in each)."""
    got = [i[1] for i in items]
    exp = [i[2] for i in items]
    cases = [i[0] for i in items]
    if any(g is None for g in got):
        return "missing_gradient", f"{name} is not among the values the layer returns"
    if all(np.shape(g) == e.shape and _close(g, e) for g, e in zip(got, exp, strict=True)):
        kinds = sorted({str(np.asarray(g).dtype) for g in got})
        if "float64" in kinds and any(c.dtype == "float32" for c in cases):
            return "float64_upcast", f"{name} has the right values, as float64 for float32 inputs"
    if any(not np.all(np.isfinite(np.asarray(g, np.float64))) for g in got):
        if all(c.scale > 1 for c in cases):
            if name == "loss" and "dx" not in failing:
                return "log_underflow", ("the loss is inf only in the cases with large scores, while dx is right there: "
                                         "the row maximum is subtracted, but the log is taken of a probability that "
                                         "underflowed to 0")
            return "overflow", f"{name} holds inf or NaN only in the cases with large inputs"
        return "nonfinite", f"{name} holds inf or NaN"
    if name == "dw" and all(_close(np.asarray(g).T, e) for g, e in zip(got, exp, strict=True)):
        return "transposed", "dw equals the transpose of the expected gradient"
    if name == "db" and all(np.ndim(g) == 2 and np.shape(g)[0] == c.batch and _close(np.sum(g, axis=0), e)
                            for g, e, c in zip(got, exp, cases, strict=True)):
        return "bias_not_reduced", "db holds one row per sample instead of their sum"
    if all(np.shape(g) != e.shape and np.size(g) == e.size and _close(np.reshape(g, e.shape), e)
           for g, e in zip(got, exp, strict=True)):
        return "shape_only", f"{name} has the right values in shape {np.shape(got[0])} instead of {exp[0].shape}"
    if role(layer.kind) == "activation" and name == "dx":
        found = _activation_deviation(layer.kind, items)
        if found:
            return found
    ratios = _ratios([(i[1], i[2]) for i in every])          # the passing cases too: a factor must hold in each
    named = ratios and name_factor(ratios, [i[0].batch for i in every], [i[0].inputs for i in every])
    if named:
        return named[0][0], f"exactly {named[1]} times the expected {name} in every case"
    return "unexplained", f"{name} differs in a way no typical bug explains"


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
        if all(_close(p, e) for (_, _, e, _, _), p in zip(items, predicted, strict=True)):
            continue                  # this slip gives the right answer here (ReLU's slope at its output): no evidence
        if all(_close(g, p) for (_, g, _, _, _), p in zip(items, predicted, strict=True)):
            return cause, "matches dx with this slip in every failing case"
    return None


def layers_grader_failed(assignment: LayerAssignment, submission: str, trace: str, seconds: float = 0.0) -> Graded:
    """The harness itself failed: no check is scored against the student; the traceback is kept."""
    p = grader_error(trace.strip().splitlines()[-1] if trace.strip() else "unknown error", [trace])
    g = evaluate_layers(assignment, submission, {}, p, seconds=seconds)
    return Graded(submission, assignment.name, Verdict.GRADER, p.text(), g.checks, seconds=seconds, staff_detail=trace)
