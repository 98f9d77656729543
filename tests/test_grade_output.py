"""What the grader writes: terminal report, JSON rewritten after each submission, Gradescope
results.json with partial credit and per-case visibility; the CLI's exit codes and errors."""
import json
from pathlib import Path

import pytest

from harness.cli import main
from harness.drive.assignment import load
from harness.grade.batch import grade
from harness.grade.report import gradescope, render

from . import misbehaving
from .gradescope_schema import SCHEMA, check_results, load_results
from .mutant_catalog import MUTANTS


@pytest.fixture(scope="module")
def no_2(tmp_path_factory):
    """relu_mse without the 2 of the MSE derivative: every gradient half the size."""
    folder = tmp_path_factory.mktemp("no2")
    mutant = next(m for m in MUTANTS if m.id == "relu_no_2")
    return grade(str(mutant.write(folder)), load("relu_mse"))


def test_gradescope_results_have_partial_credit_and_visibility(no_2):
    r = gradescope(no_2)
    assert r["extra_data"]["max_score"] == 40 and r["score"] == 12     # forward, loss, inputs: 1 point each, 4 cases
    assert r["score"] == sum(t["score"] for t in r["tests"])
    assert r["extra_data"]["max_score"] == pytest.approx(sum(t["max_score"] for t in r["tests"]))
    assert len(r["tests"]) == 4 * 7
    hidden = [t for t in r["tests"] if t["name"].startswith("other seed and batch:")]
    assert hidden and all(t["visibility"] == "hidden" for t in hidden)
    assert all(t["visibility"] == "visible" for t in r["tests"] if t not in hidden)
    w1 = next(t for t in r["tests"] if t["name"] == "default sizes: gradient W1")
    assert w1["status"] == "failed" and w1["score"] == 0 and w1["max_score"] == pytest.approx(7 / 4)
    assert "gradient half the size" in w1["output"] and "keep the 2" in w1["output"]
    assert "Mismatched elements" in w1["output"]
    assert "Diagnosis" in r["output"] and json.dumps(r)


def test_terminal_report_names_cause_hint_and_layer(no_2):
    text = render(no_2)
    assert "FAILED | 12 / 40" in text
    assert "W1, b1, W2, b2: gradient half the size" in text and "hint:" in text
    assert "divergence starts at layer 2" in text
    assert "Greatest absolute difference" in text


def test_cli_single_submission_with_gradescope_file(tmp_path, capsys):
    out = tmp_path / "results.json"
    good = misbehaving.write(tmp_path, ["good"])["good"]
    code = main(["grade", str(good), "--assignment", "xor", "--gradescope", str(out)])
    assert code == 0
    r = check_results(load_results(out.read_text()))
    assert r["score"] == r["extra_data"]["max_score"] == 40 and all(t["status"] == "passed" for t in r["tests"])
    assert "PASSED | 40 / 40" in capsys.readouterr().out


def test_cli_batch_writes_json_and_one_gradescope_file_each(tmp_path, capsys):
    folder = tmp_path / "subs"
    folder.mkdir()
    misbehaving.write(folder, ["good", "nan", "syntax_error"])
    student = folder / "alice"                     # a per-student folder: one .py file and her own package
    (student / "mylib").mkdir(parents=True)
    (student / "mylib" / "__init__.py").write_text("SCALE = 1.0\n")
    (student / "net.py").write_text("from mylib import SCALE  # noqa: F401\n" + misbehaving.source("good"))
    code = main(["grade", str(folder), "-a", "xor", "-j", "2", "--json", str(tmp_path / "all.json"),
                 "--gradescope", str(tmp_path / "gs")])
    assert code == 1
    doc = json.loads((tmp_path / "all.json").read_text())
    assert doc["complete"] and doc["graded"] == doc["total"] == 4 and doc["passed"] == 2
    by = {Path(s["submission"]).stem: s for s in doc["submissions"]}
    assert by["nan"]["diagnosis"]["primary"] == "nonfinite" and by["syntax_error"]["status"] == "syntax"
    assert sorted(p.name for p in (tmp_path / "gs").iterdir()) == ["alice_net.json", "good.json", "nan.json",
                                                                   "syntax_error.json"]
    for path in (tmp_path / "gs").iterdir():               # every verdict's file in Gradescope's format
        check_results(load_results(path.read_text()))
    out = capsys.readouterr().out
    assert "[4/4]" in out and "2 of 4 submissions passed" in out


def test_cli_usage_errors_exit_2_with_valid_choices(tmp_path, capsys):
    good = misbehaving.write(tmp_path, ["good"])["good"]
    assert main(["grade", str(good), "-a", "xr"]) == 2
    assert "unknown assignment 'xr'; built-in: cs231n_layers, " in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert main(["grade", str(tmp_path / "empty"), "-a", "xor"]) == 2
    assert "no submissions found" in capsys.readouterr().err


def test_cli_lists_the_builtin_assignments(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert "assignments (harness grade --assignment NAME):" in out and "softmax_ce" in out


def test_pytest_route_for_course_repos(pytester, tmp_path):
    subs = misbehaving.write(tmp_path, ["good", "nan"])
    pytester.makepyfile(f"""
        import pytest

        def test_good(backprop_grade):
            g = backprop_grade({str(subs['good'])!r}, assignment="xor")
            assert g.score == 40

        def test_nan(backprop_grade):
            backprop_grade({str(subs['nan'])!r}, assignment="xor")
    """)
    result = pytester.runpytest_subprocess("-q")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*NaN or inf in the result*", "*hint: look for 0/0*"])


def test_a_bug_only_hidden_cases_show_stays_out_of_the_visible_summary(tmp_path):
    """A bug that shows only with 4 inputs: right on the visible cases (2 and 3 inputs), wrong
    on the hidden one (4): the student's visible Gradescope summary must not describe it."""
    source = misbehaving.XOR.replace("        error = y - y_hat\n", "        error = y - y_hat\n"
                                     "        if X.shape[1] == 4:\n            error = error * 2\n")
    assert source != misbehaving.XOR
    (tmp_path / "sub.py").write_text(source)
    g = grade(str(tmp_path / "sub.py"), load("xor"))
    visible_failed = [c for c in g.checks if not c.passed and c.visibility == "visible"]
    hidden_failed = [c for c in g.checks if not c.passed and c.visibility != "visible"]
    assert hidden_failed and not visible_failed, [(c.case, c.name) for c in g.checks if not c.passed]
    r = gradescope(g)
    assert "Diagnosis" not in r["output"] and "Mismatched" not in r["output"]
    assert "not visible yet" in r["output"]
    assert all(t["visibility"] != "visible" for t in r["tests"] if t["status"] == "failed")


def test_the_codes_own_output_reaches_gradescope_only_when_the_assignment_allows(tmp_path):
    (tmp_path / "sub.py").write_text(misbehaving.XOR + "\nprint('debug: secret-ish value 4242')\n")
    g = grade(str(tmp_path / "sub.py"), load("xor"))
    assert "4242" in g.stdout
    assert "4242" not in json.dumps(gradescope(g))
    assert "4242" in json.dumps(gradescope(g, show_output=True))
    assert "sandbox" in gradescope(g)["output"]


def test_sandbox_strict_refuses_where_bubblewrap_cannot_run(tmp_path, capsys, monkeypatch):
    from harness.grade import isolation
    good = misbehaving.write(tmp_path, ["good"])["good"]
    real = isolation.unavailable
    monkeypatch.setattr(isolation, "unavailable",
                        lambda mode: "bubblewrap is not installed (test)" if mode is isolation.Mode.STRICT else real(mode))
    assert main(["grade", str(good), "-a", "xor", "--sandbox", "strict"]) == 2
    assert "the strict sandbox cannot run here: bubblewrap is not installed (test)" in capsys.readouterr().err
    assert main(["grade", str(good), "-a", "xor", "--sandbox", "nope"]) == 2
    assert "unknown sandbox 'nope'; valid: auto, strict, uid, process" in capsys.readouterr().err


def test_results_json_has_only_documented_fields_and_values(no_2, tmp_path):
    """Every results.json we write validates against the schema written from Gradescope's
    specification: documented names and types only, visibility and status from their lists;
    plain-text formats, the total kept out of the visible summary while some checks are hidden."""
    from harness.grade.report import write_json_atomic
    out = tmp_path / "results.json"
    write_json_atomic(out, gradescope(no_2))
    r = check_results(load_results(out.read_text()))
    assert r["output_format"] == r["test_output_format"] == r["test_name_format"] == "text"
    assert {t["visibility"] for t in r["tests"]} == {"visible", "hidden"} and r["stdout_visibility"] == "hidden"
    assert {t["status"] for t in r["tests"]} == {"passed", "failed"}
    assert set(r) <= set(SCHEMA["properties"]) and "max_score" not in r      # not a top-level field of the spec
    shown = [t for t in r["tests"] if t["visibility"] == "visible"]
    first = r["output"].splitlines()[0]
    assert first.startswith(f"FAILED: {sum(t['score'] for t in shown):g} / {sum(t['max_score'] for t in shown):g} "
                            "on the visible checks"), first
    assert " / 40" not in r["output"] and "12 / " not in r["output"]


@pytest.mark.parametrize("bad", [
    {"score": 1, "visibility": "students"},                                   # not a visibility
    {"score": 1, "output_format": "markdown"},                                # "md" is the name
    {"score": "1"},                                                           # a number, not text
    {"score": 1, "max_score": 1},                                             # undocumented at the top
    {"tests": [{"name": "t", "max_score": 1}]},                               # no score anywhere
    {"score": 1, "tests": [{"score": 1, "status": "ok"}]},                    # passed or failed
    {"score": 1, "tests": [{"score": 1, "weight": 2}]},                       # undocumented per test
    {"score": 1, "leaderboard": [{"name": "acc", "value": 1, "order": "up"}]},
])
def test_the_schema_rejects_what_the_specification_does_not_allow(bad):
    with pytest.raises(AssertionError):
        check_results(bad)


def test_nan_is_not_json():
    with pytest.raises(ValueError):
        load_results('{"score": NaN}')
