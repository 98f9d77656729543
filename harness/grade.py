"""Grading: run a submission in its own process on the assignment's cases (and the diagnosis
probes), compare each case with the spec's expected values through the one comparison, score
every check as the assignment weights it, and diagnose what fails.

`evaluate()` is pure (runs in, verdict out); `grade()` adds the sandbox; `grade_many()` runs a
batch in parallel and hands back each verdict as soon as it exists.
"""
from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import model, sandbox
from .assignment import Assignment, Case
from .check import compare_runs
from .compare import default_tolerance
from .diagnose import CAUSES, Diagnosis, Trial, diagnose
from .params import init_params, make_batch
from .run import STAGES, Run
from .specs import Spec
from .run import load_run
from .student import Problem

SLOW_IMPORT_S = 1.0
STATUS_WORDS = {"passed": "PASSED", "failed": "FAILED", "error": "ERROR", "api": "API MISMATCH",
                "syntax": "SYNTAX ERROR", "import": "IMPORT ERROR", "timeout": "TIMEOUT", "memory": "OUT OF MEMORY",
                "exit": "EXITED", "crashed": "CRASHED", "missing": "MISSING", "exception": "ERROR", "shape": "WRONG SHAPE"}


@dataclass(frozen=True)
class Check:
    case: str
    name: str                 # forward | loss | gradient W1 | ... | step | inputs unchanged
    passed: bool
    score: float
    max_score: float
    visibility: str
    output: str = ""          # mismatch messages, or why the case could not run


@dataclass(frozen=True)
class Graded:
    submission: str
    assignment: str
    status: str               # a key of STATUS_WORDS
    problem: str              # why it is not "passed", in one paragraph ("" when passed)
    checks: tuple[Check, ...]
    diagnosis: Diagnosis = field(default_factory=lambda: Diagnosis(()))
    notes: tuple[str, ...] = ()
    stdout: str = ""
    stderr: str = ""
    seconds: float = 0.0

    @property
    def score(self) -> float:
        return round(sum(c.score for c in self.checks), 6)

    @property
    def max_score(self) -> float:
        return round(sum(c.max_score for c in self.checks), 6)

    @property
    def passed(self) -> bool:
        return self.status == "passed"


# --- expected values and the checks of one case ----------------------------------------------
def expected_run(spec: Spec, params, X, T) -> Run:
    g = model.backprop(spec, params, X, T)
    p = {k: np.asarray(v, np.float64) for k, v in params.items()}
    out = model.forward(spec, p, np.asarray(X, np.float64))
    return Run(backend="expected", loaded=p, output=out, loss=np.asarray(model.loss(spec, out, np.asarray(T, np.float64))),
               grads=g, stepped={k: p[k] - spec.lr * g[k] for k in p})


def case_checks(case: Case, result, scoring: dict, partial: Run | None = None) -> tuple[list[Check], dict]:
    """The checks of one case, and per check kind whether it failed (for the diagnosis).
    result: a Run, or a Problem (then `partial`, if any, still grades the forward pass and loss)."""
    spec, w = case.spec, case.weight
    points = {"forward": scoring["forward"], "loss": scoring["loss"], "step": scoring["step"],
              "inputs unchanged": scoring["inputs"],
              **{f"gradient {p}": scoring["gradients"] / len(spec.param_names) for p in spec.param_names}}
    names = ["forward", "loss", *(f"gradient {p}" for p in spec.param_names)] + \
        (["step"] if scoring["step"] > 0 else []) + ["inputs unchanged"]
    problem = result if isinstance(result, Problem) else None
    run = partial if problem else result
    messages = {n: [] for n in names}
    if problem:
        graded = ("forward", "loss") if run is not None else ()
        for n in names:
            if n not in graded:
                messages[n].append(problem.text())
    if run is None:
        return [Check(case.name, n, False, 0.0, w * points[n], case.visibility, problem.text()) for n in names], {}
    params = init_params(spec)
    X, T = make_batch(spec)
    comps = compare_runs(spec, "expected", expected_run(spec, params, X, T), "yours", run,
                         default_tolerance(spec.dtype), model.error_magnitudes(spec, params, X, T),
                         stages=("forward", "loss") if problem else STAGES)
    for stage, comp in comps.items():
        for m in comp.mismatches:
            key = f"gradient {m.name}" if stage == "gradients" else stage
            messages.setdefault(key, []).append(m.message())
    if run.mutated:
        messages["inputs unchanged"].append(f"the code modified {', '.join(run.mutated)} in place: callers' data "
                                            "changes under them; work on a copy")
    checks = [Check(case.name, n, not messages[n], 0.0 if messages[n] else w * points[n], w * points[n],
                    case.visibility, "\n".join(messages[n])) for n in names]
    return checks, ({n: bool(messages[n]) for n in names} if not problem else {})


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
    missing = fatal or Problem("crashed", "the process ended before this case ran")
    checks, failed = [], {}
    for case in assignment.cases:
        cs, f = case_checks(case, results.get(case.name, missing), assignment.scoring, (partials or {}).get(case.name))
        checks += cs
        for k, v in f.items():
            failed[k] = failed.get(k, False) or v
    note_list = list(notes)
    for r in results.values():
        if isinstance(r, Run):
            note_list += [n for n in r.notes if n not in note_list]
    diagnosis = Diagnosis(())
    bad = {k for k, v in failed.items() if v and k != "inputs unchanged"}
    if bad:
        trials = []
        for run_id, r in results.items():
            spec = runs.get(run_id)
            if isinstance(r, Run) and spec is not None and spec.dtype == "float64":
                X, T = make_batch(spec)
                trials.append(Trial(spec, init_params(spec), X, T, r))
        diagnosis = diagnose(trials, {k.split()[1] for k in bad if k.startswith("gradient ")},
                             failed.get("loss", False), failed.get("forward", False))
    problems = [r for r in results.values() if isinstance(r, Problem)]
    if fatal:
        status, problem = fatal.kind, fatal.text()
    elif problems:
        status, problem = problems[0].kind, problems[0].text()
    elif all(c.passed for c in checks):
        status, problem = "passed", ""
    else:
        status = "failed"
        problem = "; ".join([f"{', '.join(f.params)}: {CAUSES[f.cause]}" for f in diagnosis.findings] +
                            [c.output for c in checks if c.name == "inputs unchanged" and not c.passed][:1]) \
            or "a check failed"
    return Graded(submission, assignment.name, status, problem, tuple(checks), diagnosis, tuple(note_list),
                  stdout, stderr, seconds)


# --- in a sandbox ----------------------------------------------------------------------------
def _child_env(submission: str) -> dict:
    env = sandbox.harness_env(dict(os.environ))
    env.update(PYTHONHASHSEED="0", PYTHONDONTWRITEBYTECODE="1", PYTHONUNBUFFERED="1", OMP_NUM_THREADS="1",
               OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
    return env


def grade(submission: str, assignment: Assignment, timeout_s: float | None = None, memory_mb: int | None = None,
          output_limit: int = 20000, stop: threading.Event | None = None) -> Graded:
    """Grade one submission file in a fresh child process (see harness.student); setting
    `stop` ends it early (a batch being interrupted)."""
    timeout_s = timeout_s or assignment.timeout_s
    memory_mb = memory_mb or assignment.memory_mb
    path = Path(submission)
    if not path.is_file():
        return evaluate(assignment, submission, {}, Problem("missing", f"no such file: {submission}"))
    work = Path(tempfile.mkdtemp(prefix="bph-grade-"))
    try:
        (work / "cwd").mkdir()
        job = {"assignment": assignment.source, "submission": str(path.resolve()), "memory_mb": memory_mb,
               "runs": {rid: s.to_json() for rid, s in plan(assignment).items()}}
        (work / "job.json").write_text(json.dumps(job))
        done = sandbox.run([sys.executable, "-m", "harness.student", str(work / "job.json"), str(work)],
                           timeout_s=timeout_s, cwd=str(work / "cwd"), env=_child_env(submission), limit=output_limit,
                           stop=stop)
        results, partials, fatal, notes, phase = _read_events(work)
        if fatal is None and not phase.endswith("done"):
            fatal = _ended_early(done, phase, timeout_s, memory_mb)
        if done.stdout.truncated or done.stderr.truncated:
            notes.insert(0, f"the code printed {done.stdout.total_bytes + done.stderr.total_bytes:,} bytes; "
                            f"output below is truncated to the first {output_limit:,} and last {sandbox.TAIL:,} "
                            "bytes of each stream")
        return evaluate(assignment, submission, results, fatal, notes, done.stdout.text, done.stderr.text, done.seconds,
                        partials)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _read_events(work: Path):
    results, partials, fatal, notes, phase = {}, {}, None, [], "starting"
    path = work / "events.jsonl"
    lines = path.read_text().splitlines() if path.exists() else []
    for line in lines:
        try:
            event = json.loads(line)
        except json.JSONDecodeError:           # a line cut short by a kill
            continue
        kind = event["event"]
        if kind == "phase":
            phase = event["phase"]
        elif kind == "imported" and event["seconds"] > SLOW_IMPORT_S:
            notes.append(f"importing the module took {event['seconds']:.1f} s: code at module level runs on import "
                         "(training at import time?); put it under `if __name__ == \"__main__\":`")
        elif kind == "fatal":
            fatal = Problem(**event["problem"])
        elif kind == "partial":
            partials[event["id"]] = load_run(work / f"{event['id']}.partial.npz", event)
        elif kind == "run":
            if event["ok"]:
                results[event["id"]] = load_run(work / f"{event['id']}.npz", event)
            else:
                results[event["id"]] = Problem(**event["problem"])
        elif kind == "done":
            phase = "done"
    return results, partials, fatal, notes, phase


def _ended_early(done: sandbox.Finished, phase: str, timeout_s: float, memory_mb: int) -> Problem:
    if done.timed_out:
        text = f"timed out after {timeout_s:g} s while {phase}"
        if phase == "importing the module":
            text += (": code at module level runs on import (training at import time? an endless loop?); "
                     "put it under `if __name__ == \"__main__\":`")
        else:
            text += ": an endless loop, or far too slow"
        return Problem("timeout", text)
    if done.signal_name:
        hint = f" (killed: out of memory? the limit is {memory_mb} MB)" if done.signal_name == "SIGKILL" else ""
        return Problem("crashed", f"the process died of {done.signal_name} while {phase}{hint}")
    return Problem("exit", f"the process exited with code {done.returncode} while {phase} "
                           "(os._exit or exit in the code?); grading code must not exit")


# --- many ----------------------------------------------------------------------------------
def find_submissions(paths, assignment: Assignment) -> list[str]:
    """Files as given; a folder contributes its .py files and, per sub-folder (one per
    student), the assignment's `file` or the folder's only .py file."""
    found = []
    for p in map(Path, paths):
        if not p.is_dir():
            found.append(str(p))
            continue
        for child in sorted(p.iterdir()):
            if child.is_file() and child.suffix == ".py":
                found.append(str(child))
            elif child.is_dir() and not child.name.startswith((".", "__")):
                named = child / assignment.file if assignment.file else None
                pys = sorted(child.glob("*.py"))
                found.append(str(named if named and named.is_file() else pys[0] if len(pys) == 1 else child))
    return found


def grade_many(submissions, assignment: Assignment, jobs: int = 1, **kwargs):
    """Yield each Graded as soon as it exists (completion order), `jobs` at a time. Closing the
    generator early (an interrupt) kills what runs and starts nothing more."""
    stop = threading.Event()
    with ThreadPoolExecutor(max_workers=max(jobs, 1)) as pool:
        futures = {pool.submit(_grade_or_missing, s, assignment, stop=stop, **kwargs): s for s in submissions}
        try:
            for future in as_completed(futures):
                yield future.result()
        finally:                     # interrupted: drop what has not started, stop what runs
            stop.set()
            for f in futures:
                f.cancel()


def _grade_or_missing(submission: str, assignment: Assignment, **kwargs) -> Graded:
    if Path(submission).is_dir():
        return evaluate(assignment, submission, {}, Problem(
            "missing", f"cannot tell which file to grade in folder {submission}: "
                       + (f"no {assignment.file}" if assignment.file else "it holds no single .py file")))
    return grade(submission, assignment, **kwargs)
