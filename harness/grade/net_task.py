"""Net assignments as a task kind: a whole net (harness.drive.assignment.Assignment) driven
through its adapter on each case and on unscored diagnosis probes; each case's run compared with
the spec's own math (harness.core.net) through the one comparison, stage by stage; what fails
diagnosed by the typical-bug hypotheses (harness.grade.diagnose).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from ..core import net
from ..core.case_data import NetData, net_data
from ..core.compare import Comparison, Context, compare, compare_runs
from ..core.params import LAYOUTS
from ..core.run import STAGES, Run
from ..core.spec import Spec
from ..core.tolerance import Tolerance, default_tolerance
from ..drive.adapter import AdapterError
from ..drive.assignment import Assignment, Case, Scoring
from ..drive.derive import derive
from ..drive.problems import Problem, describe
from ..drive.protocol import Job
from .checks import Check, CheckId, CheckKind, Scored, accepted_upcast, case_checks_from
from .diagnose import CAUSES, Diagnosis, Finding, Trial, diagnose


class NetTask:
    kind = "net"

    def plan(self, assignment: Assignment) -> dict[str, NetData]:
        """Every run of a submission, with its data: the graded cases by name, then the probes."""
        runs = {case.name: case.spec for case in assignment.cases}
        runs.update({f"probe {i}": spec for i, spec in enumerate(assignment.probes(), start=1)})
        return {run_id: net_data(spec) for run_id, spec in runs.items()}

    def adapter(self, assignment: Assignment, submission: str):
        """How the child drives the submission: the assignment's adapter, bound to the file."""
        return assignment.adapter_for(submission)

    def job_runs(self, assignment: Assignment, plan: dict[str, NetData]) -> dict:
        return {run_id: data.spec for run_id, data in plan.items()}

    def judge(self, job: Job, data: NetData, observation) -> Run | Problem:
        """The Run the grader derives from a child's raw observation, or the Problem it shows."""
        try:
            return derive(job.adapter, data.spec, data.params, data.X, data.T, observation, backend="submission")
        except AdapterError as exc:
            return describe(exc)

    def check_ids(self, assignment: Assignment, case: Case) -> list[CheckId]:
        return check_ids(case.spec, assignment.scoring, assignment.adapter.reports_loss,
                         assignment.adapter.forward is not None)

    def score(self, assignment: Assignment, plan: dict, results: dict, partials: dict, missing: Problem) -> Scored:
        scored = Scored(visibility={case.name: case.visibility for case in assignment.cases},
                        evidence=({}, {}), spec=assignment.spec)
        failed_scored, failed_free = scored.evidence
        log_eps: list[LogEps] = []
        for case in assignment.cases:
            checks, failed, notes = case_checks(case, plan[case.name], results.get(case.name, missing), assignment,
                                                partials.get(case.name), scored.upcast, scored.l2_forms)
            scored.checks += checks
            log_eps += notes
            into = failed_scored if case.weight > 0 else failed_free
            for k, v in failed.items():
                into[k] = into.get(k, frozenset()) | v
        scored.notes += _log_eps_note(log_eps)
        for r in results.values():
            if isinstance(r, Run):
                scored.notes += [n for n in r.notes if n not in scored.notes]
        scored.notes += _absent_class_notes(assignment, plan, results, scored.checks)
        for run_id, r in results.items():        # an unscored probe that raised: said, not scored
            if isinstance(r, Problem) and run_id not in scored.visibility:
                scored.notes.append(f"an unscored diagnosis run ({plan[run_id].spec.label()}) ended in "
                                    f"{r.kind.word}: {r.text().splitlines()[0]}")
        scored.extra = [c.output for c in scored.checks if c.id.kind is CheckKind.INPUTS and not c.counts][:1]
        return scored

    def diagnose(self, assignment: Assignment, plan: dict, scored: Scored, results: dict) -> Diagnosis:
        return _diagnosis(*_what_to_diagnose(assignment, plan, *scored.evidence), results)

    def gradients(self, assignment: Assignment, case: Case) -> int:
        return len(case.spec.param_names)


def check_ids(spec: Spec, scoring: Scoring, reports_loss: bool = True, has_forward: bool = True) -> list[CheckId]:
    """The checks of one case, in report order; no loss check for code that reports no loss (the
    harness's own computation from the output is never scored as the student's), no forward
    check for code without a forward call."""
    return [*([CheckId(CheckKind.FORWARD)] if has_forward else []), *([CheckId(CheckKind.LOSS)] if reports_loss else []),
            *(CheckId(CheckKind.GRADIENT, p) for p in spec.param_names),
            *([CheckId(CheckKind.STEP)] if scoring.step > 0 else []), CheckId(CheckKind.INPUTS)]



def _check_of(stage: str, name: str) -> CheckId:
    return CheckId(CheckKind.GRADIENT, name) if stage == "gradients" else CheckId(CheckKind(stage))


def _accepted_l2_form(assignment: Assignment, spec: Spec, run: Run, comps: dict, stages) -> tuple[dict, str]:
    """Where the loss or a gradient mismatches the case's L2 form: the comparisons against the
    first form the assignment also accepts that the loss and every gradient match, and its name;
    else the comparisons as they were and ""."""
    def mismatched(cs: dict) -> bool:
        return any(cs[st].mismatches for st in ("loss", "gradients") if st in cs)
    if not spec.l2 or not assignment.l2_forms_accepted or not mismatched(comps):
        return comps, ""
    for form in assignment.l2_forms_accepted:
        other = net_data(dataclasses.replace(spec, l2_form=form))
        alt = compare_runs(other.spec, "expected", other.expected, "yours", run, default_tolerance(spec.dtype),
                           other.magnitudes, stages=stages)
        if not mismatched(alt):
            return alt, form
    return comps, ""


def _rows_in_one_call(spec: Spec, run: Run) -> Comparison:
    """Per-sample code: the parameters after one call over all the rows against the same code's
    one-row calls chained (each from the weights the last one left). The same steps in the same
    order: only n steps' round-off apart, each relative to max|p|, unless rows interfere."""
    n = spec.batch
    tol = Tolerance(default_tolerance(spec.dtype).rel * n, why=f"{n} steps' round-off")
    ctx = Context(spec.name, spec.dtype, spec.seed, "step (all rows in one call)", "one row per call, chained", "yours")
    return compare(run.chained, run.one_call, ctx, tol, check_dtype=spec.dtype)


def _accepted_log_eps(assignment: Assignment, data: NetData, run: Run, notes: list[LogEps]) -> bool:
    """The loss matches the assignment's accepted log(p + eps) form (through the same comparison):
    say so in a note."""
    if not assignment.log_eps:
        return False
    spec, eps, expected = data.spec, assignment.log_eps, data.expected
    variant = net.loss_with_log_eps(spec, expected.loaded, data.X, data.T, eps)
    comp = compare_runs(spec, "expected", dataclasses.replace(expected, loss=np.asarray(variant)), "yours", run,
                        default_tolerance(spec.dtype), data.magnitudes, stages=("loss",))["loss"]
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


def _absent_class_notes(assignment: Assignment, plan: dict, results: dict, checks: list[Check]) -> list[str]:
    """Exactly the cases whose batch has no sample of the last class went wrong: the code may
    count the classes from the labels (max(y) + 1) instead of from the net's output size."""
    if not assignment.spec.classification or assignment.spec.sizes[-1] < 2:
        return []
    wrong = {c.case for c in checks if not c.passed} | {k for k, v in results.items() if isinstance(v, Problem)}
    partial = {c.name for c in assignment.cases if not plan[c.name].T[:, -1].any()}    # no last class
    if not partial or not partial <= wrong or wrong & {c.name for c in assignment.cases} != partial:
        return []
    hidden = {c.name for c in assignment.cases if c.visibility != "visible"}
    named = [repr(n) for n in sorted(partial - hidden)] + ([f"{len(partial & hidden)} not visible yet"]
                                                           if partial & hidden else [])
    return [f"only the cases whose labels leave out the last class went wrong ({', '.join(named)}): "
            "take the number of classes from the net (the output layer's size, e.g. W2.shape[1]), not from the "
            "labels (max(y) + 1)"]


def _what_to_diagnose(assignment: Assignment, runs: dict[str, NetData], scored: dict, unscored: dict) -> tuple[dict, dict]:
    """The runs and failures the diagnosis reads: those of the scored cases when any of them
    failed (a case the course does not test, such as large scores, never names the cause of a
    scored failure), else all of them."""
    if any(scored.values()):
        free = {c.name for c in assignment.cases if c.weight == 0}
        return {k: s for k, s in runs.items() if k not in free}, scored
    return runs, {k: scored.get(k, frozenset()) | unscored.get(k, frozenset()) for k in {*scored, *unscored}}


def _diagnosis(runs: dict[str, NetData], failed: dict, results: dict) -> Diagnosis:
    changed = tuple(k.param for k, v in failed.items() if v == {"mutated"} and k.kind is CheckKind.GRADIENT)
    first = (Finding("params_changed", changed, "the gradients call changed these parameters in place",
                     CAUSES["params_changed"].hint(None)),) if changed else ()
    bad = {k for k, v in failed.items() if v and k.kind is not CheckKind.INPUTS and v != {"mutated"}}
    if not bad:
        return Diagnosis(first)
    trials = []
    for run_id, r in results.items():
        data = runs.get(run_id)
        if isinstance(r, Run) and data is not None and data.spec.dtype == "float64":
            trials.append(Trial(data.spec, data.params, data.X, data.T, r))
    found = diagnose(trials, {k.param for k in bad if k.kind is CheckKind.GRADIENT},
                     bool(failed.get(CheckId(CheckKind.LOSS))), bool(failed.get(CheckId(CheckKind.FORWARD))),
                     bool(failed.get(CheckId(CheckKind.STEP), set()) - {"exception"}),
                     upcast=all(failed[k] == {"dtype"} for k in bad))
    return dataclasses.replace(found, findings=first + found.findings)




def case_checks(case: Case, data: NetData, result, assignment: Assignment, partial: Run | None = None,
                upcast: list | None = None, l2_forms: list | None = None) -> tuple[list[Check], dict, list]:
    """The checks of one case, per CheckId the kinds of mismatch it failed by (empty: passed; for
    the diagnosis), and the accepted log(p + eps) forms it found (LogEps). `upcast` and `l2_forms`
    collect the accepted float64 results and other L2 forms, as (case name) and (case name, form).
    result: a Run, or a Problem (then `partial`, if any, still grades the forward pass and loss)."""
    ids = check_ids(case.spec, assignment.scoring, assignment.adapter.reports_loss, assignment.adapter.forward is not None)
    problem = result if isinstance(result, Problem) else None
    run = partial if problem else result
    found = Found({i: [] for i in ids})
    notes: list[LogEps] = []
    if problem:
        graded = (CheckKind.FORWARD, CheckKind.LOSS) if run is not None else ()
        for i in ids:
            if i.kind not in graded and i.kind is not CheckKind.INPUTS:
                found.messages[i].append(problem.text())
    if run is not None:
        _compare_stages(case, data, run, assignment, problem is not None, found, notes, upcast, l2_forms)
        _structure_messages(assignment, run, found)
    checks = case_checks_from(case.name, case.visibility, case.weight, assignment.scoring, len(case.spec.param_names),
                              {i: found.messages[i] for i in ids}, problem)
    failed = {i: frozenset(found.kinds.get(i, {"mutated"} if found.messages[i] else ())) for i in ids}
    return checks, (failed if run is not None and not problem else {}), notes


@dataclass
class Found:
    """Per check, its mismatch messages and the kinds of mismatch (harness.core.compare)."""
    messages: dict[CheckId, list[str]]
    kinds: dict[CheckId, set[str]] = dataclasses.field(default_factory=dict)

    def add(self, check: CheckId, message: str, kind: str) -> None:
        self.messages.setdefault(check, []).append(message)
        self.kinds.setdefault(check, set()).add(kind)


def _compare_stages(case: Case, data: NetData, run: Run, assignment: Assignment, ended: bool, found: Found,
                    notes: list, upcast: list | None, l2_forms: list | None) -> None:
    """The run against the spec's own, stage by stage (after a problem: the forward pass and loss
    only), with what the assignment accepts set aside."""
    spec, adapter = case.spec, assignment.adapter
    stages = [st for st in (("forward", "loss") if ended else STAGES)
              if (st != "forward" or run.output is not None) and (st != "loss" or adapter.reports_loss)]
    comps = compare_runs(spec, "expected", data.expected, "yours", run, default_tolerance(spec.dtype),
                         data.magnitudes, stages=stages)
    comps, form = _accepted_l2_form(assignment, spec, run, comps, stages)
    if form and l2_forms is not None:
        l2_forms.append((case.name, form))
    if run.chained is not None and "step" in comps:
        comps["step"] = _rows_in_one_call(spec, run)
    for stage, comp in comps.items():
        if stage == "loss" and comp.mismatches and _accepted_log_eps(assignment, data, run, notes):
            continue
        for m in comp.mismatches:
            if accepted_upcast(m, assignment.float64_results):
                if upcast is not None:
                    upcast.append(case.name)
                continue
            found.add(_check_of(stage, m.name), m.message(), m.kind)


def _structure_messages(assignment: Assignment, run: Run, found: Found) -> None:
    """What the values alone do not show: an update that raised, gradients in a shape their layout
    cannot hold, parameters the gradients call changed, inputs the code modified."""
    adapter, step = assignment.adapter, CheckId(CheckKind.STEP)
    if run.step_problem and step in found.messages:
        found.add(step, f"the update raised after the gradients came back: {run.step_problem}", "exception")
    for name, shape in run.misshaped.items():
        layout = next((p.layout for p in adapter.params if p.name == name), "?")
        found.add(CheckId(CheckKind.GRADIENT, name), f"gradient {name} came back with shape {shape}, which its layout "
                  f"{layout!r} cannot hold ({LAYOUTS[layout].description if layout in LAYOUTS else ''})", "shape")
    changed = {m.split(" (in ", 1)[0]: m for m in run.mutated if " (in " in m}
    for name, what in changed.items():       # a parameter the gradients call changed: as the course's
        check = CheckId(CheckKind.GRADIENT, name)   # numerical gradient check would, it fails that gradient
        if check in found.messages:
            found.add(check, f"the code changed the parameter {what} in place: gradients are computed, not applied, "
                      "by that call", "mutated")
    data = [m for m in run.mutated if " (in " not in m]
    if data:
        found.messages[CheckId(CheckKind.INPUTS)].append(f"the code modified {', '.join(data)} in place: callers' "
                                                         "data changes under them; work on a copy")
