"""A batch's output files, written as results arrive at a flat cost per submission: each file is
valid and complete-so-far after every submission (an interrupted batch leaves readable files), and
adding the 1,000th submission costs what adding the first did (nothing already written is
rewritten: the batch's JSON used to be rewritten whole after every submission, quadratic).

- --json: one JSON document; each submission is appended, then the short trailer (counts,
  complete) is written again after it.
- --gradebook: CSV for LMS gradebooks, one row per student, columns GRADEBOOK_COLUMNS.
- --report: the HTML page for course staff (harness.grade.html), built the same way;
  --student-pages: one page per student, with only what that student may see.
"""
from __future__ import annotations

import csv
import json
import time
from pathlib import Path

from .checks import Graded
from .students import StudentIds

GRADEBOOK_COLUMNS = ("student", "score", "max_score", "percent", "verdict", "main_cause", "seconds", "submission")


class AppendOnlyJson:
    """{head..., "submissions": [entries...], trailer...}: entries are appended where the trailer
    began, and the trailer (what changes as the batch goes: counts, complete) follows again."""

    def __init__(self, path: str | Path, head: dict, trailer: dict):
        self.path = Path(path)
        self.fh = open(self.path, "wb")
        start = json.dumps(head, default=str)[:-1] + (", " if head else "") + '"submissions": ['
        self.fh.write(start.encode())
        self.end, self.count = self.fh.tell(), 0
        self._trailer(trailer)

    def add(self, entry: dict, trailer: dict) -> None:
        text = ("," if self.count else "") + "\n" + json.dumps(entry, default=str)
        self.fh.seek(self.end)
        self.fh.truncate()
        self.fh.write(text.encode())
        self.end, self.count = self.fh.tell(), self.count + 1
        self._trailer(trailer)

    def _trailer(self, trailer: dict) -> None:
        self.fh.seek(self.end)
        self.fh.truncate()
        rest = json.dumps(trailer, default=str)[1:]
        self.fh.write(("\n]" + (", " + rest if trailer else "}") + "\n").encode())
        self.fh.flush()

    def close(self, trailer: dict) -> None:
        """The final trailer (an entry cut short by an interrupt is dropped: the file ends at the
        last complete one)."""
        if not self.fh.closed:
            self._trailer(trailer)
            self.fh.close()


class Gradebook:
    """CSV, one row per student, flushed as each arrives."""

    def __init__(self, path: str | Path, submissions):
        self.fh = open(path, "w", newline="")
        self.writer = csv.writer(self.fh)
        self.writer.writerow(GRADEBOOK_COLUMNS)
        self.fh.flush()
        self.student = StudentIds(submissions)

    def add(self, g: Graded) -> None:
        main = g.diagnosis.primary or ""
        percent = 100.0 * g.score / g.max_score if g.max_score else 0.0
        self.writer.writerow([self.student(g.submission), f"{g.score:g}", f"{g.max_score:g}",
                              f"{percent:.1f}", g.status.word, main, f"{g.seconds:.2f}", g.submission])
        self.fh.flush()

    def close(self) -> None:
        self.fh.close()


class BatchOutputs:
    """Every output file of one batch: add(g) as each submission is graded, close(complete) at
    the end or on an interrupt."""

    def __init__(self, assignment, submissions, json_path: str | None = None, gradebook: str | None = None,
                 report: str | None = None, student_pages: str | None = None):
        from .report import to_dict
        self.to_dict, self.total, self.start = to_dict, len(submissions), time.perf_counter()
        self.graded = self.passed = 0
        head = {"assignment": assignment.name, "assignment_source": assignment.source, "total": self.total}
        self.json = AppendOnlyJson(json_path, head, self._trailer(False)) if json_path else None
        self.gradebook = Gradebook(gradebook, submissions) if gradebook else None
        self.report = self.pages = None
        if report or student_pages:
            from .html import HtmlReport, StudentPages
            self.report = HtmlReport(report, assignment, submissions) if report else None
            self.pages = StudentPages(student_pages, assignment, submissions) if student_pages else None

    def _trailer(self, complete: bool) -> dict:
        return {"graded": self.graded, "passed": self.passed, "complete": complete,
                "seconds": round(time.perf_counter() - self.start, 3)}

    def add(self, g: Graded) -> None:
        self.graded += 1
        self.passed += g.passed
        if self.json:
            self.json.add(self.to_dict(g), self._trailer(self.graded == self.total))
        if self.gradebook:
            self.gradebook.add(g)
        if self.report:
            self.report.add(g)
        if self.pages:
            self.pages.add(g)

    def close(self, complete: bool) -> None:
        if self.json:
            self.json.close(self._trailer(complete and self.graded == self.total))
        if self.gradebook:
            self.gradebook.close()
        done = complete and self.graded == self.total
        if self.report:
            self.report.close(done)
        if self.pages:
            self.pages.close(done)

