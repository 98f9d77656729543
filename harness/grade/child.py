"""The grading child: import the submission, drive it through its adapter on each run, and
describe whatever goes wrong (harness.drive.problems).

    python -I -S RUNNER/run_child.py RUNNER PYLIB OUT_DIR     < job (harness.grade.events.Job, JSON)

run inside the sandbox (harness.grade.isolation) with only the minimal runner and numpy on its
path. It caps its own resources before importing student code, then writes each event as a JSON line
to OUT_DIR/events.jsonl and each run's arrays to OUT_DIR/<id>.npz as soon as they exist:
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

from ..core.spec import Spec
from ..drive.adapter import Adapter
from ..drive.layers import observe_layer
from ..drive.problems import Problem, Verdict, describe, grader_error
from ..drive.runner import Observation, load_definitions, load_module, load_statements, observe
from . import events as ev

MAX_SKIPPED = 20                 # notebook statements left out, reported one by one


@dataclass(frozen=True)
class Outcome:
    """A run's result in the child, before its arrays are saved: the raw Observation or a
    Problem; `partial`: the forward-only Observation after a Problem, when the forward pass and
    loss alone still run."""
    id: str
    result: Observation | dict | Problem      # dict: a layer run's arrays
    partial: bool = False


def drive(adapter: Adapter | None, submission: str, runs: dict[str, Spec], inputs: dict, paths=(), layer_runs=None,
          load: str = "module"):
    """Import the submission, then run every spec in `runs` on its `inputs` (run id -> params,
    X, T). Yields events (Phase, Imported, Fatal) and an Outcome per run (and per partial run):
    raw numbers only, judged by the parent. `paths`: the assignment's support modules, found
    after the submission's own."""
    folder = str(Path(submission).resolve().parent)
    for entry in reversed([folder, *paths]):
        if entry not in sys.path:
            sys.path.insert(0, entry)       # the submission may import its own helper modules, then the course's
    yield ev.Phase("importing the module")
    start = time.perf_counter()
    try:
        if load == "statements":
            module, skipped = load_statements(submission)
            for exc, _ in skipped[:MAX_SKIPPED]:
                yield ev.Skipped(describe(exc, submission, paths))
        elif load == "definitions":
            module = load_definitions(submission)
        else:
            module = load_module(submission)
    except BaseException as exc:             # noqa: BLE001 - a submission may raise anything
        problem = describe(exc, submission, paths)
        if problem.kind is Verdict.API:      # load_module's "no such file"
            problem = Problem(Verdict.MISSING, problem.message)
        yield ev.Fatal(problem)
        return
    yield ev.Imported(time.perf_counter() - start)
    if layer_runs:
        yield from _drive_layers(module, submission, layer_runs, inputs, paths)
        return
    for run_id, spec in runs.items():
        yield ev.Phase(f"running {run_id!r}")
        params, X, T = inputs[run_id]
        try:
            obs = observe(adapter, spec, params, X, T, module)
            yield Outcome(run_id, obs)
            if obs.update_error is not None:
                yield ev.StepFailed(run_id, describe(obs.update_error, submission, paths))
            continue
        except BaseException as exc:         # noqa: BLE001
            yield Outcome(run_id, describe(exc, submission, paths))
        try:                                 # what still works earns its points
            yield Outcome(run_id, observe(adapter, spec, params, X, T, module, forward_only=True), partial=True)
        except BaseException:                # noqa: BLE001 - the problem is already reported
            pass


def _drive_layers(module, submission: str, layer_runs: dict, inputs: dict, paths=()):
    """Each layer on each case: its forward and backward calls on the grader's inputs."""
    for run_id, (layer, case) in layer_runs.items():
        yield ev.Phase(f"running {run_id!r}")
        try:
            yield Outcome(run_id, observe_layer(layer, module, inputs[run_id], (case.inputs, case.outputs)))
        except BaseException as exc:         # noqa: BLE001
            yield Outcome(run_id, describe(exc, submission, paths))


def _limit(job: ev.Job) -> None:
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

    def __init__(self, out: Path, job: ev.Job):
        self.out, self.job = out, job
        self.fh = open(out / "events.jsonl", "a", buffering=1)

    def emit(self, event) -> None:
        self.fh.write(ev.to_json(event) + "\n")
        self.fh.flush()

    def outcome(self, o: Outcome) -> None:
        """Arrays saved, then the event."""
        if isinstance(o.result, Problem):
            self.emit(ev.RunFailed(o.id, o.result))
            return
        try:
            path = self.out / ev.observation_file(self.job, o.id, o.partial)
            if isinstance(o.result, dict):
                ev.save_layer_observation(o.result, path)
            else:
                ev.save_observation(o.result, path)
        except MemoryError:
            if not o.partial:
                self.emit(ev.RunFailed(o.id, Problem(Verdict.MEMORY, "MemoryError while saving the results "
                                                                     "(memory limit)")))
            return
        self.emit(ev.Partial(o.id) if o.partial else ev.RunDone(o.id))


def child_main(argv) -> int:
    out = Path(argv[0])
    job = ev.Job.from_json(sys.stdin.read())
    sys.stdin.close()
    events = _Events(out, job)
    try:
        inputs = ev.load_layer_inputs(job.inputs, job.layer_runs) if job.layer_runs else ev.load_inputs(job.inputs,
                                                                                                         job.runs)
        _limit(job)
        for item in drive(job.adapter, job.submission, job.runs, inputs, job.paths, job.layer_runs, job.load):
            if isinstance(item, Outcome):
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
