"""Rendering grades: the terminal report, one progress line per submission, JSON, and
Gradescope's results.json. Messages come from the one comparison (harness.core.compare) and the
diagnosis; nothing is reformatted here beyond layout."""
from __future__ import annotations

import json
import os
from pathlib import Path

from ..drive.problems import Verdict
from . import isolation
from .checks import CheckKind, Graded
from .diagnose import CAUSES

SHOWN_OUTPUT = 1500


def line(g: Graded) -> str:
    """One line: name, verdict, score, and the cause or problem."""
    why = g.problem.splitlines()[0] if g.problem else ""
    return f"{g.submission}  {g.status.word}  {g.score:g}/{g.max_score:g}" + (f"  {why}" if why else "")


def _headline(g: Graded) -> list[str]:
    out = [f"{g.submission} | assignment {g.assignment} | {g.status.word} | {g.score:g} / {g.max_score:g} "
           f"| {g.seconds:.1f} s" + (f" | sandbox {g.sandbox}" if g.sandbox else "")]
    return out + ([f"  {g.status.word}: {g.problem}"] if g.status not in (Verdict.PASSED, Verdict.FAILED) else [])


def _case_lines(g: Graded) -> list[str]:
    """One line per case: its checks' verdicts and its points."""
    cases = list(dict.fromkeys(c.case for c in g.checks))
    width = max(len(c) for c in cases) + 12 if cases else 0
    out = []
    for case in cases:
        cs = [c for c in g.checks if c.case == case]
        label = f"{case} ({cs[0].visibility})"
        cells = "  ".join(f"{c.id.short} {c.word}" for c in cs)
        out.append(f"  {label.ljust(width)}  {cells}   {sum(c.score for c in cs):g}/{sum(c.max_score for c in cs):g}")
    return out


def _mismatch_lines(g: Graded, show_hidden: bool) -> list[str]:
    """A failed submission's mismatches, in the first case that shows any."""
    shown = [c for c in g.checks if not c.passed and c.checked and c.output and (show_hidden or c.visibility == "visible")]
    first_case = shown[0].case if shown else None
    details = list(dict.fromkeys(c.output for c in shown if c.case == first_case))
    if not (details and g.status is Verdict.FAILED):
        return []
    return [f"Mismatches in case {first_case!r}:"] + ["  " + ln for d in details for ln in d.splitlines()]


def _section(title: str, prefix: str, lines, shown: bool | None = None) -> list[str]:
    """A titled block of indented lines; nothing where not `shown` (by default: where there are no lines)."""
    return [title] + [prefix + ln for ln in lines] if (bool(lines) if shown is None else shown) else []


def _shown_output(text: str) -> str:
    """The code's own output, cut to SHOWN_OUTPUT characters (the rest is in --json)."""
    return text if len(text) <= SHOWN_OUTPUT else \
        text[:SHOWN_OUTPUT] + f"\n[... {len(text) - SHOWN_OUTPUT:,} more characters in --json ...]"


def _output_lines(g: Graded) -> list[str]:
    return [ln for name, text in (("stdout", g.stdout), ("stderr", g.stderr)) if text.strip()
            for ln in _section(f"Output of the code ({name}):", "  | ", _shown_output(text).rstrip().splitlines())]


def render(g: Graded, show_hidden: bool = True) -> str:
    """The terminal report: headline, one line per case, then each section that has anything."""
    return "\n".join([
        *_headline(g),
        *_case_lines(g),
        *_section("Diagnosis:", "  ", g.diagnosis.message().splitlines(), bool(g.diagnosis.findings)),
        *_mismatch_lines(g, show_hidden),
        *_section("Notes:", "  - ", g.notes),
        *_section("Tripwire (for course staff; not part of the score):", "  ! ", g.staff_flags),
        *_section("Grader traceback (for course staff; not the code's fault):", "  ! ",
                  g.staff_detail.rstrip().splitlines(), bool(g.staff_detail)),
        *_output_lines(g),
    ])


def to_dict(g: Graded) -> dict:
    return {
        "submission": g.submission, "assignment": g.assignment, "status": g.status.value, "verdict": g.status.word,
        "score": g.score,
        "max_score": g.max_score, "problem": g.problem, "seconds": round(g.seconds, 3), "sandbox": g.sandbox,
        "sandbox_protects": isolation.PROTECTS[isolation.Mode(g.sandbox)] if g.sandbox else "",
        "checks": [{"case": c.case, "name": c.name, "kind": c.id.kind.value, "param": c.id.param,
                    "passed": c.passed, "checked": c.checked, "score": c.score, "max_score": c.max_score,
                    "visibility": c.visibility, "output": c.output} for c in g.checks],
        "diagnosis": {"primary": g.diagnosis.primary, "first_layer": g.diagnosis.first_layer,
                      "findings": [{"cause": f.cause, "summary": CAUSES[f.cause].summary, "params": list(f.params),
                                    "text": f.text, "hint": f.hint} for f in g.diagnosis.findings]},
        "notes": list(g.notes), "stdout": g.stdout, "stderr": g.stderr, "staff_detail": g.staff_detail,
        "staff_flags": list(g.staff_flags),
    }


def _gradescope_test(g: Graded, c) -> dict:
    """One check as a Gradescope test; a failed one's output led by the diagnosis that explains it."""
    output = c.output
    related = [f.message() for f in g.diagnosis.findings if _explains(f.params, c.id)]
    if not c.passed and related:
        output = "\n".join(related) + ("\n\n" + output if output else "")
    return {"name": f"{c.case}: {c.name}", "score": c.score, "max_score": c.max_score,
            "status": "passed" if c.passed else "failed", "visibility": c.visibility, "output": output}


def _score_line(g: Graded) -> str:
    """The verdict and the score; the visible checks' points only while any check is not visible."""
    shown = [c for c in g.checks if c.visibility == "visible"]
    if len(shown) == len(g.checks):
        return f"{g.status.word}: {g.score:g} / {g.max_score:g}"
    return (f"{g.status.word}: {round(sum(c.score for c in shown), 6):g} / "
            f"{round(sum(c.max_score for c in shown), 6):g} on the visible checks "
            f"({len(g.checks) - len(shown)} more checks, not visible, count toward the total)")


def _problem_lines(g: Graded, visible_failed: bool) -> list[str]:
    """The problem, where a visible case (or no case) showed it; else only that a hidden check failed."""
    if g.problem and (visible_failed if g.status is Verdict.FAILED else g.problem_visible):
        return [g.problem]
    if g.problem:
        return ["a check that is not visible yet failed; its details show when its results are released"]
    return []


def _paragraph(shown: bool, *lines: str) -> list[str]:
    """A paragraph of the summary: a blank line, then its lines; nothing where not shown."""
    return ["", *lines] if shown else []


def _gradescope_summary(g: Graded, show_output: bool) -> str:
    visible_failed = any(not c.passed and c.visibility == "visible" for c in g.checks)
    sandbox = f"Graded in the {g.sandbox} sandbox: {isolation.PROTECTS[isolation.Mode(g.sandbox)]}." if g.sandbox else ""
    return "\n".join([
        _score_line(g),
        *_problem_lines(g, visible_failed),
        # hidden cases never shape visible text
        *_paragraph(bool(g.diagnosis.findings) and visible_failed, "Diagnosis:", g.diagnosis.message()),
        *_paragraph(bool(g.notes), "Notes:", *(f"- {n}" for n in g.notes)),
        *_paragraph(show_output and bool(g.stdout.strip() or g.stderr.strip()), "Output of your code:",
                    (g.stdout + g.stderr)[:SHOWN_OUTPUT]),
        *_paragraph(bool(sandbox), sandbox),
    ])


def gradescope(g: Graded, show_output: bool = False) -> dict:
    """Gradescope's results.json: one test per check, the case's visibility, partial credit. The
    visible summary says only what visible cases showed; the code's own output only with
    show_output (the assignment's `show_output`); the staff's details never.

    Only the fields of Gradescope's autograder specification (tests/gradescope_results.schema.json
    holds them): the total's maximum, which the specification has no top-level field for, goes in
    `extra_data`. Every text is plain text with fixed-width parts, so `output_format` and
    `test_output_format` are "text": the top-level default, "simple_format", would render HTML
    (from the student's own messages too) and collapse the alignment. While any check is not
    visible, Gradescope keeps the total score from the student; so does the summary, which gives
    the visible checks' points only."""
    return {"score": g.score, "execution_time": round(g.seconds, 3), "output": _gradescope_summary(g, show_output),
            "output_format": "text", "test_output_format": "text", "test_name_format": "text",
            "visibility": "visible", "stdout_visibility": "hidden",
            "extra_data": {"max_score": g.max_score, "status": g.status.value, "assignment": g.assignment},
            "tests": [_gradescope_test(g, c) for c in g.checks]}


def _explains(params: tuple[str, ...], check) -> bool:
    if check.kind is CheckKind.GRADIENT:
        return check.param in params
    return {CheckKind.LOSS: "loss", CheckKind.FORWARD: "output", CheckKind.STEP: "step"}.get(check.kind) in params


def write_json_atomic(path: str | Path, data) -> None:
    """Write so that the file is always either the old or the new complete document."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data, indent=2, default=str))
    os.replace(tmp, path)
