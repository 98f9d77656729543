"""The records every task kind's verdict is made of, and the rules that are the same for all:
a Check per thing looked at (CheckId: a kind, and the parameter or layer value), a case's
checks built from its mismatch messages (case_checks_from), the verdict from the checks and the
first problem (verdict, first_problem), what the assignment accepts as the course does
(accepted_findings), and Graded, one submission's result.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

from ..core.losses import L2_FORMS
from ..core.spec import Spec
from ..drive.assignment import Scoring
from ..drive.problems import Problem, Verdict
from .diagnose import CAUSES, Diagnosis


class CheckKind(str, Enum):
    FORWARD = "forward"
    LOSS = "loss"
    GRADIENT = "gradient"
    STEP = "step"
    INPUTS = "inputs"

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class CheckId:
    """What one check looks at: a kind, and for gradients the parameter."""
    kind: CheckKind
    param: str = ""

    @property
    def label(self) -> str:
        """In words; a layer's checks are named by the layer (param "affine", "affine.dw")."""
        if self.kind is CheckKind.GRADIENT:
            return self.param.replace(".", " ") if "." in self.param else f"gradient {self.param}"
        word = "inputs unchanged" if self.kind is CheckKind.INPUTS else self.kind.value
        return f"{self.param} {word}" if self.param else word

    @property
    def short(self) -> str:
        if self.kind is CheckKind.GRADIENT:
            return self.param
        return f"{self.param} {self.kind.value}" if self.param else self.kind.value

    def points(self, scoring: Scoring, gradients: int) -> float:
        """What the check is worth in a case of weight 1; the gradients' points split evenly
        over the `gradients` a case checks."""
        if self.kind is CheckKind.GRADIENT:
            return scoring.gradients / gradients
        return getattr(scoring, self.kind.value)


@dataclass(frozen=True)
class Check:
    case: str
    id: CheckId
    passed: bool
    score: float
    max_score: float
    visibility: str
    output: str = ""          # mismatch messages, or why the case could not run
    checked: bool = True      # False: the run ended before this could be looked at (no points, not a finding)

    @property
    def name(self) -> str:
        return self.id.label

    @property
    def unscored(self) -> bool:
        """Worth no points: what it finds is reported, never a failure (the course accepts it)."""
        return self.max_score == 0

    @property
    def word(self) -> str:
        return "PASS" if self.passed else ("n/a" if not self.checked else "NOTE" if self.unscored else "FAIL")

    @property
    def counts(self) -> bool:
        """Passed, or nothing against the verdict (worth no points, or not reached)."""
        return self.passed or self.unscored


@dataclass(frozen=True)
class Graded:
    submission: str
    assignment: str
    status: Verdict
    problem: str              # why it is not PASSED, in one paragraph ("" when passed)
    checks: tuple[Check, ...]
    diagnosis: Diagnosis = field(default_factory=lambda: Diagnosis(()))
    notes: tuple[str, ...] = ()
    stdout: str = ""
    stderr: str = ""
    seconds: float = 0.0
    staff_detail: str = ""    # for course staff only: a grader error's traceback
    sandbox: str = ""         # the sandbox mode it ran in (harness.grade.isolation.Mode)
    problem_visible: bool = True   # the problem came from a visible case (or from no case at all)
    staff_flags: tuple[str, ...] = ()   # the static tripwire's findings (harness.grade.tripwire): for staff
    accepted: tuple[str, ...] = ()      # what the assignment accepts as the course does, found here: reported

    @property
    def score(self) -> float:
        return round(sum(c.score for c in self.checks), 6)

    @property
    def max_score(self) -> float:
        return round(sum(c.max_score for c in self.checks), 6)

    @property
    def passed(self) -> bool:
        return self.status is Verdict.PASSED



def accepted_upcast(m, policy: str) -> bool:
    """A float64 result for float32 inputs, where the assignment accepts it (the course computes
    in float64): its values are still compared, at the case's tolerance."""
    return policy == "accept" and m.kind == "dtype" and m.detail.startswith("dtype float64")




@dataclass
class Scored:
    """A task's checks of one submission, before the verdict (harness.grade.evaluate)."""
    visibility: dict[str, str]                 # each scored run id -> its case's visibility
    evidence: object = None                    # the task's own, for its diagnosis
    spec: Spec | None = None                   # a net's spec (the L2 form accepted notes compare with)
    checks: list[Check] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    upcast: list[str] = field(default_factory=list)      # cases with accepted float64 results
    l2_forms: list = field(default_factory=list)         # (case, form): other L2 forms accepted
    extra: list[str] = field(default_factory=list)       # more for a FAILED verdict's words


NOT_CHECKED = "not checked: the run ended before it finished"


def case_checks_from(case: str, visibility: str, weight: float, scoring: Scoring, gradients: int,
                     messages: dict[CheckId, list[str]], problem: Problem | None) -> list[Check]:
    """One case's checks, in the order of `messages` (CheckId -> its mismatch messages; none:
    passed). A run that ended in a problem leaves its inputs check unchecked (no points, no finding)."""
    checks = []
    for i, texts in messages.items():
        points = weight * i.points(scoring, gradients)
        unchecked = problem is not None and i.kind is CheckKind.INPUTS
        checks.append(Check(case, i, not texts and not unchecked, 0.0 if texts or unchecked else points, points,
                            visibility, NOT_CHECKED if unchecked else "\n".join(texts), checked=not unchecked))
    return checks


def first_problem(fatal: Problem | None, problems: list[Problem]) -> tuple[list[Problem], list[Problem]]:
    """(the problem the verdict is about, as a list of at most one; the grader's own failures):
    a grader error first, then the problem that ended the whole run, then the runs' in order."""
    grader = [p for p in [fatal, *problems] if p is not None and p.kind is Verdict.GRADER]
    return (grader + ([fatal] if fatal else problems))[:1], grader


def verdict(checks: list[Check], first: list[Problem], diagnosis: Diagnosis, extra: list[str] = ()) -> tuple:
    """(status, problem text): the first problem's, else PASSED when every check counts (passed,
    or worth no points), else FAILED with the diagnosis."""
    if first:
        return first[0].kind, first[0].text()
    if all(c.counts for c in checks):
        return Verdict.PASSED, ""
    return Verdict.FAILED, "; ".join([f"{', '.join(f.params)}: {CAUSES[f.cause].summary}" for f in diagnosis.findings]
                                     + list(extra)) or "a check failed"


@dataclass(frozen=True)
class Accepted:
    tags: tuple[str, ...] = ()    # short, for the class report: "inputs modified", "float64 results", ...
    notes: tuple[str, ...] = ()   # the sentences for the student's and staff's report


def accepted_findings(checks: list[Check], upcast: list[str], l2_forms=(), spec: Spec | None = None) -> Accepted:
    """What failed but is worth no points (the assignment accepts it, as the course does), the
    float64 results and the other L2 forms it accepted: each said once, with the cases it was seen in."""
    seen: dict[str, list[str]] = {}
    for c in checks:
        if c.checked and not c.passed and c.unscored:
            tag = "inputs modified" if c.id.kind is CheckKind.INPUTS else f"case {c.case!r}"
            seen.setdefault(tag, [])
            if c.case not in seen[tag]:
                seen[tag].append(c.case)
    notes = []
    for tag, cases in seen.items():
        if tag == "inputs modified":
            notes.append(f"the code modifies its inputs in place (in {', '.join(map(repr, cases))}); this assignment "
                         "does not score it, as the course's own checks do not: the caller's arrays change under it")
        else:
            notes.append(f"{tag} is not scored (the course's own checks do not test it) and did not pass: see its "
                         "checks marked NOTE")
    if upcast:
        seen["float64 results"] = list(dict.fromkeys(upcast))
        notes.append("float32 inputs come back as float64 results; the course computes in float64, so this "
                     "assignment accepts it (the values were compared at float32's tolerance)")
    for form in dict.fromkeys(f for _, f in l2_forms):
        cases = [c for c, f in l2_forms if f == form]
        seen[f"L2 as {L2_FORMS[form].written}"] = cases
        own = f" instead of {L2_FORMS[spec.l2_form].written}" if spec is not None else ""
        notes.append(f"the L2 term is written as {L2_FORMS[form].written} (gradient {L2_FORMS[form].gradient}){own} "
                     f"in {', '.join(map(repr, cases))}: loss and gradients agree with each other, and this assignment "
                     "accepts that form (the course has asked for it in some years)")
    return Accepted(tuple(seen), tuple(notes))


