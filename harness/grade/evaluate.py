"""From a submission's runs to its verdict: compare each graded case with the spec's own math
through the one comparison, score every check as the assignment weights it, and diagnose what
fails. Pure: runs in, a Graded out (the sandbox and the batch are in harness.grade.batch).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from enum import Enum

import numpy as np

from ..core import net
from ..core.compare import Comparison, Context, compare, compare_runs
from ..core.losses import L2_FORMS
from ..core.params import LAYOUTS, init_params, make_batch
from ..core.run import STAGES, Run
from ..core.spec import Spec
from ..core.tolerance import Tolerance, default_tolerance
from ..drive.assignment import Assignment, Case, Scoring
from ..drive.problems import Problem, Verdict, grader_error
from .diagnose import CAUSES, Diagnosis, Finding, Trial, diagnose


class CheckKind(str, Enum):
    FORWARD = "forward"
    LOSS = "loss"
    GRADIENT = "gradient"
    STEP = "step"
    INPUTS = "inputs"

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class CheckId:
    """What one check looks at: a kind, and for gradients the parameter."""
    kind: CheckKind
    param: str = ""

    @property
    def label(self) -> str:
        """In words; a layer's checks are named by the layer (param "affine", "affine.dw")."""
        if self.kind is CheckKind.GRADIENT:
            return self.param.replace(".", " ") if "." in self.param else f"gradient {self.param}"
        word = "inputs unchanged" if self.kind is CheckKind.INPUTS else self.kind.value
        return f"{self.param} {word}" if self.param else word

    @property
    def short(self) -> str:
        if self.kind is CheckKind.GRADIENT:
            return self.param
        return f"{self.param} {self.kind.value}" if self.param else self.kind.value

    def points(self, scoring: Scoring, spec: Spec) -> float:
        if self.kind is CheckKind.GRADIENT:
            return scoring.gradients / len(spec.param_names)
        return getattr(scoring, self.kind.value)


def check_ids(spec: Spec, scoring: Scoring, reports_loss: bool = True, has_forward: bool = True) -> list[CheckId]:
    """The checks of one case, in report order; no loss check for code that reports no loss (the
    harness's own computation from the output is never scored as the student's), no forward
    check for code without a forward call."""
    return [*([CheckId(CheckKind.FORWARD)] if has_forward else []), *([CheckId(CheckKind.LOSS)] if reports_loss else []),
            *(CheckId(CheckKind.GRADIENT, p) for p in spec.param_names),
            *([CheckId(CheckKind.STEP)] if scoring.step > 0 else []), CheckId(CheckKind.INPUTS)]


@dataclass(frozen=True)
class Check:
    case: str
    id: CheckId
    passed: bool
    score: float
    max_score: float
    visibility: str
    output: str = ""          # mismatch messages, or why the case could not run
    checked: bool = True      # False: the run ended before this could be looked at (no points, not a finding)

    @property
    def name(self) -> str:
        return self.id.label

    @property
    def unscored(self) -> bool:
        """Worth no points: what it finds is reported, never a failure (the course accepts it)."""
        return self.max_score == 0

    @property
    def word(self) -> str:
        return "PASS" if self.passed else ("n/a" if not self.checked else "NOTE" if self.unscored else "FAIL")

    @property
    def counts(self) -> bool:
        """Passed, or nothing against the verdict (worth no points, or not reached)."""
        return self.passed or self.unscored


@dataclass(frozen=True)
class Graded:
    submission: str
    assignment: str
    status: Verdict
    problem: str              # why it is not PASSED, in one paragraph ("" when passed)
    checks: tuple[Check, ...]
    diagnosis: Diagnosis = field(default_factory=lambda: Diagnosis(()))
    notes: tuple[str, ...] = ()
    stdout: str = ""
    stderr: str = ""
    seconds: float = 0.0
    staff_detail: str = ""    # for course staff only: a grader error's traceback
    sandbox: str = ""         # the sandbox mode it ran in (harness.grade.isolation.Mode)
    problem_visible: bool = True   # the problem came from a visible case (or from no case at all)
    staff_flags: tuple[str, ...] = ()   # the static tripwire's findings (harness.grade.tripwire): for staff
    accepted: tuple[str, ...] = ()      # what the assignment accepts as the course does, found here: reported

    @property
    def score(self) -> float:
        return round(sum(c.score for c in self.checks), 6)

    @property
    def max_score(self) -> float:
        return round(sum(c.max_score for c in self.checks), 6)

    @property
    def passed(self) -> bool:
        return self.status is Verdict.PASSED


# --- expected values and the checks of one case ----------------------------------------------
def expected_run(spec: Spec, params, X, T) -> Run:
    return net.spec_run(spec, params, X, T, backend="expected")


def _check_of(stage: str, name: str) -> CheckId:
    return CheckId(CheckKind.GRADIENT, name) if stage == "gradients" else CheckId(CheckKind(stage))


def case_checks(case: Case, result, assignment: Assignment, partial: Run | None = None,
                upcast: list | None = None, l2_forms: list | None = None) -> tuple[list[Check], dict, list]:
    """The checks of one case, per CheckId the kinds of mismatch it failed by (empty: passed; for
    the diagnosis), and the accepted log(p + eps) forms it found (LogEps). `upcast` and `l2_forms`
    collect the accepted float64 results and other L2 forms, as (case name) and (case name, form).
    result: a Run, or a Problem (then `partial`, if any, still grades the forward pass and loss)."""
    spec, w, scoring, adapter = case.spec, case.weight, assignment.scoring, assignment.adapter
    ids = check_ids(spec, scoring, adapter.reports_loss, adapter.forward is not None)
    problem = result if isinstance(result, Problem) else None
    run = partial if problem else result
    messages: dict[CheckId, list[str]] = {i: [] for i in ids}
    kinds: dict[CheckId, set[str]] = {}          # the kinds of mismatch (harness.core.compare) per check
    notes: list[LogEps] = []
    if problem:
        graded = (CheckKind.FORWARD, CheckKind.LOSS) if run is not None else ()
        for i in ids:
            if i.kind not in graded and i.kind is not CheckKind.INPUTS:
                messages[i].append(problem.text())
    if run is not None:
        params = init_params(spec)
        X, T = make_batch(spec)
        stages = [st for st in (("forward", "loss") if problem else STAGES)
                  if (st != "forward" or run.output is not None) and (st != "loss" or adapter.reports_loss)]
        expected, mags = expected_run(spec, params, X, T), net.error_magnitudes(spec, params, X, T)
        comps = compare_runs(spec, "expected", expected, "yours", run, default_tolerance(spec.dtype), mags, stages=stages)
        comps, form = _accepted_l2_form(assignment, spec, run, comps, stages)
        if form and l2_forms is not None:
            l2_forms.append((case.name, form))
        if run.chained is not None and "step" in comps:
            comps["step"] = _rows_in_one_call(spec, run)
        for stage, comp in comps.items():
            if stage == "loss" and comp.mismatches and _accepted_log_eps(assignment, case, run, expected, mags, notes):
                continue
            for m in comp.mismatches:
                if accepted_upcast(m, assignment.float64_results):
                    if upcast is not None:
                        upcast.append(case.name)
                    continue
                messages.setdefault(_check_of(stage, m.name), []).append(m.message())
                kinds.setdefault(_check_of(stage, m.name), set()).add(m.kind)
        if run.step_problem and CheckId(CheckKind.STEP) in messages:
            messages[CheckId(CheckKind.STEP)].append(f"the update raised after the gradients came back: {run.step_problem}")
            kinds.setdefault(CheckId(CheckKind.STEP), set()).add("exception")
        for name, shape in run.misshaped.items():
            layout = next((p.layout for p in adapter.params if p.name == name), "?")
            messages[CheckId(CheckKind.GRADIENT, name)].append(
                f"gradient {name} came back with shape {shape}, which its layout {layout!r} cannot hold "
                f"({LAYOUTS[layout].description if layout in LAYOUTS else ''})")
            kinds.setdefault(CheckId(CheckKind.GRADIENT, name), set()).add("shape")
        changed = {m.split(" (in ", 1)[0]: m for m in run.mutated if " (in " in m}
        for name, what in changed.items():       # a parameter the gradients call changed: as the course's
            check = CheckId(CheckKind.GRADIENT, name)   # numerical gradient check would, it fails that gradient
            if check in messages:
                messages[check].append(f"the code changed the parameter {what} in place: gradients are "
                                       "computed, not applied, by that call")
                kinds.setdefault(check, set()).add("mutated")
        data = [m for m in run.mutated if " (in " not in m]
        if data:
            messages[CheckId(CheckKind.INPUTS)].append(f"the code modified {', '.join(data)} in place: "
                                                       "callers' data changes under them; work on a copy")
    checks = []
    for i in ids:
        points = w * i.points(scoring, spec)
        unchecked = problem is not None and i.kind is CheckKind.INPUTS
        output = "not checked: the run ended before it finished" if unchecked else "\n".join(messages[i])
        checks.append(Check(case.name, i, not messages[i] and not unchecked, 0.0 if messages[i] or unchecked else points,
                            points, case.visibility, output, checked=not unchecked))
    failed = {i: frozenset(kinds.get(i, {"mutated"} if messages[i] else ())) for i in ids}
    return checks, (failed if run is not None and not problem else {}), notes


def _accepted_l2_form(assignment: Assignment, spec: Spec, run: Run, comps: dict, stages) -> tuple[dict, str]:
    """Where the loss or a gradient mismatches the case's L2 form: the comparisons against the
    first form the assignment also accepts that the loss and every gradient match, and its name;
    else the comparisons as they were and ""."""
    def mismatched(cs: dict) -> bool:
        return any(cs[st].mismatches for st in ("loss", "gradients") if st in cs)
    if not spec.l2 or not assignment.l2_forms_accepted or not mismatched(comps):
        return comps, ""
    params, (X, T) = init_params(spec), make_batch(spec)
    for form in assignment.l2_forms_accepted:
        other = dataclasses.replace(spec, l2_form=form)
        alt = compare_runs(other, "expected", expected_run(other, params, X, T), "yours", run,
                           default_tolerance(other.dtype), net.error_magnitudes(other, params, X, T), stages=stages)
        if not mismatched(alt):
            return alt, form
    return comps, ""


def accepted_upcast(m, policy: str) -> bool:
    """A float64 result for float32 inputs, where the assignment accepts it (the course computes
    in float64): its values are still compared, at the case's tolerance."""
    return policy == "accept" and m.kind == "dtype" and m.detail.startswith("dtype float64")


def _rows_in_one_call(spec: Spec, run: Run) -> Comparison:
    """Per-sample code: the parameters after one call over all the rows against the same code's
    one-row calls chained (each from the weights the last one left). The same steps in the same
    order: only n steps' round-off apart, each relative to max|p|, unless rows interfere."""
    n = spec.batch
    tol = Tolerance(default_tolerance(spec.dtype).rel * n, why=f"{n} steps' round-off")
    ctx = Context(spec.name, spec.dtype, spec.seed, "step (all rows in one call)", "one row per call, chained", "yours")
    return compare(run.chained, run.one_call, ctx, tol, check_dtype=spec.dtype)


def _accepted_log_eps(assignment: Assignment, case: Case, run: Run, expected: Run, mags: dict,
                      notes: list[LogEps]) -> bool:
    """The loss matches the assignment's accepted log(p + eps) form (through the same comparison):
    say so in a note."""
    if not assignment.log_eps:
        return False
    spec, eps = case.spec, assignment.log_eps
    X, T = make_batch(spec)
    variant = net.loss_with_log_eps(spec, expected.loaded, X, T, eps)
    comp = compare_runs(spec, "expected", dataclasses.replace(expected, loss=np.asarray(variant)), "yours", run,
                        default_tolerance(spec.dtype), mags, stages=("loss",))["loss"]
    if comp.mismatches:
        return False
    exact = float(expected.loss)
    notes.append(LogEps(eps, abs(variant - exact) / max(abs(exact), 1e-300)))
    return True


@dataclass(frozen=True)
class LogEps:
    """A case whose loss passed as the accepted log(p + eps) form, and how far that moved it."""
    eps: float
    effect: float                 # relative change of the loss


def _log_eps_note(found: list[LogEps]) -> list[str]:
    if not found:
        return []
    return [f"the loss is computed as log(p + {found[0].eps:g}), which this assignment accepts: it moves the loss by "
            f"up to {max(f.effect for f in found):.2g} relative in these cases (the gradients are those of the "
            "exact loss)"]


# --- verdict -------------------------------------------------------------------------------
def plan(assignment: Assignment) -> dict[str, Spec]:
    """Every run of a submission: the graded cases by name, then the diagnosis probes."""
    runs = {case.name: case.spec for case in assignment.cases}
    runs.update({f"probe {i}": spec for i, spec in enumerate(assignment.probes(), start=1)})
    return runs


def evaluate(assignment: Assignment, submission: str, results: dict, fatal: Problem | None = None,
             notes=(), stdout: str = "", stderr: str = "", seconds: float = 0.0, partials: dict | None = None) -> Graded:
    """results: run id (see plan()) -> Run | Problem; partials: run id -> forward-only Run of a
    run that ended in a Problem. A case with no entry did not get to run: its checks fail with
    the fatal problem."""
    runs = plan(assignment)
    missing = fatal or Problem(Verdict.CRASHED, "the process ended before this case ran")
    checks, upcast, l2_forms = [], [], []
    scored: dict[CheckId, frozenset] = {}                # CheckId -> kinds of mismatch, in the scored cases
    unscored: dict[CheckId, frozenset] = {}              # ... in the cases worth 0 points
    note_list, log_eps = list(notes), []
    for case in assignment.cases:
        cs, f, case_notes = case_checks(case, results.get(case.name, missing), assignment,
                                        (partials or {}).get(case.name), upcast, l2_forms)
        checks += cs
        log_eps += case_notes
        failed = scored if case.weight > 0 else unscored
        for k, v in f.items():
            failed[k] = failed.get(k, frozenset()) | v
    note_list += _log_eps_note(log_eps)
    for r in results.values():
        if isinstance(r, Run):
            note_list += [n for n in r.notes if n not in note_list]
    diagnosis = _diagnosis(*_what_to_diagnose(assignment, runs, scored, unscored), results)
    visibility = {case.name: case.visibility for case in assignment.cases}
    problems = sorted((r for k, r in results.items() if isinstance(r, Problem) and k in visibility),
                      key=lambda p: _problem_case(results, p, visibility) != "visible")
    note_list += _absent_class_notes(assignment, results, checks)
    for run_id, r in results.items():        # an unscored probe that raised: said, not scored
        if isinstance(r, Problem) and run_id not in visibility:
            note_list.append(f"an unscored diagnosis run ({runs[run_id].label()}) ended in "
                             f"{r.kind.word}: {r.text().splitlines()[0]}")
    grader = [p for p in [fatal, *problems] if p is not None and p.kind is Verdict.GRADER]
    first = (grader + ([fatal] if fatal else problems))[:1]
    inputs_text = [c.output for c in checks if c.id.kind is CheckKind.INPUTS and not c.counts][:1]
    status, problem = verdict(checks, first, diagnosis, inputs_text)
    accepted = accepted_findings(checks, upcast, l2_forms, assignment.spec)
    note_list += accepted.notes
    detail = "\n".join(p.detail for p in grader if p.detail)
    visible = not first or first[0] is fatal or _problem_case(results, first[0], visibility) == "visible"
    return Graded(submission, assignment.name, status, problem, tuple(checks), diagnosis, tuple(note_list),
                  stdout, stderr, seconds, detail, problem_visible=visible, accepted=accepted.tags)


def verdict(checks: list[Check], first: list[Problem], diagnosis: Diagnosis, extra: list[str] = ()) -> tuple:
    """(status, problem text): the first problem's, else PASSED when every check counts (passed,
    or worth no points), else FAILED with the diagnosis."""
    if first:
        return first[0].kind, first[0].text()
    if all(c.counts for c in checks):
        return Verdict.PASSED, ""
    return Verdict.FAILED, "; ".join([f"{', '.join(f.params)}: {CAUSES[f.cause].summary}" for f in diagnosis.findings]
                                     + list(extra)) or "a check failed"


@dataclass(frozen=True)
class Accepted:
    tags: tuple[str, ...] = ()    # short, for the class report: "inputs modified", "float64 results", ...
    notes: tuple[str, ...] = ()   # the sentences for the student's and staff's report


def accepted_findings(checks: list[Check], upcast: list[str], l2_forms=(), spec: Spec | None = None) -> Accepted:
    """What failed but is worth no points (the assignment accepts it, as the course does), the
    float64 results and the other L2 forms it accepted: each said once, with the cases it was seen in."""
    seen: dict[str, list[str]] = {}
    for c in checks:
        if c.checked and not c.passed and c.unscored:
            tag = "inputs modified" if c.id.kind is CheckKind.INPUTS else f"case {c.case!r}"
            seen.setdefault(tag, [])
            if c.case not in seen[tag]:
                seen[tag].append(c.case)
    notes = []
    for tag, cases in seen.items():
        if tag == "inputs modified":
            notes.append(f"the code modifies its inputs in place (in {', '.join(map(repr, cases))}); this assignment "
                         "does not score it, as the course's own checks do not: the caller's arrays change under it")
        else:
            notes.append(f"{tag} is not scored (the course's own checks do not test it) and did not pass: see its "
                         "checks marked NOTE")
    if upcast:
        seen["float64 results"] = list(dict.fromkeys(upcast))
        notes.append("float32 inputs come back as float64 results; the course computes in float64, so this "
                     "assignment accepts it (the values were compared at float32's tolerance)")
    for form in dict.fromkeys(f for _, f in l2_forms):
        cases = [c for c, f in l2_forms if f == form]
        seen[f"L2 as {L2_FORMS[form].written}"] = cases
        own = f" instead of {L2_FORMS[spec.l2_form].written}" if spec is not None else ""
        notes.append(f"the L2 term is written as {L2_FORMS[form].written} (gradient {L2_FORMS[form].gradient}){own} "
                     f"in {', '.join(map(repr, cases))}: loss and gradients agree with each other, and this assignment "
                     "accepts that form (the course has asked for it in some years)")
    return Accepted(tuple(seen), tuple(notes))


def _absent_class_notes(assignment: Assignment, results: dict, checks: list[Check]) -> list[str]:
    """Exactly the cases whose batch has no sample of the last class went wrong: the code may
    count the classes from the labels (max(y) + 1) instead of from the net's output size."""
    if not assignment.spec.classification or assignment.spec.sizes[-1] < 2:
        return []
    wrong = {c.case for c in checks if not c.passed} | {k for k, v in results.items() if isinstance(v, Problem)}
    partial = {c.name for c in assignment.cases if not make_batch(c.spec)[1][:, -1].any()}    # no last class
    if not partial or not partial <= wrong or wrong & {c.name for c in assignment.cases} != partial:
        return []
    hidden = {c.name for c in assignment.cases if c.visibility != "visible"}
    named = [repr(n) for n in sorted(partial - hidden)] + ([f"{len(partial & hidden)} not visible yet"]
                                                           if partial & hidden else [])
    return [f"only the cases whose labels leave out the last class went wrong ({', '.join(named)}): "
            "take the number of classes from the net (the output layer's size, e.g. W2.shape[1]), not from the "
            "labels (max(y) + 1)"]


def _problem_case(results: dict, problem: Problem, visibility: dict) -> str:
    """The visibility of the run a problem came from (probes count as hidden: they are unscored)."""
    run_id = next((k for k, v in results.items() if v is problem), "")
    return visibility.get(run_id, "hidden")


def _what_to_diagnose(assignment: Assignment, runs: dict[str, Spec], scored: dict, unscored: dict) -> tuple[dict, dict]:
    """The runs and failures the diagnosis reads: those of the scored cases when any of them
    failed (a case the course does not test, such as large scores, never names the cause of a
    scored failure), else all of them."""
    if any(scored.values()):
        free = {c.name for c in assignment.cases if c.weight == 0}
        return {k: s for k, s in runs.items() if k not in free}, scored
    return runs, {k: scored.get(k, frozenset()) | unscored.get(k, frozenset()) for k in {*scored, *unscored}}


def _diagnosis(runs: dict[str, Spec], failed: dict, results: dict) -> Diagnosis:
    changed = tuple(k.param for k, v in failed.items() if v == {"mutated"} and k.kind is CheckKind.GRADIENT)
    first = (Finding("params_changed", changed, "the gradients call changed these parameters in place",
                     CAUSES["params_changed"].hint(None)),) if changed else ()
    bad = {k for k, v in failed.items() if v and k.kind is not CheckKind.INPUTS and v != {"mutated"}}
    if not bad:
        return Diagnosis(first)
    trials = []
    for run_id, r in results.items():
        spec = runs.get(run_id)
        if isinstance(r, Run) and spec is not None and spec.dtype == "float64":
            X, T = make_batch(spec)
            trials.append(Trial(spec, init_params(spec), X, T, r))
    found = diagnose(trials, {k.param for k in bad if k.kind is CheckKind.GRADIENT},
                     bool(failed.get(CheckId(CheckKind.LOSS))), bool(failed.get(CheckId(CheckKind.FORWARD))),
                     bool(failed.get(CheckId(CheckKind.STEP), set()) - {"exception"}),
                     upcast=all(failed[k] == {"dtype"} for k in bad))
    return dataclasses.replace(found, findings=first + found.findings)


def grader_failed(assignment: Assignment, submission: str, trace: str, seconds: float = 0.0) -> Graded:
    """The verdict when the harness itself failed on this submission: no check is scored against
    the student; the traceback is kept for staff."""
    p = grader_error(trace.strip().splitlines()[-1] if trace.strip() else "unknown error", [trace])
    checks = []
    for case in assignment.cases:
        checks += [Check(case.name, i, False, 0.0, case.weight * i.points(assignment.scoring, case.spec),
                         case.visibility, p.text()) for i in check_ids(case.spec, assignment.scoring,
                                                                       assignment.adapter.reports_loss,
                                                                       assignment.adapter.forward is not None)]
    return Graded(submission, assignment.name, Verdict.GRADER, p.text(), tuple(checks), seconds=seconds,
                  staff_detail=trace)
