"""The grading child: import the submission, drive it through its adapter on each run, and
describe whatever goes wrong (harness.drive.problems).

    python -I -S RUNNER/run_child.py RUNNER PYLIB OUT_DIR     < job (harness.drive.protocol.Job, JSON)

run inside the sandbox (harness.grade.isolation) with only the minimal runner and numpy on its
path. It caps its own resources before importing student code, then writes each event as a JSON line
to OUT_DIR/events.jsonl and each run's arrays to OUT_DIR/run<i>.npz as soon as they exist
(harness.drive.protocol):
whatever the code does next (hang, crash, exit), what finished is kept. Only arrays and
messages cross back; all comparing happens in the parent. A failure of the harness's own code
here is reported as a grader error, never as the student's.
"""
from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from ..drive import protocol as ev
from ..drive.layer_driver import observe_layer
from ..drive.problems import Problem, Verdict, describe, grader_error
from ..drive.protocol import Job, Observation
from ..drive.runner import load_definitions, load_module, load_statements, observe

MAX_SKIPPED = 20                 # notebook statements left out, reported one by one


@dataclass(frozen=True)
class RunOutcome:
    """A run's result in the child, before its arrays are saved: the raw Observation (a layer
    run's arrays) or a Problem; `partial`: the forward-only Observation after a Problem, when the
    forward pass and loss alone still run."""
    id: str
    result: Observation | dict | Problem
    partial: bool = False


def drive(job: Job, inputs: dict):
    """Import the submission, then run each of the job's runs on its `inputs` (run id -> arrays).
    Yields events (Phase, Imported, Fatal, ...) and a RunOutcome per run (and per partial run):
    raw numbers only, judged by the parent. The assignment's support modules are found after
    the submission's own."""
    folder = str(Path(job.submission).resolve().parent)
    for entry in reversed([folder, *job.paths]):
        if entry not in sys.path:
            sys.path.insert(0, entry)       # the submission may import its own helper modules, then the course's
    yield ev.Phase("importing the module")
    start = time.perf_counter()
    try:
        module = yield from _load(job)
    except BaseException as exc:             # noqa: BLE001 - a submission may raise anything
        problem = describe(exc, job.submission, job.paths)
        if problem.kind is Verdict.API:      # load_module's "no such file"
            problem = Problem(Verdict.MISSING, problem.message)
        yield ev.Fatal(problem)
        return
    yield ev.Imported(time.perf_counter() - start)
    for run_id in job.runs:
        yield ev.Phase(f"running {run_id!r}")
        yield from DRIVERS[job.kind](job, module, run_id, inputs[run_id])


def _load(job: Job):
    """The submission as a module, as the job says to load it (yields a notebook's skipped statements)."""
    if job.load == "statements":
        module, skipped = load_statements(job.submission)
        for exc, _ in skipped[:MAX_SKIPPED]:
            yield ev.Skipped(describe(exc, job.submission, job.paths))
        return module
    return load_definitions(job.submission) if job.load == "definitions" else load_module(job.submission)


def _drive_net(job: Job, module, run_id: str, inputs: dict):
    """One run of a net: observed whole; after a problem, the forward pass and loss alone."""
    spec, params, X, T = job.runs[run_id], inputs["p"], inputs["X"], inputs["T"]
    try:
        obs = observe(job.adapter, spec, params, X, T, module)
        yield RunOutcome(run_id, obs)
        if obs.update_error is not None:
            yield ev.StepFailed(run_id, describe(obs.update_error, job.submission, job.paths))
        return
    except BaseException as exc:             # noqa: BLE001
        yield RunOutcome(run_id, describe(exc, job.submission, job.paths))
    try:                                     # what still works earns its points
        yield RunOutcome(run_id, observe(job.adapter, spec, params, X, T, module, forward_only=True), partial=True)
    except BaseException:                    # noqa: BLE001 - the problem is already reported
        pass


def _drive_layer(job: Job, module, run_id: str, inputs: dict):
    """One layer on one case: its forward and backward calls on the grader's inputs."""
    layer, case = job.runs[run_id]
    try:
        yield RunOutcome(run_id, observe_layer(layer, module, inputs, (case.inputs, case.outputs)))
    except BaseException as exc:             # noqa: BLE001
        yield RunOutcome(run_id, describe(exc, job.submission, job.paths))


DRIVERS = {"net": _drive_net, "layers": _drive_layer}       # by Job.kind (harness.drive.protocol.KINDS)


def _limit(job: Job) -> None:
    """Per-process limits, set before the submission is imported: address space, the size of a
    file it may write (what its results need, no more), CPU time, open files."""
    try:
        import resource
    except ImportError:                      # not on this platform: the timeout still applies
        return
    limits = {resource.RLIMIT_AS: job.memory_mb * 1024 * 1024,
              resource.RLIMIT_FSIZE: job.largest_observation_bytes() + 1_000_000,
              resource.RLIMIT_NOFILE: 256}
    if job.cpu_s:
        limits[resource.RLIMIT_CPU] = int(job.cpu_s) + 1
    for kind, value in limits.items():
        soft, hard = resource.getrlimit(kind)
        value = value if hard == resource.RLIM_INFINITY else min(value, hard)
        resource.setrlimit(kind, (value, value))


class _Events:
    """events.jsonl, one flushed line per event (in the kernel at once: it survives a kill of this
    process); observations as run<i>.npz (ev.observation_file)."""

    def __init__(self, out: Path, job: Job):
        self.out, self.job = out, job
        self.fh = open(out / "events.jsonl", "a", buffering=1)

    def emit(self, event) -> None:
        self.fh.write(ev.to_json(event) + "\n")
        self.fh.flush()

    def outcome(self, o: RunOutcome) -> None:
        """Arrays saved, then the event."""
        if isinstance(o.result, Problem):
            self.emit(ev.RunFailed(o.id, o.result))
            return
        try:
            path = self.out / ev.observation_file(self.job, o.id, o.partial)
            ev.save_observation(self.job, o.result, path)
        except MemoryError:
            if not o.partial:
                self.emit(ev.RunFailed(o.id, Problem(Verdict.MEMORY, "MemoryError while saving the results "
                                                                     "(memory limit)")))
            return
        self.emit(ev.Partial(o.id) if o.partial else ev.RunDone(o.id))


def child_main(argv) -> int:
    out = Path(argv[0])
    job = Job.from_json(sys.stdin.read())
    sys.stdin.close()
    events = _Events(out, job)
    try:
        inputs = ev.load_inputs(job.inputs, job.run_ids)
        _limit(job)
        for item in drive(job, inputs):
            if isinstance(item, RunOutcome):
                events.outcome(item)
            else:
                events.emit(item)
        events.emit(ev.Done())
    except Exception as exc:                 # noqa: BLE001 - the harness's own failure: say so, for staff
        import traceback
        events.emit(ev.Fatal(grader_error(f"{type(exc).__name__}: {exc}", traceback.format_exc())))
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)              # threads the submission started must not keep the process alive


if __name__ == "__main__":
    sys.exit(child_main(sys.argv[1:]))
