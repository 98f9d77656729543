"""Grading submissions: each in a fresh child process (harness.grade.child through
harness.grade.process), its events read back and validated, then evaluated. `grade_many()` runs
a batch in parallel and hands back each verdict as soon as it exists. Any failure of the
harness itself, here or in the child, is a GRADER ERROR verdict for that submission alone.
"""
from __future__ import annotations

import dataclasses
import threading
import time
import traceback
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path

from ..core.run import Run
from ..drive import notebook
from ..drive import protocol as ev
from ..drive.assignment import Assignment
from ..drive.problems import Problem, Verdict
from ..drive.protocol import Job, save_inputs
from . import environment, isolation, placeholders, process, tripwire
from .checks import Graded
from .evaluate import evaluate, grader_failed
from .tasks import task_of

SLOW_IMPORT_S = 1.0
STARTING = "starting"


def grade(submission: str, assignment: Assignment, timeout_s: float | None = None, memory_mb: int | None = None,
          output_limit: int = 20000, stop: threading.Event | None = None, sandbox_mode: str = "auto",
          private_folder: bool = False, plan: dict | None = None) -> Graded:
    """Grade one submission file in a fresh, sandboxed child process (harness.grade.isolation;
    `sandbox_mode` auto picks the strongest this machine allows); setting `stop` ends it early
    (a batch being interrupted). `private_folder`: the files beside the submission are its own
    (its helper modules are copied along); by default only the file itself is. `plan`: the task's
    plan of the assignment (each run's data), when a batch has made it already. Never raises for what
    the submission does; a failure of the harness itself becomes a GRADER ERROR verdict with the
    traceback for staff."""
    start = time.perf_counter()
    try:
        mode = isolation.choose(sandbox_mode)
        limits = Limits(timeout_s or assignment.timeout_s, memory_mb or assignment.memory_mb, output_limit)
        graded = _grade(Path(submission), assignment, limits, stop, mode, private_folder, plan)
        return dataclasses.replace(graded, submission=submission, sandbox=mode.value)
    except (isolation.SandboxUnavailable, environment.EnvironmentUnavailable):
        raise
    except Exception:                          # noqa: BLE001 - the harness's own failure
        return grader_failed(assignment, submission, traceback.format_exc(), time.perf_counter() - start)


@dataclass(frozen=True)
class Limits:
    timeout_s: float
    memory_mb: int
    output: int                                # bytes of each output stream kept


@dataclass
class ChildRun:
    """One child's run: how it ended, what it reported, where it saw the submission."""
    done: process.Finished
    seen: Seen
    child_sub: str
    flags: tuple[str, ...]
    whole_submission_limit: bool


def _grade(path: Path, assignment, limits: Limits, stop, mode, private_folder, plan: dict | None) -> Graded:
    if not path.is_file():
        return unrun(assignment, str(path), Problem(Verdict.MISSING, f"no such file: {path}"))
    script = None
    if path.suffix == ".ipynb":
        try:
            script = notebook.to_script(path, assignment.skip_cells)
        except notebook.NotebookError as exc:
            return unrun(assignment, str(path), Problem(Verdict.SYNTAX, str(exc)))
    offered = environment.check(assignment.environment.packages)
    task = task_of(assignment)
    plan = task.plan(assignment) if plan is None else plan
    child = _run_child(path, assignment, task, plan, limits, stop, mode, private_folder, script, offered)
    seen, done = child.seen, child.done
    if seen.fatal is not None and seen.fatal.kind is Verdict.INVALID:   # tampered with: nothing counts
        seen.results, seen.partials = {}, {}
    fatal = seen.fatal
    if fatal is None and seen.phase != "done":
        fatal = ended_early(done, seen.phase, limits.timeout_s, limits.memory_mb, child.whole_submission_limit)
    stdout, stderr = done.stdout.text, done.stderr.text
    if fatal is not None and fatal.kind is Verdict.GRADER:   # the harness's own output: for staff only
        fatal = dataclasses.replace(fatal, detail="\n".join(filter(None, (fatal.detail, stdout, stderr))))
        stdout = stderr = ""
    notes = _notes(child, fatal, assignment, path, script, offered, limits)
    stubs = placeholders.unimplemented(path) if script is None else frozenset()
    results = {k: placeholders.explain(_relocated(v, child.child_sub, path, script), stubs) if isinstance(v, Problem)
               else _relocated(v, child.child_sub, path, script) for k, v in seen.results.items()}
    if fatal is not None and fatal.kind is Verdict.IMPORT:
        fatal = environment.explain_import(fatal, offered.modules, assignment.environment.packages)
    stdout, stderr = (text.replace(child.child_sub + "/", f"{path.parent}/") for text in (stdout, stderr))
    fatal = fatal and placeholders.explain(_relocated(fatal, child.child_sub, path, script), stubs)
    graded = evaluate(assignment, str(path), results, fatal, notes, stdout, stderr, done.seconds, seen.partials, plan)
    return dataclasses.replace(graded, staff_flags=child.flags)


def _run_child(path: Path, assignment, task, plan: dict, limits: Limits, stop, mode, private_folder, script,
               offered) -> ChildRun:
    """The submission copied into its own workspace, its job written, the child run in the sandbox
    and its results read back (each observation judged here, in the parent)."""
    slot = isolation.take_slot()
    try:
        with isolation.Workspace("grade", offered) as ws:
            rel = ws.copy_submission(path.resolve(), private_folder)
            if script is not None:                 # a notebook: its code cells, as a script, are what runs
                rel = rel.with_suffix(".py")
                (ws.sub / rel).write_text(script.text)
            paths = [ws.seen(mode, ws.support, "/support") for _ in ws.copy_support(assignment.support)]
            flags = tuple(f"{p.relative_to(ws.sub)}: {flag}" for p in sorted(ws.sub.rglob("*.py"))
                          for flag in tripwire.scan(p))
            child_sub = ws.seen(mode, ws.sub, "/sub")
            job = Job(task.kind, f"{child_sub}/{rel}", limits.memory_mb, task.job_runs(assignment, plan),
                      task.adapter(assignment, f"{child_sub}/{rel}"),
                      f"{ws.seen(mode, ws.inputs, '/in')}/inputs.npz", cpu_s=limits.timeout_s, paths=tuple(paths),
                      load="statements" if script is not None else assignment.load)
            save_inputs(ws.inputs / "inputs.npz", [plan[r].handed for r in job.runs])
            ws.limit_out(len(job.run_ids) * job.largest_observation_bytes() + 1_000_000)
            done, groups = _run_sandboxed(ws, mode, slot, job, limits, stop)
            seen = read_events(ws.out, job, task, plan)
    finally:
        isolation.give_slot(slot)
    return ChildRun(done, seen, child_sub, flags, groups.paths != [])


def _run_sandboxed(ws, mode, slot, job: Job, limits: Limits, stop):
    kwargs = ws.popen_kwargs(mode, slot)
    groups = isolation.Cgroups.make(ws.root.name, limits.memory_mb)
    try:
        argv = groups.wrap(ws.child_argv(mode), kwargs.get("user"))
        done = process.run(argv, timeout_s=limits.timeout_s, cwd=ws.cwd(mode), limit=limits.output, stop=stop,
                           stdin=job.to_json().encode(), **kwargs)
    finally:
        groups.remove()
    if mode is isolation.Mode.STRICT and (done.returncode or 0) > 128:   # bwrap: 128 + the signal
        done = dataclasses.replace(done, returncode=128 - done.returncode)
    return done, groups


def _notes(child: ChildRun, fatal, assignment, path: Path, script, offered, limits: Limits) -> list[str]:
    """What the report says about the run besides its checks."""
    done, notes = child.done, list(child.seen.notes)
    if (fatal is None or fatal.kind is not Verdict.GRADER) and (done.stdout.truncated or done.stderr.truncated):
        notes.insert(0, f"the code printed {done.stdout.total_bytes + done.stderr.total_bytes:,} bytes; "
                        f"output below is truncated to the first {limits.output:,} and last {process.TAIL:,} "
                        "bytes of each stream")
    if child.seen.skipped:
        notes.append(_skipped_note([_relocated(p, child.child_sub, path, script) for p in child.seen.skipped]))
    if offered.frameworks:
        notes.append(f"this assignment lets submissions import {', '.join(offered.frameworks)} (autodiff): "
                     "gradients may come from it rather than from hand-written backprop")
    if script is None and assignment.load == "definitions":
        notes.append("only the file's definitions ran (imports, functions, classes, constants): this assignment "
                     "leaves out its top-level script (training, seeding such as nnfs.init(), plots)")
    if script is not None and script.skipped:
        notes.append(f"notebook cells {', '.join(map(str, script.skipped))} not run (the assignment skips them)")
    return notes


def _skipped_note(skipped: list[Problem], shown: int = 4) -> str:
    """One note for the notebook statements that raised and were left out."""
    def one(p: Problem) -> str:
        where = p.where.rsplit("(", 1)[-1].rstrip(")") if "(" in p.where else p.where
        return f"{where}: {p.message.splitlines()[0][:120]}" if where else p.message.splitlines()[0][:120]
    more = f"; and {len(skipped) - shown} more" if len(skipped) > shown else ""
    return (f"{len(skipped)} notebook statement(s) raised and were left out, as failing cells are in Jupyter; the rest "
            f"ran ({'; '.join(one(p) for p in skipped[:shown])}{more})")


def unrun(assignment, submission: str, problem: Problem) -> Graded:
    """The verdict of a submission that never ran: every check fails with the problem."""
    return evaluate(assignment, submission, {}, problem)


def _relocated(result, child_dir: str, path: Path, script: notebook.Script | None = None):
    """A Problem's file:line as the student knows it (the child saw its private copy; a
    notebook's line is a cell and a line in it); a Run's notes and step problem likewise."""
    real = str(path.resolve().parent)
    if isinstance(result, Run):
        return dataclasses.replace(result, notes=tuple(n.replace(child_dir + "/", real + "/") for n in result.notes),
                                   step_problem=result.step_problem.replace(child_dir + "/", real + "/"))
    if not isinstance(result, Problem):
        return result
    where = result.where.replace(child_dir + "/", real + "/")
    converted = str(path.resolve().with_suffix(".py"))
    if script is not None and where.startswith(converted + ":") and where.rsplit(":", 1)[1].isdigit():
        where = f"{path.resolve()} ({script.locate(int(where.rsplit(':', 1)[1]))})"
    return dataclasses.replace(result, message=result.message.replace(child_dir + "/", real + "/"), where=where)


@dataclass
class Seen:
    """What the child reported, parsed and validated."""
    results: dict = field(default_factory=dict)      # run id -> Run | Problem
    partials: dict = field(default_factory=dict)     # run id -> forward-only Run
    fatal: Problem | None = None
    notes: list = field(default_factory=list)
    skipped: list = field(default_factory=list)      # notebook statements that raised, left out
    phase: str = STARTING


MAX_EVENTS_BYTES = 4_000_000


def read_events(work: Path, job: Job, task, plan: dict) -> Seen:
    """What the child reported, each observation judged here (derive); anything malformed makes
    the whole submission an INVALID RESULT."""
    seen = Seen()
    path = work / "events.jsonl"
    if path.exists() and path.stat().st_size > MAX_EVENTS_BYTES:
        seen.fatal = _invalid(f"{path.stat().st_size:,} bytes of events")
        return seen
    for line in (path.read_text(errors="replace").splitlines() if path.exists() else []):
        try:
            event = ev.parse_event(line)
        except ev.ProtocolError:              # a line cut short by a kill, or not an event at all
            continue
        try:
            _apply(seen, event, work, job, lambda run_id, partial: _judged(work, job, task, plan, run_id, partial))
        except ev.ProtocolError as exc:
            seen.fatal = seen.fatal or _invalid(str(exc))
    return seen


def _invalid(what: str) -> Problem:
    return Problem(Verdict.INVALID, f"the results sent back by the grading process are malformed ({what}); "
                                    "they may have been written by the submission itself, so none of them counts")


def _apply(seen: Seen, event, work: Path, job: Job, judged) -> None:
    if isinstance(event, ev.Phase):
        seen.phase = event.text
    elif isinstance(event, ev.Imported) and event.seconds > SLOW_IMPORT_S:
        seen.notes.append(f"importing the module took {event.seconds:.1f} s: code at module level runs on import "
                          "(training at import time?); put it under `if __name__ == \"__main__\":`")
    elif isinstance(event, ev.Fatal):
        seen.fatal = event.problem
    elif isinstance(event, ev.Skipped):
        seen.skipped.append(event.problem)
    elif isinstance(event, (ev.RunDone, ev.Partial, ev.RunFailed, ev.StepFailed)) and event.id not in job.run_ids:
        raise ev.ProtocolError(f"a result for {event.id[:100]!r}, which is not a run of this job")
    elif isinstance(event, ev.Partial):
        partial = judged(event.id, True)
        if isinstance(partial, Run):
            seen.partials[event.id] = partial
    elif isinstance(event, ev.RunDone):
        seen.results[event.id] = judged(event.id, False)
    elif isinstance(event, ev.RunFailed):
        seen.results[event.id] = event.problem
    elif isinstance(event, ev.StepFailed) and isinstance(seen.results.get(event.id), Run):
        run = seen.results[event.id]
        where = f" (at {event.problem.where})" if event.problem.where else ""
        kept = tuple(n for n in run.notes if not n.startswith("step computed by the harness"))
        seen.results[event.id] = dataclasses.replace(run, step_problem=event.problem.text(), notes=kept + (
            f"the code's update raised {event.problem.message.split(':')[0]}{where} after its gradients came back: "
            "the step check fails, the gradients are graded",))
    elif isinstance(event, ev.Done):
        seen.phase = "done"


def _judged(work: Path, job: Job, task, plan: dict, run_id: str, partial: bool):
    """A run's observation read back (bounded, validated) and judged by its task kind."""
    observation = ev.load_observation(job, run_id, work / ev.observation_file(job, run_id, partial), partial)
    return task.judge(job, plan[run_id], observation)


def ended_early(done: process.Finished, phase: str, timeout_s: float, memory_mb: int,
                whole_submission_limit: bool = False) -> Problem:
    if phase == STARTING and not done.timed_out and done.signal_name is None and done.returncode:
        return Problem(Verdict.GRADER, "the grader's child process failed before it imported your code; this is "
                                       "not a problem in your code: course staff have the details")
    if done.timed_out:
        text = f"timed out after {timeout_s:g} s while {phase}"
        if phase == "importing the module":
            text += (": code at module level runs on import (training at import time? an endless loop?); "
                     "put it under `if __name__ == \"__main__\":`")
        else:
            text += ": an endless loop, or far too slow"
        return Problem(Verdict.TIMEOUT, text)
    if done.signal_name:
        scope = " for the whole submission" if whole_submission_limit else ""
        hint = f" (killed: out of memory? the limit is {memory_mb} MB{scope})" if done.signal_name == "SIGKILL" else ""
        return Problem(Verdict.CRASHED, f"the process died of {done.signal_name} while {phase}{hint}")
    return Problem(Verdict.EXIT, f"the process exited with code {done.returncode} while {phase} "
                                 "(os._exit or exit in the code?); grading code must not exit")


# --- many ----------------------------------------------------------------------------------
SUBMISSION_SUFFIXES = (".py", ".ipynb")


def find_submissions(paths, assignment: Assignment) -> list[str]:
    """Files as given; a folder contributes its .py and .ipynb files and, per sub-folder (one per
    student), the assignment's `file` or the folder's only .py or .ipynb file."""
    found = []
    for p in map(Path, paths):
        if not p.is_dir():
            found.append(str(p))
            continue
        for child in sorted(p.iterdir()):
            if child.is_file() and child.suffix in SUBMISSION_SUFFIXES:
                found.append(str(child))
            elif child.is_dir() and not child.name.startswith((".", "__")):
                found.append(str(_the_submission(child, assignment)))
    return found


def _the_submission(folder: Path, assignment: Assignment) -> Path:
    """In one student's folder: the assignment's `file`, else the only notebook (the .py files
    beside it are the course's helpers), else the only .py file; the folder itself when unclear."""
    named = folder / assignment.file if assignment.file else None
    if named and named.is_file():
        return named
    notebooks = sorted(folder.glob("*.ipynb"))
    pys = sorted(folder.glob("*.py"))
    return notebooks[0] if len(notebooks) == 1 else pys[0] if len(pys) == 1 and not notebooks else folder


def student_folders(paths) -> set[Path]:
    """The per-student sub-folders of the folders given: the files in one belong to one student
    (helper modules beside the submission are copied into its sandbox; nothing else is)."""
    return {c.resolve() for p in map(Path, paths) if p.is_dir() for c in p.iterdir()
            if c.is_dir() and not c.name.startswith((".", "__"))}


def grade_many(submissions, assignment: Assignment, jobs: int = 1, own_folders=frozenset(), **kwargs):
    """Yield each Graded as soon as it exists (completion order), `jobs` at a time. Closing the
    generator early (an interrupt) kills what runs and starts nothing more. `own_folders`:
    folders that hold one student's files (student_folders)."""
    stop = threading.Event()
    kwargs.setdefault("plan", _plan_once(assignment))
    with ThreadPoolExecutor(max_workers=max(jobs, 1)) as pool:
        futures = {pool.submit(_grade_or_missing, s, assignment, stop=stop,
                               private_folder=Path(s).resolve().parent in own_folders, **kwargs): s
                   for s in submissions}
        pending = set(futures)
        try:
            while pending:
                # never block without a timeout: a Ctrl-C the kernel hands to a worker thread only
                # reaches the main thread when it returns to Python, which a lock wait with no timeout
                # never does (the batch would run on, interrupted, until every timeout)
                done, pending = wait(pending, timeout=0.2, return_when=FIRST_COMPLETED)
                for future in done:
                    yield future.result()
        finally:                     # interrupted: drop what has not started, stop what runs
            stop.set()
            for f in futures:
                f.cancel()


def _plan_once(assignment) -> dict | None:
    """The batch's plan: each run's data, made once for every submission (None if making it fails:
    then each submission makes its own, and a failure is that submission's GRADER ERROR)."""
    try:
        return task_of(assignment).plan(assignment)
    except Exception:                          # noqa: BLE001 - reported per submission by grade()
        return None


def _grade_or_missing(submission: str, assignment: Assignment, **kwargs) -> Graded:
    if Path(submission).is_dir():
        return unrun(assignment, submission, Problem(
            Verdict.MISSING, f"cannot tell which file to grade in folder {submission}: "
                             + (f"no {assignment.file}" if assignment.file else
                                "it holds no single .py or .ipynb file")))
    return grade(submission, assignment, **kwargs)
