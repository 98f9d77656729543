"""A student's own file, checked the way an assignment describes it: the file is the numpy party
of the check matrix, compared with every installed framework and with finite differences, on each
of the assignment's visible cases (their sizes, dtypes, learning rates, L2 terms). This is the
self-check: it runs the code in this process, unsandboxed (it is the student's own code);
`harness grade` is the sandboxed, scored version of the same comparison.
"""
from __future__ import annotations

import contextlib
import dataclasses
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

from .. import backends as backend_registry
from ..core.losses import L2_FORMS
from ..core.tolerance import Tolerance, default_tolerance
from ..drive.assignment import Assignment
from ..drive.derive import run_adapter
from ..drive.problems import describe
from ..drive.runner import load_definitions, load_module
from .matrix import CheckSettings, Report, Row, Status, check_spec

SUBJECT = "yours"
FRAMEWORKS = ("torch", "keras", "jax")


class SubmissionError(Exception):
    """The file cannot be checked at all (it does not import): one line, the student's to fix."""


def installed_frameworks() -> tuple[str, ...]:
    return tuple(n for n in FRAMEWORKS if not backend_registry.missing_reason(n))


def visible_cases(assignment: Assignment):
    return [c for c in assignment.cases if c.visibility == "visible"]


def iter_submission(path: str | Path, assignment: Assignment, against: tuple[str, ...] | None = None,
                    fd: bool = True, rtol: float | None = None) -> Iterator[tuple[str, list[Row]]]:
    """Each visible case's name and rows, as they are made: the file against each framework in
    `against` (default: every installed one) and against finite differences. Raises
    SubmissionError when the file does not import."""
    path = Path(path)
    against = installed_frameworks() if against is None else tuple(against)
    with _importable(path, assignment) as script:
        try:
            module = load_definitions(str(script)) if assignment.load == "definitions" and script == path \
                else load_module(str(script))
        except (Exception, SystemExit) as exc:      # noqa: BLE001 - the student's code: its error, in words
            p = describe(exc, str(script))
            raise SubmissionError(f"{path.name} does not import: {p.message}"
                                  + (f" (at {p.where})" if p.where else "")) from None
        adapter = assignment.adapter_for(str(script))
        for case in visible_cases(assignment):
            spec = case.spec.replace(name=case.name)
            def run(sp, p, X, T):
                return run_adapter(adapter, sp, p, X, T, backend=SUBJECT, module=module)
            run.submission = str(script)
            runners = {SUBJECT: run}
            tol = Tolerance(rtol) if rtol else default_tolerance(spec.dtype)

            def rows(sp, runners=runners, tol=tol):
                return [r for r in check_spec(sp, [*against, SUBJECT], tol, fd=fd, runners=runners,
                                              log_eps=assignment.log_eps) if r.actual == SUBJECT]
            yield case.name, _in_an_accepted_l2_form(spec, assignment, rows)


def _in_an_accepted_l2_form(spec, assignment: Assignment, rows) -> list[Row]:
    """The case's rows; where some fail and the assignment accepts other L2 forms, the rows of the
    first such form in which every row passes, with a note (as harness grade accepts it)."""
    found = rows(spec)
    if not spec.l2 or all(r.status is not Status.FAIL for r in found):
        return found
    for form in assignment.l2_forms_accepted:
        other = rows(spec.replace(l2_form=form))
        if all(r.status is not Status.FAIL for r in other):
            note = (f"the L2 term is written as {L2_FORMS[form].written}, which this assignment accepts: "
                    f"compared in that form instead of {L2_FORMS[spec.l2_form].written}")
            return [dataclasses.replace(r, notes=(*r.notes, note)) for r in other]
    return found


def submission_settings(path: str | Path, assignment: Assignment, against: tuple[str, ...],
                        rtol: float | None = None) -> CheckSettings:
    cases = visible_cases(assignment)
    return CheckSettings((*against, SUBJECT), tuple(dict.fromkeys(c.spec.dtype for c in cases)), assignment.spec.seed,
                         tuple(c.name for c in cases), assignment.spec.optimizer, assignment.spec.steps, None, None,
                         rtol, command=f"check {Path(path).name} --assignment {assignment.name}")


def check_submission(path: str | Path, assignment: Assignment, against: tuple[str, ...] | None = None,
                     fd: bool = True, rtol: float | None = None) -> Report:
    """Every row of iter_submission, as one Report."""
    against = installed_frameworks() if against is None else tuple(against)
    rows = [r for _, found in iter_submission(path, assignment, against, fd, rtol) for r in found]
    return Report(tuple(rows), submission_settings(path, assignment, against, rtol))


@contextlib.contextmanager
def _importable(path: Path, assignment: Assignment) -> Iterator[Path]:
    """The file to import (a notebook's code cells written out as a script), with its own folder
    and the assignment's support modules importable while it runs."""
    folders = [str(path.resolve().parent)] + ([assignment.support] if assignment.support else [])
    saved = list(sys.path)
    sys.path[:0] = folders
    try:
        if path.suffix == ".ipynb":
            from ..drive.notebook import NotebookError, to_script
            try:
                script = to_script(path, assignment.skip_cells)
            except NotebookError as exc:
                raise SubmissionError(f"{path.name}: {exc}") from None
            with tempfile.TemporaryDirectory(prefix="bph-check-") as tmp:
                target = Path(tmp) / f"{path.stem}.py"
                target.write_text(script.text)
                yield target
        else:
            yield path
    finally:
        sys.path[:] = saved
