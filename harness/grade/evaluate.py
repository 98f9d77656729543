"""From a submission's runs to its verdict, for every task kind: the kind (harness.grade.tasks)
scores each run as the assignment weights it and diagnoses what fails; the verdict, the
problem shown, what the assignment accepts and the notes are decided here, once for all kinds.
Pure: runs in, a Graded out (the sandbox and the batch are in harness.grade.batch).
"""
from __future__ import annotations

import dataclasses

from ..drive.problems import Problem, Verdict, grader_error
from .checks import Graded, accepted_findings, first_problem, verdict
from .diagnose import Diagnosis
from .tasks import task_of


def evaluate(assignment, submission: str, results: dict, fatal: Problem | None = None, notes=(), stdout: str = "",
             stderr: str = "", seconds: float = 0.0, partials: dict | None = None, plan: dict | None = None) -> Graded:
    """results: run id (the task's plan) -> its judged result (a net's Run, a layer's arrays) or a
    Problem; partials: run id -> the forward-only Run of a net run that ended in a Problem. A run
    with no entry did not get to run: its checks fail with the fatal problem. `plan`: the task's
    plan, when the caller has it already."""
    task = task_of(assignment)
    plan = task.plan(assignment) if plan is None else plan
    missing = fatal or Problem(Verdict.CRASHED, "the process ended before this case ran")
    scored = task.score(assignment, plan, results, partials or {}, missing)
    diagnosis = task.diagnose(assignment, plan, scored, results)
    problems = sorted((r for k, r in results.items() if isinstance(r, Problem) and k in scored.visibility),
                      key=lambda p: _visibility(results, p, scored.visibility) != "visible")
    first, grader = first_problem(fatal, problems)
    status, problem = verdict(scored.checks, first, diagnosis, scored.extra)
    accepted = accepted_findings(scored.checks, scored.upcast, scored.l2_forms, scored.spec)
    visible = not first or first[0] is fatal or _visibility(results, first[0], scored.visibility) == "visible"
    return Graded(submission, assignment.name, status, problem, tuple(scored.checks), diagnosis,
                  (*notes, *scored.notes, *accepted.notes), stdout, stderr, seconds,
                  "\n".join(p.detail for p in grader if p.detail), problem_visible=visible, accepted=accepted.tags)


def _visibility(results: dict, problem: Problem, visibility: dict) -> str:
    """The visibility of the run a problem came from (unscored runs count as hidden)."""
    run_id = next((k for k, v in results.items() if v is problem), "")
    return visibility.get(run_id, "hidden")


def grader_failed(assignment, submission: str, trace: str, seconds: float = 0.0) -> Graded:
    """The verdict when the harness itself failed on this submission: no check is scored against
    the student; the traceback is kept for staff."""
    p = grader_error(trace.strip().splitlines()[-1] if trace.strip() else "unknown error", [trace])
    g = evaluate(assignment, submission, {}, p, seconds=seconds)
    return dataclasses.replace(g, status=Verdict.GRADER, problem=p.text(), diagnosis=Diagnosis(()),
                               notes=(), staff_detail=trace)
