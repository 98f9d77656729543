"""Running student code: import it, drive it through its adapter on each case, and describe
whatever goes wrong (syntax error with file:line, exception with the student's own frame,
sys.exit, memory, an API that is not the one the assignment describes).

`drive()` does the work and yields one event per step. In grading it runs inside a fresh child
process started by harness.grade through harness.sandbox:

    python -m harness.student JOB_JSON OUT_DIR

which caps memory, and writes each event as a JSON line to OUT_DIR/events.jsonl and each run's
arrays to OUT_DIR/<id>.npz as soon as they exist: whatever the code does next (hang, crash,
exit), what finished is kept. Only arrays and messages cross back; all comparing happens in
the parent.
"""
from __future__ import annotations

import dataclasses
import json
import os
import sys
import time
import traceback
from dataclasses import dataclass
from pathlib import Path


from .adapters import Adapter, AdapterError, ShapeError, load_module, run_adapter
from .params import init_params, make_batch
from .run import Run, save_run
from .specs import Spec

_HARNESS_DIR = str(Path(__file__).parent)


@dataclass(frozen=True)
class Problem:
    """Why there is no result: kind is one of syntax, import, exception, api (not the API the
    assignment describes), shape, exit, memory, timeout, crashed, missing."""
    kind: str
    message: str
    where: str = ""      # file:line in the student's code, when known
    line: str = ""       # that line of source

    def text(self) -> str:
        out = self.message + (f" (at {self.where})" if self.where else "")
        return out + (f"\n    {self.line.strip()}" if self.line.strip() else "")


def describe(exc: BaseException, submission: str | None = None) -> Problem:
    """A Problem for an exception raised by (or while importing) code under test; `where` is
    the last frame in the submission's folder, else the last one outside the harness."""
    if isinstance(exc, SyntaxError):
        return Problem("syntax", f"SyntaxError: {exc.msg}", f"{exc.filename}:{exc.lineno}", exc.text or "")
    if isinstance(exc, SystemExit):
        return Problem("exit", f"the code called sys.exit({exc.code!r}); grading code must not exit")
    if isinstance(exc, MemoryError):
        return Problem("memory", f"MemoryError: {exc or 'out of memory'} (the memory limit was reached)")
    if isinstance(exc, ShapeError):
        return Problem("shape", str(exc))
    if isinstance(exc, AdapterError):
        return Problem("api", str(exc))
    frames = traceback.extract_tb(exc.__traceback__)
    folder = str(Path(submission).resolve().parent) if submission else None
    own = [f for f in frames if folder and os.path.abspath(f.filename).startswith(folder + os.sep)]
    outside = [f for f in frames if _HARNESS_DIR not in f.filename]
    frame = (own or outside or frames or [None])[-1]
    kind = "import" if isinstance(exc, ImportError) else "exception"
    message = f"{type(exc).__name__}: {exc}"
    if frame is None:
        return Problem(kind, message)
    return Problem(kind, message, f"{frame.filename}:{frame.lineno}", frame.line or "")


def drive(adapter: Adapter, submission: str, runs: dict[str, Spec]):
    """Import the submission, then run every spec in `runs`. Yields ("phase", text),
    ("imported", seconds), ("run", id, Run | Problem), ("partial", id, Run) after a Problem
    when the forward pass and loss alone still run, and ("fatal", Problem)."""
    folder = str(Path(submission).resolve().parent)
    if folder not in sys.path:
        sys.path.insert(0, folder)          # the submission may import its own helper modules
    yield "phase", "importing the module"
    start = time.perf_counter()
    try:
        module = load_module(submission)
    except BaseException as exc:             # noqa: BLE001 - a submission may raise anything
        problem = describe(exc, submission)
        if problem.kind == "api":            # load_module's "no such file"
            problem = dataclasses.replace(problem, kind="missing")
        yield "fatal", problem
        return
    yield "imported", time.perf_counter() - start
    for run_id, spec in runs.items():
        yield "phase", f"running {run_id!r}"
        params = init_params(spec)
        X, T = make_batch(spec)
        try:
            yield "run", run_id, run_adapter(adapter, spec, params, X, T, backend="submission", module=module)
            continue
        except BaseException as exc:         # noqa: BLE001
            yield "run", run_id, describe(exc, submission)
        try:                                 # what still works earns its points
            yield "partial", run_id, run_adapter(adapter, spec, params, X, T, "submission", module, forward_only=True)
        except BaseException:                # noqa: BLE001 - the problem is already reported
            pass


# --- the child process ---------------------------------------------------------------------
def _limit_memory(megabytes: int) -> None:
    try:
        import resource
    except ImportError:                      # not on this platform: the timeout still applies
        return
    limit = megabytes * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def child_main(argv) -> int:
    job_path, out_dir = argv
    job = json.loads(Path(job_path).read_text())
    out = Path(out_dir)
    with open(out / "events.jsonl", "a", buffering=1) as events:
        def emit(**event):
            events.write(json.dumps(event) + "\n")
            events.flush()
            os.fsync(events.fileno())

        _limit_memory(job["memory_mb"])
        from .assignment import load
        adapter = load(job["assignment"]).adapter_for(job["submission"])
        runs = {rid: Spec.from_json(s) for rid, s in job["runs"].items()}
        for event in drive(adapter, job["submission"], runs):
            if event[0] == "partial":
                emit(event="partial", id=event[1], **save_run(event[2], out / f"{event[1]}.partial.npz"))
            elif event[0] == "run":
                _, run_id, result = event
                if isinstance(result, Run):
                    try:
                        meta = save_run(result, out / f"{run_id}.npz")
                    except MemoryError:
                        result = Problem("memory", "MemoryError while saving the results (memory limit)")
                    else:
                        emit(event="run", id=run_id, ok=True, **meta)
                        continue
                emit(event="run", id=run_id, ok=False, problem=dataclasses.asdict(result))
            elif event[0] == "fatal":
                emit(event="fatal", problem=dataclasses.asdict(event[1]))
            elif event[0] == "imported":
                emit(event="imported", seconds=event[1])
            else:
                emit(event="phase", phase=event[1])
        emit(event="done")
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)              # threads the submission started must not keep the process alive


if __name__ == "__main__":
    sys.exit(child_main(sys.argv[1:]))
