"""A batch's output files at a flat cost per submission (issue 16): --json is a valid document after
every submission and nothing written is rewritten; --gradebook is one CSV row per student; an
interrupted batch leaves valid, complete-so-far files."""
import csv
import dataclasses
import json
from pathlib import Path

import pytest

from harness.cli import main
from harness.drive.assignment import load
from harness.grade.batch import grade
from harness.grade.outputs import GRADEBOOK_COLUMNS, AppendOnlyJson, BatchOutputs
from harness.grade.students import StudentIds

from . import misbehaving


@pytest.fixture(scope="module")
def one(tmp_path_factory):
    folder = tmp_path_factory.mktemp("one")
    (folder / "net.py").write_text(misbehaving.XOR)
    return grade(str(folder / "net.py"), load("xor"))


def test_the_json_is_valid_after_every_submission_and_only_grows(tmp_path, one):
    path = tmp_path / "r.json"
    names = [f"s/student_{i:04d}.py" for i in range(300)]
    out = BatchOutputs(load("xor"), names, json_path=str(path))
    sizes, previous = [], path.read_bytes()
    for i, name in enumerate(names):
        out.add(dataclasses.replace(one, submission=name))
        text = path.read_bytes()
        doc = json.loads(text)
        assert doc["graded"] == i + 1 and len(doc["submissions"]) == i + 1
        assert doc["complete"] is (i + 1 == len(names))
        keep = previous.rfind(b"\n]")             # what was there before the trailer is never rewritten
        assert text[:keep] == previous[:keep]
        sizes.append(len(text) - len(previous))
        previous = text
    out.close(True)
    assert max(sizes[1:]) <= min(sizes[1:]) + 64, "every submission adds about as many bytes (flat cost)"
    doc = json.loads(path.read_text())
    assert doc["complete"] is True and doc["total"] == 300 and doc["submissions"][-1]["submission"] == names[-1]


def test_an_interrupted_batch_leaves_a_valid_incomplete_json(tmp_path, one):
    path = tmp_path / "r.json"
    out = BatchOutputs(load("xor"), ["a.py", "b.py", "c.py"], json_path=str(path))
    out.add(dataclasses.replace(one, submission="a.py"))
    out.json.fh.write(b', {"cut short')             # an interrupt in the middle of the next write
    out.close(False)
    doc = json.loads(path.read_text())
    assert doc["complete"] is False and doc["graded"] == 1 and [s["submission"] for s in doc["submissions"]] == ["a.py"]


def test_an_empty_document_is_valid_json(tmp_path):
    AppendOnlyJson(tmp_path / "e.json", {"a": 1}, {"b": 2}).close({"b": 3})
    assert json.loads((tmp_path / "e.json").read_text()) == {"a": 1, "submissions": [], "b": 3}


def test_the_gradebook_has_one_row_per_student_with_stable_columns(tmp_path, capsys):
    folder = tmp_path / "class"
    for name, text in (("alice", misbehaving.XOR), ("bob", "raise ValueError('no')\n")):
        (folder / name).mkdir(parents=True)
        (folder / name / "net.py").write_text(text)
    book = tmp_path / "grades.csv"
    code = main(["grade", str(folder), "-a", "xor", "--gradebook", str(book), "--jobs", "2"])
    assert code == 1
    rows = list(csv.DictReader(book.open()))
    assert tuple(rows[0]) == GRADEBOOK_COLUMNS == ("student", "score", "max_score", "percent", "verdict",
                                                   "main_cause", "seconds", "submission")
    by = {r["student"]: r for r in rows}
    assert set(by) == {"alice", "bob"}
    assert by["alice"]["verdict"] == "PASSED" and by["alice"]["percent"] == "100.0"
    assert by["bob"]["verdict"] == "ERROR" and float(by["bob"]["score"]) == 0


def test_student_ids_come_from_folders_or_file_names():
    assert StudentIds(["c/alice/net.py", "c/bob/net.py"])("c/alice/net.py") == "alice"
    assert StudentIds(["c/alice.py", "c/bob.py"])("c/alice.py") == "alice"


def test_adding_a_submission_costs_the_same_in_a_batch_of_any_size(tmp_path, one, monkeypatch):
    """Flat cost, counted rather than timed: adding a result does the same work (here: the paths
    it makes) in a batch of 20 and of 2,000. Naming the student once went over the whole batch on
    every row, making a 1,000-student gradebook quadratic (6-8 ms per row against 1 ms at 100)."""
    import harness.grade.html
    import harness.grade.outputs
    counts, made = [], []

    class CountingPath(type(Path())):
        def __new__(cls, *args):
            made.append(1)
            return super().__new__(cls, *args)
    for n in (20, 2000):
        for module in (harness.grade.outputs, harness.grade.html):
            monkeypatch.setattr(module, "Path", CountingPath)
        names = [f"c/s{i}/net.py" for i in range(n)]
        folder = tmp_path / str(n)
        folder.mkdir()
        out = BatchOutputs(load("xor"), names, str(folder / "r.json"), str(folder / "g.csv"), str(folder / "r.html"),
                           str(folder / "pages"))
        made.clear()
        for name in names[:10]:
            out.add(dataclasses.replace(one, submission=name))
        counts.append(len(made))
        out.close(False)
    assert counts[0] == counts[1], counts
