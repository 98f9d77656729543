"""The grading child's protocol, both ways, in one place.

Parent -> child: one `Job` (how the submission is loaded, each run's description) on the child's
standard input, and one .npz of every run's input arrays (the child gets arrays, not the code
that makes them). Child -> parent: one JSON line per event (the dataclasses below) and, per run,
the raw numbers the code returned as an .npz named by the run's index (observation_file).

Each task kind's observation schema is declared once (NET_FIELDS, LAYER_FIELDS): the child
encodes an observation by it, and the parent derives from it which arrays a run's file may hold
and how large each may be before it reads a byte (observation_limits) and decodes it back.
Everything from the child is hostile input: an event line is parsed only up to a size and
raises ProtocolError for anything unknown; an observation is read member by member, bounded
(harness.core.npz), floats only, else ProtocolError. No flag from the child decides anything.
Judging (harness.drive.derive, harness.grade) happens in the parent only.
"""
from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..core import npz
from ..core.layer_kinds import LayerCase
from ..core.spec import Spec
from .adapter import Adapter
from .layer_driver import LayerAdapter
from .problems import Problem


class ProtocolError(ValueError):
    """What the child sent back is not well formed (an event line, an observation file)."""


@dataclass(frozen=True)
class Observation:
    """The raw numbers one run of foreign code returned, and nothing else: everything a verdict
    depends on (flags, recovered gradients, steps, mutated inputs, the loss when the code reports
    none) is derived from them by derive(), in the grader's own process."""
    loaded: dict                      # parameters read back right after writing the canonical ones
    output: np.ndarray | None         # None: the code has no forward call
    loss: np.ndarray | None           # None: the code reports no loss
    grads: dict | None = None         # from the gradients call, canonical layout
    stepped: dict | None = None       # after one update of the whole batch
    per_sample: tuple = ()            # after each single-row update from fresh weights (update_per_sample)
    chained: dict | None = None       # per-sample code: one row per call, each call from the last one's weights
    inputs: tuple = ()                # (X, T, rows) as the code left them, per batch handed to it, in order
    after_gradients: dict | None = None   # the parameters read back after the gradients call
    misshaped: dict | None = None     # gradients in a shape their parameter's layout cannot read, as returned
    update_error: BaseException | None = None   # the code's update raised after its gradients came back
                                                # (not an array: the grading child reports it as an event)




def per_sample_updates(adapter: Adapter, n: int) -> bool:
    """The code's update is driven one row at a time (each from fresh weights, then chained)."""
    return bool(adapter.update) and adapter.update_per_sample and n > 1


# --- the job ---------------------------------------------------------------------------------
KINDS = ("net", "layers")


@dataclass(frozen=True)
class Job:
    """What the child runs. kind "net": runs maps run id -> Spec, driven through `adapter`;
    kind "layers": run id -> (LayerAdapter, LayerCase)."""
    kind: str
    submission: str                # as the child sees it
    memory_mb: int
    runs: dict
    adapter: Adapter | None = None
    inputs: str = ""               # the .npz of every run's input arrays (save_inputs), as the child sees it
    cpu_s: float = 0.0             # CPU seconds for the whole child (0: no limit)
    paths: tuple[str, ...] = ()    # folders of the assignment's support modules, as the child sees them
    load: str = "module"           # how the submission is run: "module" (the whole file), "statements" (a
                                   # notebook, statement by statement), "definitions" (runner.load_definitions)

    def to_json(self) -> str:
        runs = {k: (r.to_json() if self.kind == "net" else [r[0].to_json(), r[1].to_json()])
                for k, r in self.runs.items()}
        return json.dumps({"kind": self.kind, "adapter": self.adapter.to_json() if self.adapter else None,
                           "submission": self.submission, "memory_mb": self.memory_mb, "runs": runs,
                           "inputs": self.inputs, "cpu_s": self.cpu_s, "paths": list(self.paths), "load": self.load})

    @staticmethod
    def from_json(text: str) -> Job:
        data = json.loads(text)
        net = data["kind"] == "net"
        runs = {k: Spec.from_json(r) if net else (LayerAdapter.from_json(r[0]), LayerCase.from_json(r[1]))
                for k, r in data["runs"].items()}
        return Job(data["kind"], data["submission"], int(data["memory_mb"]), runs,
                   Adapter.from_json(data["adapter"]) if data["adapter"] else None, data["inputs"],
                   float(data["cpu_s"]), tuple(data.get("paths", ())), str(data.get("load", "module")))

    @property
    def run_ids(self) -> list[str]:
        return list(self.runs)

    def largest_observation_bytes(self) -> int:
        return max((sum(observation_limits(self, r)[0].values()) for r in self.runs), default=0)


def observation_file(job: Job, run_id: str, partial: bool = False) -> str:
    """The file name of a run's observation (by its index: run ids are free text)."""
    return f"run{job.run_ids.index(run_id)}{'.partial' if partial else ''}.npz"


# --- input arrays: the parent writes them, the child reads them ---------------------------------
def save_inputs(path: Path, handed: list[dict]) -> None:
    """Each run's input arrays, in the job's run order (a net's: X, T and the weights p.<name>)."""
    npz.write(path, {str(i): arrays for i, arrays in enumerate(handed)})


def load_inputs(path: str, run_ids: list[str]) -> dict[str, dict]:
    """run id -> its input arrays, as save_inputs wrote them (a net's weights as a group "p")."""
    arrays = npz.read(path)
    out = {}
    for i, run_id in enumerate(run_ids):
        mine = npz.group(arrays, str(i))
        out[run_id] = {**{k: v for k, v in mine.items() if not k.startswith("p.")}, "p": npz.group(mine, "p")}
    return out


# --- observations: the schema, and what follows from it ------------------------------------------
@dataclass(frozen=True)
class Bounds:
    """What a net run's arrays may hold, in float64 entries: each parameter's size, the batch n,
    the output size k, and `grow`, the largest layer (a parameter-shaped array may grow by it: an
    outer product where a matrix product belongs is a student's bug to report, not a reason to
    refuse the result)."""
    params: dict[str, int]
    n: int
    k: int
    grow: int
    n_in: int

    @staticmethod
    def of(spec: Spec) -> Bounds:
        sizes = spec.sizes
        params = {f"W{i}": a * b for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:], strict=True), 1)}
        params.update({f"b{i}": b for i, b in enumerate(sizes[1:], 1)})
        return Bounds(params, spec.batch, sizes[-1], max(sizes), sizes[0])


@dataclass(frozen=True)
class Field:
    """One part of a net run's observation: an Observation attribute, how it is laid out
    ("array"; "params": one array per parameter; "rows": a params group per row; "batches":
    (X, T, rows) per batch handed to the code), when a run has it, the most entries per array,
    and whether a run that has it must send it."""
    name: str
    form: str
    when: Callable[[Adapter, int, bool], bool]      # (adapter, n, forward_only) -> present
    entries: Callable[[Bounds, int], int]           # (bounds, the parameter's size) -> entries
    required: Callable[[Adapter], bool] = lambda a: True


def _full(adapter: Adapter, n: int, forward_only: bool) -> bool:
    return not forward_only


def _gradients(adapter: Adapter, n: int, forward_only: bool) -> bool:
    return not forward_only and adapter.gradients is not None


def _rows(adapter: Adapter, n: int, forward_only: bool) -> bool:
    return not forward_only and per_sample_updates(adapter, n)


def _stepped(adapter: Adapter, n: int, forward_only: bool) -> bool:
    return not forward_only and bool(adapter.update)


NET_FIELDS = (
    Field("output", "array", lambda a, n, f: a.forward is not None, lambda b, s: b.n * b.k * b.grow),
    Field("loss", "array", lambda a, n, f: a.reports_loss, lambda b, s: b.n * b.k * b.grow,
          lambda a: False),                          # absent from a run whose loss call raised
    Field("loaded", "params", lambda a, n, f: True, lambda b, s: s),
    Field("grads", "params", _gradients, lambda b, s: s * max(b.n, b.grow), lambda a: False),
    Field("after_gradients", "params", _gradients, lambda b, s: s * b.grow),
    Field("misshaped", "params", _gradients, lambda b, s: s * max(b.n, b.grow), lambda a: False),
    Field("per_sample", "rows", _rows, lambda b, s: s * b.grow),
    Field("chained", "params", _rows, lambda b, s: s * b.grow),
    # a step may be missing when the code's update raised after its gradients came back (StepFailed)
    Field("stepped", "params", _stepped, lambda b, s: s * b.grow, lambda a: a.gradients is None),
    Field("inputs", "batches", lambda a, n, f: True, lambda b, s: 0),
)


def handed_rows(adapter: Adapter, n: int, forward_only: bool = False, stepped: bool = True) -> list[slice]:
    """The rows of each batch observe() hands the code, in order: the batch; then per-sample code's
    rows (each from fresh weights, then chained) and all rows in one call, or the batch again for
    the fresh model a gradients call's update steps (`stepped`: that step was taken)."""
    whole = slice(0, n)
    if forward_only:
        return [whole]
    if per_sample_updates(adapter, n):
        rows = [slice(i, i + 1) for i in range(n)]
        return [whole, *rows, *rows[1:], whole]
    return [whole, whole] if adapter.update and adapter.gradients is not None and stepped else [whole]


def _net_limits(adapter: Adapter, spec: Spec, forward_only: bool) -> tuple[dict[str, int], set]:
    b = Bounds.of(spec)
    limits: dict[str, int] = {}
    required: set = set()
    for f in NET_FIELDS:
        if not f.when(adapter, b.n, forward_only):
            continue
        names = _field_names(f, b, adapter, forward_only)
        limits.update({name: npz.float_bytes(entries) for name, entries in names.items()})
        if f.required(adapter):
            required |= set(names)
    if adapter.gradients is not None and not forward_only:      # the fresh model's batch: with the step
        required -= {k for k in limits if k.startswith("inputs.1.")}
    return limits, required


def _field_names(f: Field, b: Bounds, adapter: Adapter, forward_only: bool) -> dict[str, int]:
    """Each array name the field has in this run, with its most entries."""
    if f.form == "array":
        return {f.name: f.entries(b, 0)}
    if f.form == "params":
        return {f"{f.name}.{p}": f.entries(b, size) for p, size in b.params.items()}
    if f.form == "rows":
        return {f"{f.name}.{i}.{p}": f.entries(b, size) for i in range(b.n) for p, size in b.params.items()}
    out = {}
    for i, s in enumerate(handed_rows(adapter, b.n, forward_only)):
        rows = s.stop - s.start
        out.update({f"inputs.{i}.X": rows * b.n_in, f"inputs.{i}.T": rows * b.k, f"inputs.{i}.rows": rows * (b.n_in + b.k)})
    return out


def encode_observation(obs: Observation) -> dict:
    """The observation as the tree of arrays its file holds (by NET_FIELDS)."""
    tree = {}
    for f in NET_FIELDS:
        value = getattr(obs, f.name)
        if f.form == "rows":
            value = {str(i): p for i, p in enumerate(value)}
        elif f.form == "batches":
            value = {str(i): {"X": X, "T": T, "rows": rows} for i, (X, T, rows) in enumerate(value)}
        tree[f.name] = value
    return tree


def decode_observation(arrays: dict, spec: Spec) -> Observation:
    """The Observation back from its file's arrays (already bounded and checked)."""
    def params(group: dict) -> dict | None:
        return {p: group[p] for p in spec.param_names if p in group} or None
    values = {}
    for f in NET_FIELDS:
        if f.form == "array":
            values[f.name] = arrays.get(f.name)
        elif f.form == "params":
            values[f.name] = params(npz.group(arrays, f.name))
        elif f.form == "rows":
            values[f.name] = tuple(_indexed(npz.group(arrays, f.name), lambda g: {p: g[p] for p in spec.param_names}))
        else:
            values[f.name] = tuple(_indexed(npz.group(arrays, f.name), lambda g: (g["X"], g["T"], g["rows"])))
    return Observation(**values)


def _indexed(groups: dict, make) -> list:
    """Groups "0.<name>", "1.<name>", ... in order, each made into one item."""
    out = []
    while any(k.startswith(f"{len(out)}.") for k in groups):
        out.append(make(npz.group(groups, str(len(out)))))
    return out


# A layer run's observation: each value (LAYER_VALUES) and x, dout as the code left them (always
# sent), with the most entries each may hold (a value may grow by the largest size: a wrong
# shape is the student's bug to report, not a reason to refuse the result).
LAYER_FIELDS: dict[str, Callable[[LayerCase, int, int], int]] = {    # (case, entries of x, grow) -> entries
    "out": lambda c, x, g: c.batch * max(c.outputs, c.inputs) * g,
    "loss": lambda c, x, g: g,
    "dx": lambda c, x, g: x * g,
    "dw": lambda c, x, g: c.inputs * max(c.outputs, 1) * g,
    "db": lambda c, x, g: max(c.outputs, 1) * g,
    "x_after": lambda c, x, g: x,
    "dout_after": lambda c, x, g: c.batch * max(c.outputs, c.inputs),
}
LAYER_AFTER = ("x_after", "dout_after")


def _layer_limits(case: LayerCase) -> tuple[dict[str, int], set]:
    x, grow = int(np.prod(case.x_shape)), max(case.batch, case.inputs, case.outputs, 1)
    return {name: npz.float_bytes(entries(case, x, grow)) for name, entries in LAYER_FIELDS.items()}, set(LAYER_AFTER)


def observation_limits(job: Job, run_id: str, partial: bool = False) -> tuple[dict[str, int], set]:
    """The array names a run's observation file may hold with the most bytes of each, and those
    it must hold."""
    if job.kind == "layers":
        return _layer_limits(job.runs[run_id][1])
    return _net_limits(job.adapter, job.runs[run_id], partial)


def save_observation(job: Job, observation, path: Path) -> None:
    """The child's side: a net run's Observation, or a layer run's arrays, into its file."""
    npz.write(path, observation if job.kind == "layers" else encode_observation(observation))


def load_observation(job: Job, run_id: str, path: Path, partial: bool = False):
    """The parent's side: the run's file, bounded and validated (ProtocolError otherwise): a net
    run's Observation, or a layer run's arrays."""
    limits, required = observation_limits(job, run_id, partial)
    try:
        arrays = npz.read_bounded(path, limits, required)
    except npz.NpzError as exc:
        raise ProtocolError(str(exc)) from None
    if job.kind == "layers":
        return arrays
    try:
        return decode_observation(arrays, job.runs[run_id])
    except KeyError as exc:        # an optional group sent in part (inputs.1.X without inputs.1.T)
        raise ProtocolError(f"{path.name}: an incomplete group of arrays ({exc.args[0]} missing)") from None


# --- events: one JSON line each ------------------------------------------------------------------
@dataclass(frozen=True)
class Phase:
    text: str                      # what the child is doing: "importing the module", "running 'case 1'"


@dataclass(frozen=True)
class Imported:
    seconds: float


@dataclass(frozen=True)
class RunDone:
    id: str                        # the observation is in observation_file(job, id)


@dataclass(frozen=True)
class RunFailed:
    id: str
    problem: Problem


@dataclass(frozen=True)
class Partial:
    """After a RunFailed: the forward pass and loss alone still ran (observation_file(job, id, True))."""
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
