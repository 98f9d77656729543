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


def render(g: Graded, show_hidden: bool = True) -> str:
    out = [f"{g.submission} | assignment {g.assignment} | {g.status.word} | {g.score:g} / {g.max_score:g} "
           f"| {g.seconds:.1f} s" + (f" | sandbox {g.sandbox}" if g.sandbox else "")]
    if g.status not in (Verdict.PASSED, Verdict.FAILED):
        out.append(f"  {g.status.word}: {g.problem}")
    cases = list(dict.fromkeys(c.case for c in g.checks))
    width = max(len(c) for c in cases) + 12 if cases else 0
    for case in cases:
        cs = [c for c in g.checks if c.case == case]
        label = f"{case} ({cs[0].visibility})"
        cells = "  ".join(f"{c.id.short} {c.word}" for c in cs)
        out.append(f"  {label.ljust(width)}  {cells}   {sum(c.score for c in cs):g}/{sum(c.max_score for c in cs):g}")
    if g.diagnosis.findings:
        out.append("Diagnosis:")
        out += ["  " + m for m in g.diagnosis.message().splitlines()]
    shown = [c for c in g.checks if not c.passed and c.checked and c.output and (show_hidden or c.visibility == "visible")]
    first_case = shown[0].case if shown else None
    details = list(dict.fromkeys(c.output for c in shown if c.case == first_case))
    if details and g.status is Verdict.FAILED:
        out.append(f"Mismatches in case {first_case!r}:")
        out += ["  " + ln for d in details for ln in d.splitlines()]
    if g.notes:
        out.append("Notes:")
        out += [f"  - {n}" for n in g.notes]
    if g.staff_flags:
        out.append("Tripwire (for course staff; not part of the score):")
        out += [f"  ! {flag}" for flag in g.staff_flags]
    if g.staff_detail:
        out.append("Grader traceback (for course staff; not the code's fault):")
        out += ["  ! " + ln for ln in g.staff_detail.rstrip().splitlines()]
    for name, text in (("stdout", g.stdout), ("stderr", g.stderr)):
        if text.strip():
            body = text if len(text) <= SHOWN_OUTPUT else \
                text[:SHOWN_OUTPUT] + f"\n[... {len(text) - SHOWN_OUTPUT:,} more characters in --json ...]"
            out.append(f"Output of the code ({name}):")
            out += ["  | " + ln for ln in body.rstrip().splitlines()]
    return "\n".join(out)


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
    tests = []
    for c in g.checks:
        output = c.output
        related = [f.message() for f in g.diagnosis.findings if _explains(f.params, c.id)]
        if not c.passed and related:
            output = "\n".join(related) + ("\n\n" + output if output else "")
        tests.append({"name": f"{c.case}: {c.name}", "score": c.score, "max_score": c.max_score,
                      "status": "passed" if c.passed else "failed", "visibility": c.visibility, "output": output})
    visible_failed = any(not c.passed and c.visibility == "visible" for c in g.checks)
    shown = [c for c in g.checks if c.visibility == "visible"]
    if len(shown) == len(g.checks):
        summary = [f"{g.status.word}: {g.score:g} / {g.max_score:g}"]
    else:
        summary = [f"{g.status.word}: {round(sum(c.score for c in shown), 6):g} / "
                   f"{round(sum(c.max_score for c in shown), 6):g} on the visible checks "
                   f"({len(g.checks) - len(shown)} more checks, not visible, count toward the total)"]
    if g.problem and (visible_failed if g.status is Verdict.FAILED else g.problem_visible):
        summary.append(g.problem)
    elif g.problem:
        summary.append("a check that is not visible yet failed; its details show when its results are released")
    if g.diagnosis.findings and visible_failed:           # hidden cases never shape visible text
        summary += ["", "Diagnosis:", g.diagnosis.message()]
    if g.notes:
        summary += ["", "Notes:"] + [f"- {n}" for n in g.notes]
    if show_output and (g.stdout.strip() or g.stderr.strip()):
        summary += ["", "Output of your code:", (g.stdout + g.stderr)[:SHOWN_OUTPUT]]
    if g.sandbox:
        summary += ["", f"Graded in the {g.sandbox} sandbox: {isolation.PROTECTS[isolation.Mode(g.sandbox)]}."]
    return {"score": g.score, "execution_time": round(g.seconds, 3), "output": "\n".join(summary),
            "output_format": "text", "test_output_format": "text", "test_name_format": "text",
            "visibility": "visible", "stdout_visibility": "hidden",
            "extra_data": {"max_score": g.max_score, "status": g.status.value, "assignment": g.assignment},
            "tests": tests}


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
