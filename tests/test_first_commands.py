"""The first commands of each role, as a new user types them: a student checking their own file
(`harness check FILE --assignment NAME`), and every CLI mistake answered in one line, before any
work starts (issue 15)."""
import json
import time
from pathlib import Path

import pytest

from harness.cli import main

HERE = Path(__file__).parent / "course_nets"
CS231N = HERE / "cs231n_two_layer.py"


def buggy(source: str) -> str:
    """The L2 gradient of W2 halved (reg * W2 for 2 * reg * W2)."""
    assert source.count("+ 2 * reg * W2") == 1
    return source.replace("+ 2 * reg * W2", "+ reg * W2")


def run(argv, capsys):
    with pytest.raises(SystemExit) as info:
        raise SystemExit(main(argv))
    out = capsys.readouterr()
    return info.value.code, out.out, out.err


def test_a_student_checks_their_own_file_against_a_framework(tmp_path, capsys, require_backend):
    require_backend("torch")
    code, out, err = run(["check", str(CS231N), "--assignment", "cs231n_two_layer", "--backends", "torch",
                          "--json", str(tmp_path / "r.json")], capsys)
    assert code == 0, out + err
    assert "torch~yours" in out and "fd~yours" in out and "PASSED" in out
    assert "float32" in out and "toy net, reg = 0.05" in out      # the assignment's own cases, by name
    doc = json.loads((tmp_path / "r.json").read_text())
    assert doc["complete"] is True and doc["passed"] is True
    assert {r["expected"] for r in doc["rows"]} == {"torch", "fd"}


def test_a_bug_in_the_students_file_fails_with_the_mismatch(tmp_path, capsys, require_backend):
    require_backend("torch")
    source = CS231N.read_text()
    (tmp_path / "net.py").write_text(buggy(source))
    code, out, err = run(["check", str(tmp_path / "net.py"), "-a", "cs231n_two_layer", "--backends", "torch"], capsys)
    assert code == 1, out + err
    assert "FAIL" in out and "W2" in out and "FAILED" in out


def test_finite_differences_alone_still_check_a_file(tmp_path, capsys, monkeypatch):
    """No framework installed (the grading-only install): the file is still checked against finite
    differences, and the note says how to add a framework."""
    from harness.check import submission
    monkeypatch.setattr(submission, "installed_frameworks", lambda: ())
    code, out, err = run(["check", str(CS231N), "-a", "cs231n_two_layer"], capsys)
    assert code == 0, out + err
    assert "fd~yours" in out and "torch~yours" not in out
    assert "no framework installed" in err and "pip install" in err


def test_a_file_that_does_not_import_is_its_own_failure(tmp_path, capsys):
    (tmp_path / "net.py").write_text("print 'hello'\n")
    code, out, err = run(["check", str(tmp_path / "net.py"), "-a", "cs231n_two_layer"], capsys)
    assert code == 1
    assert "net.py does not import" in out and "Python 2" in out and "Traceback" not in out + err


@pytest.mark.parametrize("argv, message", [
    (["check", "missing.py", "-a", "xor"], "no such file: missing.py"),
    (["check", "README.md", "-a", "xor"], "is not a .py file or a notebook"),
    (["check", str(CS231N)], "give both the file and --assignment"),
    (["check", "--assignment", "xor"], "--assignment checks a FILE"),
    (["check", str(CS231N), "-a", "nope"], "unknown assignment 'nope'; built-in: "),
    (["check", str(CS231N), "-a", "cs231n_two_layer", "--spec", "xor"], "--spec: the assignment's cases set these"),
    (["check", str(CS231N), "-a", "cs231n_two_layer", "--backends", "tensorflow"], "unknown framework 'tensorflow'"),
    (["check", str(HERE / "cs231n_layers.py"), "-a", "cs231n_layers"], "checks single layers"),
    (["check", "--json", "/nonexistent/dir/r.json"], "--json /nonexistent/dir/r.json: no such folder"),
    (["check", "--spec", "nope", "--bogus"], "unrecognized arguments: --bogus (see harness --help)"),
    (["grade", "missing.py", "-a", "xor"], "no such file: missing.py"),
    (["grade", "README.md", "-a", "xor"], "is not a .py file or a notebook"),
    (["grade", str(CS231N), "-a", "xor", "--json", "/nonexistent/r.json"], "no such folder"),
    (["grade", str(CS231N), "-a", "xor", "--gradescope", "README.md/x"], "README.md is not a folder"),
    (["bench", "--json", "/nonexistent/b.json"], "--json /nonexistent/b.json: no such folder"),
    (["train", "--out", "README.md"], "exists and is not a folder"),
    (["grade"], "the following arguments are required"),
])
def test_every_cli_mistake_is_one_line_with_exit_2_before_any_work(argv, message, capsys):
    start = time.perf_counter()
    code, out, err = run(argv, capsys)
    assert code == 2, out + err
    assert message in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1, err
    assert time.perf_counter() - start < 20, "refused before the work, not after"


def test_version(capsys):
    from harness import __version__
    code, out, _ = run(["--version"], capsys)
    assert code == 0 and out.strip() == f"backprop-harness {__version__}"


def test_ctrl_c_keeps_the_rows_so_far_and_writes_incomplete_json(tmp_path, capsys, monkeypatch):
    """An interrupt during the second net: the first net's rows are printed and in the JSON
    ("complete": false), the summary says INTERRUPTED, exit 130."""
    from harness.check import matrix
    real, calls = matrix.check_spec, []

    def interrupted_on_the_second(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(*args, **kwargs)
    monkeypatch.setattr(matrix, "check_spec", interrupted_on_the_second)
    code, out, _ = run(["check", "--spec", "xor,linear_221", "--backends", "numpy", "--dtype", "float64",
                        "--json", str(tmp_path / "r.json")], capsys)
    assert code == 130
    assert "INTERRUPTED after 1 of 2 nets" in out and "fd~numpy" in out
    doc = json.loads((tmp_path / "r.json").read_text())
    assert doc["complete"] is False and {r["spec"] for r in doc["rows"]} == {"xor"}


def test_the_check_table_is_as_wide_as_its_content(capsys):
    code, out, _ = run(["check", "--spec", "xor", "--backends", "numpy", "--dtype", "float64"], capsys)
    lines = out.splitlines()
    head = next(line for line in lines if line.startswith("spec"))
    row = next(line for line in lines if line.startswith("xor"))
    assert head.index("sizes") == row.index("2-")              # columns line up
    assert len(lines[0]) < 160, "the header line is short"


def test_assert_backprop_takes_an_assignment(tmp_path, require_backend):
    require_backend("torch")
    from harness.assertion import assert_backprop
    report = assert_backprop(str(CS231N), assignment="cs231n_two_layer", against=("torch",))
    assert report.rows and not report.failed
    (tmp_path / "net.py").write_text(buggy(CS231N.read_text()))
    with pytest.raises(AssertionError, match="W2"):
        assert_backprop(str(tmp_path / "net.py"), assignment="cs231n_two_layer", against=("torch",))


def test_long_backend_names_keep_the_table_aligned():
    """`--backends all` names pairs such as keras-torch~keras-jax: the columns still line up, in the
    streamed table (widths planned from the pairs) and in a rendered one (widths from the rows)."""
    import dataclasses

    from harness.check.matrix import check_spec
    from harness.check.report import HEAD, _row_values, column_widths, planned_widths, row_line, table_line
    from harness.core.spec import get_spec
    spec = get_spec("xor").replace(dtype="float64")
    rows = [dataclasses.replace(r, expected="keras-torch", actual="keras-jax") for r in check_spec(spec, ["numpy"])]
    for widths in (planned_widths([spec], ["keras-torch~keras-jax"]), column_widths(rows)):
        starts = [sum(w + 2 for w in widths[:i]) for i in range(len(widths))]
        for values, line in [(HEAD, table_line(HEAD, widths))] + [(_row_values(r), row_line(r, widths)) for r in rows]:
            for value, start in zip(values, starts, strict=True):
                assert line[start:start + len(value)] == value, (line, value)


def test_one_submission_to_a_gradescope_folder_writes_results_json_in_it(tmp_path, capsys):
    """Gradescope's folder given where a file was expected: results.json goes into it, and no
    temporary file is left beside it."""
    from tests.misbehaving import XOR
    (tmp_path / "net.py").write_text(XOR)
    folder = tmp_path / "results"
    folder.mkdir()
    code, out, err = run(["grade", str(tmp_path / "net.py"), "-a", "xor", "--gradescope", str(folder)], capsys)
    assert code == 0, out + err
    assert [p.name for p in folder.iterdir()] == ["results.json"]
    assert json.loads((folder / "results.json").read_text())["score"] > 0


def test_a_failure_inside_the_harness_is_not_blamed_on_the_students_file(capsys, monkeypatch):
    """harness check FILE runs the file in this process: an exception raised in the harness's own
    code while driving it reads as the harness's failure, never as the file's."""
    from harness.drive import derive

    def broken(*args, **kwargs):
        raise KeyError("a harness bug")
    monkeypatch.setattr(derive, "derive", broken)
    code, out, err = run(["check", str(CS231N), "-a", "cs231n_two_layer", "--backends", "torch", "--no-fd"], capsys)
    assert code == 1
    assert "the grader itself failed (KeyError: 'a harness bug'); this is not a problem in your code" in out
    assert "yours raised" not in out
