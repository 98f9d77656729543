"""The grading child's protocol, both ways, as data.

Parent -> child: one `Job` (the adapter itself, the submission, the memory cap, every run's
spec) written to the child's standard input; the child re-reads no file. Child -> parent: one
JSON line per event, each a dataclass here with to_json/from_json; run arrays go to .npz files
named by the run id. `parse_event` accepts only what it knows and raises ProtocolError for
anything else, so nothing the child writes can crash the parent.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field

from ..core.spec import Spec
from ..drive.adapter import Adapter
from ..drive.problems import Problem


class ProtocolError(ValueError):
    """A line from the child that is not a well-formed event."""


@dataclass(frozen=True)
class Job:
    adapter: Adapter
    submission: str
    memory_mb: int
    runs: dict[str, Spec]

    def to_json(self) -> str:
        return json.dumps({"adapter": self.adapter.to_json(), "submission": self.submission,
                           "memory_mb": self.memory_mb, "runs": {k: s.to_json() for k, s in self.runs.items()}})

    @staticmethod
    def from_json(text: str) -> Job:
        data = json.loads(text)
        return Job(Adapter.from_json(data["adapter"]), data["submission"], int(data["memory_mb"]),
                   {k: Spec.from_json(s) for k, s in data["runs"].items()})


@dataclass(frozen=True)
class Phase:
    text: str                      # what the child is doing: "importing the module", "running 'case 1'"


@dataclass(frozen=True)
class Imported:
    seconds: float


@dataclass(frozen=True)
class RunDone:
    id: str
    meta: dict = field(default_factory=dict)     # harness.core.run.save_run's metadata; arrays in <id>.npz


@dataclass(frozen=True)
class RunFailed:
    id: str
    problem: Problem


@dataclass(frozen=True)
class Partial:
    """After a RunFailed: the forward pass and loss alone still ran (arrays in <id>.partial.npz)."""
    id: str
    meta: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Fatal:
    problem: Problem


@dataclass(frozen=True)
class Done:
    pass


Event = Phase | Imported | RunDone | RunFailed | Partial | Fatal | Done
_TYPES = {cls.__name__: cls for cls in (Phase, Imported, RunDone, RunFailed, Partial, Fatal, Done)}


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
    for name, expected in (("id", str), ("text", str), ("meta", dict)):
        if hasattr(event, name) and not isinstance(getattr(event, name), expected):
            raise ProtocolError(f"{type(event).__name__}.{name} is not a {expected.__name__}")
    if isinstance(event, Imported) and not isinstance(event.seconds, (int, float)):
        raise ProtocolError("Imported.seconds is not a number")
