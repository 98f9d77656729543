"""The grading child's protocol, both ways, as data.

Parent -> child: one `Job` (the adapter itself, the submission, the memory cap, every run's
spec) written to the child's standard input; the child re-reads no file. Child -> parent: one
JSON line per event, each a dataclass here with to_json/from_json, and per run the raw numbers
the code returned (a harness.drive.runner.Observation) as an .npz named by the run id.

Everything from the child is hostile input (the child is the student's process): an event line
is parsed only up to a size and raises ProtocolError for anything unknown; an observation is
read member by member, each bounded before it is read, with exactly the names, float dtypes
and count the adapter implies, else ProtocolError. No flag from the child decides anything.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..core.layers import LayerCase
from ..core.spec import Spec
from ..drive.adapter import Adapter
from ..drive.layers import LayerAdapter
from ..drive.problems import Problem
from ..drive.runner import Observation, per_sample_updates
from .parsing import PARSING


class ProtocolError(ValueError):
    """A line from the child that is not a well-formed event."""


@dataclass(frozen=True)
class Job:
    adapter: Adapter | None        # None for a layer assignment
    submission: str                # as the child sees it
    memory_mb: int
    runs: dict[str, Spec]
    inputs: str = ""               # the .npz of every run's weights and batch (save_inputs), as the child sees it
    cpu_s: float = 0.0             # CPU seconds for the whole child (0: no limit)
    paths: tuple[str, ...] = ()    # folders of the assignment's support modules, as the child sees them
    layer_runs: dict = field(default_factory=dict)   # a layer assignment: run id -> (LayerAdapter, LayerCase)
    load: str = "module"           # how the submission is run: "module" (the whole file), "statements" (a
                                   # notebook, statement by statement), "definitions" (runner.load_definitions)

    def to_json(self) -> str:
        return json.dumps({"adapter": self.adapter.to_json() if self.adapter else None, "submission": self.submission,
                           "memory_mb": self.memory_mb, "runs": {k: s.to_json() for k, s in self.runs.items()},
                           "inputs": self.inputs, "cpu_s": self.cpu_s, "paths": list(self.paths),
                           "layer_runs": {k: [la.to_json(), c.to_json()] for k, (la, c) in self.layer_runs.items()},
                           "load": self.load})

    @staticmethod
    def from_json(text: str) -> Job:
        data = json.loads(text)
        return Job(Adapter.from_json(data["adapter"]) if data["adapter"] else None, data["submission"],
                   int(data["memory_mb"]), {k: Spec.from_json(s) for k, s in data["runs"].items()}, data["inputs"],
                   float(data["cpu_s"]), tuple(data.get("paths", ())),
                   {k: (LayerAdapter.from_json(la), LayerCase.from_json(c)) for k, (la, c)
                    in data.get("layer_runs", {}).items()}, str(data.get("load", "module")))

    @property
    def run_ids(self) -> list[str]:
        return list(self.layer_runs or self.runs)

    def largest_observation_bytes(self) -> int:
        if self.layer_runs:
            return max(sum(layer_arrays(c).values()) for _, c in self.layer_runs.values())
        return max((sum(expected_arrays(self.adapter, s, False).values()) for s in self.runs.values()), default=0)


def observation_file(job: Job, run_id: str, partial: bool = False) -> str:
    """The file name of a run's observation (by its index: run ids are free text)."""
    return f"run{job.run_ids.index(run_id)}{'.partial' if partial else ''}.npz"


# --- layer runs ----------------------------------------------------------------------------------
def save_layer_inputs(path: Path, layer_runs: dict) -> None:
    """Each layer run's inputs (harness.core.layer_math.layer_inputs), made by the grader."""
    from ..core.layer_math import layer_inputs
    np.savez(path, **{f"{i}.{k}": v for i, (_, case) in enumerate(layer_runs.values())
                      for k, v in layer_inputs(case).items()})


def load_layer_inputs(path: str, layer_runs: dict) -> dict[str, dict]:
    with np.load(path, allow_pickle=False) as data:
        return {run_id: {k.split(".", 1)[1]: data[k] for k in data.files if k.split(".", 1)[0] == str(i)}
                for i, run_id in enumerate(layer_runs)}


def layer_arrays(case: LayerCase) -> dict[str, int]:
    """Every array a layer run may send back, with the most bytes it may take."""
    x = int(np.prod(case.x_shape))
    grow = max(case.batch, case.inputs, case.outputs, 1)
    sizes = {"out": case.batch * max(case.outputs, case.inputs) * grow, "loss": grow, "dx": x * grow,
             "dw": case.inputs * max(case.outputs, 1) * grow, "db": max(case.outputs, 1) * grow,
             "x_after": x, "dout_after": case.batch * max(case.outputs, case.inputs)}
    return {name: 8 * entries + 256 for name, entries in sizes.items()}


def save_layer_observation(arrays: dict, path: Path) -> None:
    np.savez(path, **{k: np.asarray(v) for k, v in arrays.items()})


def load_layer_observation(path: Path, case: LayerCase) -> dict[str, np.ndarray]:
    """The arrays in `path`, each a known name of bounded size, floats only (ProtocolError else)."""
    return _read_arrays(path, layer_arrays(case), required={"x_after", "dout_after"})


def save_inputs(path: Path, runs: dict[str, Spec]) -> None:
    """Each run's canonical weights and batch, made here by the grader (the child gets arrays,
    not the code that makes them)."""
    from ..core.params import init_params, make_batch
    arrays = {}
    for i, spec in enumerate(runs.values()):
        X, T = make_batch(spec)
        arrays.update({f"{i}.X": X, f"{i}.T": T, **{f"{i}.p.{k}": v for k, v in init_params(spec).items()}})
    np.savez(path, **arrays)


def load_inputs(path: str, runs: dict[str, Spec]) -> dict[str, tuple[dict, np.ndarray, np.ndarray]]:
    """run id -> (params, X, T), as save_inputs wrote them (the child's side)."""
    with np.load(path, allow_pickle=False) as data:
        return {run_id: ({p: data[f"{i}.p.{p}"] for p in spec.param_names}, data[f"{i}.X"], data[f"{i}.T"])
                for i, (run_id, spec) in enumerate(runs.items())}


@dataclass(frozen=True)
class Phase:
    text: str                      # what the child is doing: "importing the module", "running 'case 1'"


@dataclass(frozen=True)
class Imported:
    seconds: float


@dataclass(frozen=True)
class RunDone:
    id: str                        # the observation is in <id>.npz


@dataclass(frozen=True)
class RunFailed:
    id: str
    problem: Problem


@dataclass(frozen=True)
class Partial:
    """After a RunFailed: the forward pass and loss alone still ran (observation in <id>.partial.npz)."""
    id: str


@dataclass(frozen=True)
class Fatal:
    problem: Problem


@dataclass(frozen=True)
class StepFailed:
    """After a RunDone: the gradients came back, the code's own update then raised."""
    id: str
    problem: Problem


@dataclass(frozen=True)
class Skipped:
    """A notebook statement (or a cell that does not parse) that raised and was left out; the
    rest of the notebook still ran."""
    problem: Problem


@dataclass(frozen=True)
class Done:
    """Every run was attempted."""


Event = Phase | Imported | RunDone | RunFailed | Partial | StepFailed | Fatal | Skipped | Done
_TYPES = {cls.__name__: cls for cls in (Phase, Imported, RunDone, RunFailed, Partial, StepFailed, Fatal, Skipped, Done)}


def to_json(event: Event) -> str:
    body = {}
    for name, value in vars(event).items():
        body[name] = value.to_json() if isinstance(value, Problem) else value
    return json.dumps({"event": type(event).__name__, **body})


MAX_EVENT_CHARS = 1_000_000


def parse_event(line: str) -> Event:
    if len(line) > MAX_EVENT_CHARS:
        raise ProtocolError(f"an event line of {len(line):,} characters (at most {MAX_EVENT_CHARS:,})")
    try:
        data = json.loads(line)
        cls = _TYPES[data.pop("event")]
        if "problem" in data:
            data["problem"] = Problem.from_json(data["problem"])
        event = cls(**data)
    except Exception as exc:   # noqa: BLE001 - whatever the line holds (deep nesting: RecursionError)
        raise ProtocolError(f"not an event: {line[:200]!r} ({type(exc).__name__})") from None
    _validate(event)
    return event


def _validate(event: Event) -> None:
    for name, expected in (("id", str), ("text", str)):
        if hasattr(event, name) and not isinstance(getattr(event, name), expected):
            raise ProtocolError(f"{type(event).__name__}.{name} is not a {expected.__name__}")
    if isinstance(event, Imported) and not isinstance(event.seconds, (int, float)):
        raise ProtocolError("Imported.seconds is not a number")


# --- observations: arrays across the boundary ------------------------------------------------
def save_observation(obs: Observation, path: Path) -> None:
    arrays = {**({"output": obs.output} if obs.output is not None else {}),
              **({"loss": obs.loss} if obs.loss is not None else {})}
    for group in ("loaded", "grads", "stepped", "after_gradients", "chained", "misshaped"):
        arrays.update({f"{group}.{k}": v for k, v in (getattr(obs, group) or {}).items()})
    for i, params in enumerate(obs.per_sample):
        arrays.update({f"per_sample.{i}.{k}": v for k, v in params.items()})
    for i, (X, T, rows) in enumerate(obs.inputs):
        arrays.update({f"inputs.{i}.X": X, f"inputs.{i}.T": T, f"inputs.{i}.rows": rows})
    np.savez(path, **{k: np.asarray(v) for k, v in arrays.items()})


def expected_arrays(adapter: Adapter, spec: Spec, forward_only: bool) -> dict[str, int]:
    """Every array name an observation of this run has, with the most bytes it may take (a
    parameter-shaped array may grow by a factor of the largest layer: an outer product where a
    matrix product belongs is a student's bug to report, not a reason to refuse the result)."""
    n, k, grow = spec.batch, spec.sizes[-1], max(spec.sizes)
    shapes = {f"W{i}": (a, b) for i, (a, b) in enumerate(zip(spec.sizes[:-1], spec.sizes[1:], strict=True), 1)}
    shapes.update({f"b{i}": (b,) for i, b in enumerate(spec.sizes[1:], 1)})
    params = {p: int(np.prod(shape)) for p, shape in shapes.items()}
    out = {**({"output": n * k * grow} if adapter.forward is not None else {}),
           **{f"loaded.{p}": size for p, size in params.items()}}
    if adapter.reports_loss:
        out["loss"] = n * k * grow                   # absent from a forward-only run whose loss call raised
    batches = 1
    if not forward_only:
        if adapter.gradients is not None:
            out.update({f"grads.{p}": size * max(n, grow) for p, size in params.items()})
            out.update({f"after_gradients.{p}": size * grow for p, size in params.items()})
            out.update({f"misshaped.{p}": size * max(n, grow) for p, size in params.items()})
        if per_sample_updates(adapter, n):
            out.update({f"per_sample.{i}.{p}": size * grow for i in range(n) for p, size in params.items()})
            out.update({f"{g}.{p}": size * grow for g in ("stepped", "chained") for p, size in params.items()})
            batches += 2 * n
        elif adapter.update:
            out.update({f"stepped.{p}": size * grow for p, size in params.items()})
            batches += 1 if adapter.gradients is not None else 0
    for i in range(batches):
        rows = n if i in (0, batches - 1) else 1
        out.update({f"inputs.{i}.X": rows * spec.sizes[0], f"inputs.{i}.T": rows * k,
                    f"inputs.{i}.rows": rows * (spec.sizes[0] + k)})
    return {name: 8 * entries + 256 for name, entries in out.items()}     # float64 + the .npy header


def load_observation(path: Path, adapter: Adapter, spec: Spec, forward_only: bool = False) -> Observation:
    """The observation in `path`, validated: exactly the expected names, each member's size
    bounded before it is read, float arrays only. Raises ProtocolError otherwise."""
    limits = expected_arrays(adapter, spec, forward_only)
    optional = ("grads.", "misshaped.") + (("stepped.", "inputs.1.") if adapter.gradients is not None else ())
    required = {n for n in limits if not n.startswith(optional) and n != "loss"}   # these may be missing
    # (the step of code whose update raised after its gradients came back: a StepFailed event says so)
    return _observation(_read_arrays(path, limits, required), spec)


def _read_arrays(path: Path, limits: dict[str, int], required: set) -> dict[str, np.ndarray]:
    import io
    import zipfile
    if not path.is_file() or path.stat().st_size > sum(limits.values()) + 512 * len(limits):
        raise ProtocolError(f"{path.name}: missing, or larger than the run's results can be")
    arrays = {}
    try:
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
            names = [i.filename.removesuffix(".npy") for i in infos]
            if len(set(names)) != len(names) or not required <= set(names) <= set(limits):
                raise ProtocolError(f"{path.name}: not the arrays this run produces")
            for info, name in zip(infos, names, strict=True):
                if info.file_size > limits[name]:
                    raise ProtocolError(f"{path.name}: {name} is larger than it can be")
                with zf.open(info) as fh:
                    data = fh.read(limits[name] + 1)
                if len(data) > limits[name]:
                    raise ProtocolError(f"{path.name}: {name} is larger than it can be")
                with PARSING:                 # its header is read with ast.literal_eval
                    arr = np.lib.format.read_array(io.BytesIO(data), allow_pickle=False)
                if arr.dtype.kind != "f" or arr.dtype.itemsize > 8:
                    raise ProtocolError(f"{path.name}: {name} has dtype {arr.dtype}, not a float")
                arrays[name] = arr
    except ProtocolError:
        raise
    except Exception as exc:   # noqa: BLE001 - a corrupt or hostile file
        raise ProtocolError(f"{path.name}: unreadable ({type(exc).__name__})") from None
    return arrays


def _observation(arrays: dict, spec: Spec) -> Observation:
    def group(prefix: str) -> dict | None:
        found = {k.split(".", 1)[1]: v for k, v in arrays.items() if k.startswith(prefix + ".")}
        return {p: found[p] for p in spec.param_names if p in found} if found else None
    per_sample = []
    while f"per_sample.{len(per_sample)}.W1" in arrays:
        per_sample.append({p: arrays[f"per_sample.{len(per_sample)}.{p}"] for p in spec.param_names})
    inputs = []
    while f"inputs.{len(inputs)}.X" in arrays:
        i = len(inputs)
        inputs.append((arrays[f"inputs.{i}.X"], arrays[f"inputs.{i}.T"], arrays[f"inputs.{i}.rows"]))
    return Observation(group("loaded"), arrays.get("output"), arrays.get("loss"), group("grads"), group("stepped"),
                       tuple(per_sample), inputs=tuple(inputs), after_gradients=group("after_gradients"),
                       chained=group("chained"), misshaped=group("misshaped"))
