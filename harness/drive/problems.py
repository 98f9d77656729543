"""Why foreign code produced no result, as a verdict a person can act on: the kind of problem
(syntax error, exception, API mismatch, ...), the message, and the code's own file:line.
A failure inside the harness itself is its own kind, GRADER, never blamed on the code."""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

from .adapter import AdapterError, ShapeError

HARNESS_DIR = str(Path(__file__).resolve().parent.parent)
MAX_TEXT = 4000          # characters of a problem's text kept from the grading child


class Verdict(str, Enum):
    """The status of one graded submission (the str value is what JSON carries)."""
    PASSED = "passed"
    FAILED = "failed"
    SYNTAX = "syntax"
    IMPORT = "import"
    EXCEPTION = "exception"
    API = "api"
    SHAPE = "shape"
    EXIT = "exit"
    MEMORY = "memory"
    TIMEOUT = "timeout"
    CRASHED = "crashed"
    MISSING = "missing"
    INVALID = "invalid"      # what the grading process sent back is malformed (tampered with?)
    GRADER = "grader"

    @property
    def word(self) -> str:
        return _WORDS[self]

    @property
    def student_at_fault(self) -> bool:
        return self not in (Verdict.PASSED, Verdict.GRADER)

    def __str__(self) -> str:
        return self.value


_WORDS = {Verdict.PASSED: "PASSED", Verdict.FAILED: "FAILED", Verdict.SYNTAX: "SYNTAX ERROR",
          Verdict.IMPORT: "IMPORT ERROR", Verdict.EXCEPTION: "ERROR", Verdict.API: "API MISMATCH",
          Verdict.SHAPE: "WRONG SHAPE", Verdict.EXIT: "EXITED", Verdict.MEMORY: "OUT OF MEMORY",
          Verdict.TIMEOUT: "TIMEOUT", Verdict.CRASHED: "CRASHED", Verdict.MISSING: "MISSING",
          Verdict.INVALID: "INVALID RESULT",
          Verdict.GRADER: "GRADER ERROR"}


@dataclass(frozen=True)
class Problem:
    """Why there is no result."""
    kind: Verdict
    message: str
    where: str = ""      # file:line in the student's code, when known
    line: str = ""       # that line of source
    detail: str = ""     # for staff only (a grader error's traceback); never shown to the student

    def __post_init__(self):
        object.__setattr__(self, "kind", Verdict(self.kind))

    def text(self) -> str:
        out = self.message + (f" (at {self.where})" if self.where else "")
        return out + (f"\n    {self.line.strip()}" if self.line.strip() else "")

    def to_json(self) -> dict:
        return {"kind": self.kind.value, "message": self.message, "where": self.where, "line": self.line,
                "detail": self.detail}

    @staticmethod
    def from_json(data: dict) -> Problem:
        return Problem(Verdict(data["kind"]), str(data["message"])[:MAX_TEXT], str(data.get("where", ""))[:MAX_TEXT],
                       str(data.get("line", ""))[:MAX_TEXT], str(data.get("detail", ""))[:10 * MAX_TEXT])


# Python 2 constructs, by the words Python 3's parser uses for them (and the line itself).
_PY2 = (("Missing parentheses in call to 'print'", "print statement (write print(...))"),
        ("Missing parentheses in call to 'exec'", "exec statement (write exec(...))"),
        ("multiple exception types must be parenthesized", "`except E, e:` (write `except E as e:`)"),
        ("leading zeros in decimal integer literals", "octal literal like 0777 (write 0o777)"))


def python2_syntax(exc: SyntaxError) -> str:
    """What Python 2 construct a SyntaxError is, or ""."""
    msg, text = exc.msg or "", (exc.text or "").strip()
    for words, what in _PY2:
        if msg.startswith(words):
            return what
    if text.startswith("print ") or text.startswith("print>>"):
        return "print statement (write print(...))"
    if text.startswith("raise ") and "," in text and "(" not in text.split(",")[0]:
        return "`raise E, message` (write `raise E(message)`)"
    if "`" in text:
        return "backquotes (write repr(...))"
    return ""


# Names Python 3 and numpy 2 no longer have, and what to write instead.
_PY2_NAMES = {"xrange": "range", "reduce": "functools.reduce (from functools import reduce)", "unicode": "str",
              "raw_input": "input", "basestring": "str", "long": "int", "unichr": "chr", "execfile": "exec(open(f).read())",
              "cmp": "(a > b) - (a < b)", "file": "open", "reload": "importlib.reload"}
_PY2_MODULES = {"cPickle": "pickle", "cStringIO": "io", "StringIO": "io", "urllib2": "urllib.request",
                "Queue": "queue", "ConfigParser": "configparser", "Tkinter": "tkinter", "__builtin__": "builtins"}
_PY2_METHODS = {"iteritems": "items()", "itervalues": "values()", "iterkeys": "keys()", "has_key": "`key in d`"}
_NUMPY_REMOVED = {"int": "int or np.int64", "float": "float or np.float64", "bool": "bool or np.bool_",
                  "object": "object", "str": "str", "complex": "complex", "long": "int", "unicode": "str",
                  "asscalar": "a.item()", "alltrue": "np.all", "sometrue": "np.any", "product": "np.prod",
                  "cumproduct": "np.cumprod", "round_": "np.round", "float_": "np.float64", "complex_": "np.complex128",
                  "string_": "np.bytes_", "unicode_": "np.str_", "Inf": "np.inf", "NaN": "np.nan", "NINF": "-np.inf",
                  "PINF": "np.inf", "infty": "np.inf", "msort": "np.sort(a, axis=0)", "trapz": "np.trapezoid",
                  "in1d": "np.isin", "row_stack": "np.vstack", "find_common_type": "np.result_type"}
_NUMPY_METHODS = {"itemset": "a[index] = value", "newbyteorder": "a.view(a.dtype.newbyteorder())",
                  "ptp": "np.ptp(a)"}
_INTEGER_NEEDED = ("cannot be interpreted as an integer", "slice indices must be integers",
                   "only integers, slices", "expected an integer", "must be an integer", "integer argument expected")


def legacy(exc: BaseException, line: str = "") -> str:
    """What an exception says about code written for Python 2 or an older numpy (with what to
    write instead), or ""."""
    text = _safe_str(exc)
    if isinstance(exc, NameError) and getattr(exc, "name", None) in _PY2_NAMES:
        return f"written for Python 2: {exc.name} does not exist in Python 3 (use {_PY2_NAMES[exc.name]})"
    if isinstance(exc, ModuleNotFoundError) and getattr(exc, "name", None) in _PY2_MODULES:
        return f"written for Python 2: the module {exc.name} does not exist in Python 3 (use {_PY2_MODULES[exc.name]})"
    if isinstance(exc, AttributeError):
        found = re.search(r"has no attribute '(\w+)'", text)
        name = getattr(exc, "name", "") or (found.group(1) if found else "")
        if "module 'numpy' has no attribute" in text and name in _NUMPY_REMOVED:
            return f"written for an older numpy: np.{name} was removed (numpy 1.24 / 2.0); use {_NUMPY_REMOVED[name]}"
        if "'numpy.ndarray' object has no attribute" in text and name in _NUMPY_METHODS:
            return f"written for an older numpy: ndarray.{name} was removed in numpy 2.0; use {_NUMPY_METHODS[name]}"
        if "'dict' object has no attribute" in text and name in _PY2_METHODS:
            return f"written for Python 2: dict.{name} does not exist in Python 3 (use {_PY2_METHODS[name]})"
    if isinstance(exc, TypeError):
        if "unexpected keyword argument 'newshape'" in text:
            return "written for an older numpy: reshape's newshape= was removed in numpy 2; pass the shape as `shape=`"
        code = line.split("#", 1)[0]
        if any(words in text for words in _INTEGER_NEEDED) and "/" in code.replace("//", ""):
            return "written for Python 2: `/` on integers gives a float in Python 3; write `//` for integer division"
    return ""


def _syntax_problem(exc: SyntaxError) -> Problem:
    py2 = python2_syntax(exc)
    message = f"Python 2 syntax: {py2} at line {exc.lineno} (this grader runs Python 3)" if py2 else \
        f"SyntaxError: {exc.msg}"
    return Problem(Verdict.SYNTAX, message, f"{exc.filename}:{exc.lineno}", exc.text or "")


# Exceptions that say what they are by their type alone, checked in this order (a ShapeError is an
# AdapterError too); any other exception is placed by its traceback (_traced_problem).
BY_TYPE = (
    (SyntaxError, _syntax_problem),
    (SystemExit, lambda exc: Problem(Verdict.EXIT, f"the code called sys.exit({exc.code!r}); grading code must not exit")),
    (MemoryError, lambda exc: Problem(Verdict.MEMORY,
                                      f"MemoryError: {exc or 'out of memory'} (the memory limit was reached)")),
    (ShapeError, lambda exc: Problem(Verdict.SHAPE, str(exc))),
    (AdapterError, lambda exc: Problem(Verdict.API, str(exc))),
)


@dataclass(frozen=True)
class _Frames:
    """An exception's traceback, sorted: the harness's own frames, the submission's (and the
    course's support code), every frame outside the harness, and the last frame that is either
    the harness's or the submission's (a list of at most one)."""
    every: list
    ours: list
    own: list
    outside: list
    last_known: list


def _sorted_frames(frames: list, submission: str | None, course) -> _Frames:
    folder = str(Path(submission).resolve().parent) if submission else None
    ours = [f for f in frames if _in(f, HARNESS_DIR)]
    own = [f for f in frames if (folder and _in(f, folder) or any(_in(f, c) for c in course)) and f not in ours]
    return _Frames(frames, ours, own, [f for f in frames if f not in ours],
                   [f for f in frames if f in ours or f in own][-1:])


def _kind(exc: BaseException, frames: _Frames, course) -> Verdict:
    """IMPORT or EXCEPTION; API where the course's code called what the submission does not offer."""
    last = frames.last_known
    if last and any(_in(last[0], c) for c in course) and isinstance(exc, (AttributeError, TypeError)):
        return Verdict.API
    return Verdict.IMPORT if isinstance(exc, ImportError) else Verdict.EXCEPTION


def _traced_problem(exc: BaseException, submission: str | None, course) -> Problem:
    """Any other exception: a GRADER error where it was raised in the harness's own code, else
    the code's, placed at its last frame in the submission (else outside the harness)."""
    import traceback  # here: the grading child imports this module on every start
    frames = _sorted_frames(traceback.extract_tb(exc.__traceback__), submission, course)
    message = f"{type(exc).__name__}: {_safe_str(exc)}"
    if submission and frames.last_known and frames.last_known[0] in frames.ours:   # raised in the harness's own code
        return grader_error(message, traceback.format_exception(type(exc), exc, exc.__traceback__))
    frame = (frames.own or frames.outside or frames.every or [None])[-1]
    kind = _kind(exc, frames, course)
    old = legacy(exc, (frames.own[-1].line or "") if frames.own else (frame.line or "") if frame else "")
    if old:
        message = f"{message.splitlines()[0]} ({old})"
    if frame is None:
        return Problem(kind, message)
    return Problem(kind, message, f"{frame.filename}:{frame.lineno}", frame.line or "")


def describe(exc: BaseException, submission: str | None = None, course=()) -> Problem:
    """A Problem for an exception raised by (or while importing) code under test: by its type
    (BY_TYPE), else by its traceback, with `where` the last frame in the submission's folder, else
    the last one outside the harness. `course`: folders of the assignment's support modules, the
    course's code on the submission's side (an exception they raise on the submission's objects is
    not the harness's)."""
    for kind, problem in BY_TYPE:
        if isinstance(exc, kind):
            return problem(exc)
    return _traced_problem(exc, submission, course)


def grader_error(message: str, trace=()) -> Problem:
    """A failure of the harness itself: not the code's fault; the traceback is kept for staff."""
    return Problem(Verdict.GRADER, f"the grader itself failed ({message}); this is not a problem in your code: "
                                   "course staff have the details", detail="".join(trace))


def _safe_str(exc: BaseException) -> str:
    """str(exc), even for an exception class whose __str__ itself raises."""
    try:
        return str(exc)
    except Exception as inner:   # noqa: BLE001 - the code's own __str__
        return f"<str() of the exception raised {type(inner).__name__}>"


def _in(frame, folder: str) -> bool:
    return os.path.abspath(frame.filename).startswith(folder + os.sep)
