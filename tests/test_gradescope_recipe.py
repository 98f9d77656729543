"""The Gradescope recipe end to end: examples/gradescope/run_autograder run with bash on a fake
/autograder tree (AUTOGRADER_ROOT), the harness from the venv running these tests. It always
leaves a results.json valid against Gradescope's documented format and always exits 0; and
docs/gradescope.md shows the two scripts exactly as they are."""
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from harness.drive.assignment import BUILTIN_DIR

from . import misbehaving
from .gradescope_schema import check_results, load_results

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "examples" / "gradescope"
RUN_AUTOGRADER = EXAMPLES / "run_autograder"
VENV = Path(sys.prefix)              # the venv running the tests: its bin/harness is the one installed here
HELPER = "SCALE = 1.0\n"


def autograder_tree(tmp_path: Path, files: dict[str, str], assignment: str | None) -> Path:
    """/autograder as Gradescope lays it out: source/ (the zip: the assignment file), submission/
    (the student's files), results/ (empty)."""
    root = tmp_path / "autograder"
    for name in ("source", "submission", "results"):
        (root / name).mkdir(parents=True)
    if assignment is not None:
        (root / "source" / "assignment.toml").write_text(assignment)
    for name, text in files.items():
        (root / "submission" / name).write_text(text)
    return root


def run_autograder(root: Path, venv: Path = VENV, **settings: str) -> tuple[subprocess.CompletedProcess, dict]:
    if not (venv / "bin" / "harness").exists():
        pytest.skip(f"no harness executable in {venv}/bin (install the package into the venv running the tests)")
    env = {k: v for k, v in os.environ.items() if k not in ("ASSIGNMENT", "SANDBOX")}
    env.update(AUTOGRADER_ROOT=str(root), HARNESS_VENV=str(venv), **settings)
    proc = subprocess.run(["bash", str(RUN_AUTOGRADER)], cwd=root, env=env, capture_output=True, text=True,
                          errors="replace", timeout=300)
    results = root / "results" / "results.json"
    assert results.is_file(), f"no results.json\n{proc.stdout}\n{proc.stderr}"
    return proc, check_results(load_results(results.read_text()))


def xor_assignment(**head: str) -> str:
    """The built-in xor assignment as a course's own file, with keys added to [assignment]."""
    text = (BUILTIN_DIR / "xor.toml").read_text()
    extra = "".join(f'{key} = "{value}"\n' for key, value in head.items())
    return text.replace("[assignment]\n", "[assignment]\n" + extra, 1)


def test_a_correct_submission_gets_full_marks(tmp_path):
    """The student's file named by the assignment (`file`), with a module of the student's own
    beside it: graded as one student's folder, so the module is importable."""
    net = "from helpers import SCALE  # noqa: F401\n" + misbehaving.XOR
    root = autograder_tree(tmp_path, {"net.py": net, "helpers.py": HELPER}, xor_assignment(file="net.py"))
    proc, r = run_autograder(root)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert r["score"] == r["extra_data"]["max_score"] == 40, r["output"]
    assert all(t["status"] == "passed" for t in r["tests"])
    assert "Graded in the" in r["output"] and "harness grade exited with 0" in proc.stdout


def test_a_buggy_submission_gets_less_and_still_exits_0(tmp_path):
    """A sign error on the hidden case's batch size only (4 inputs): the one .py file in the
    submission is graded; the hidden case's points are lost and its details stay hidden."""
    buggy = misbehaving.XOR.replace("        error = y - y_hat\n", "        error = y - y_hat\n"
                                    "        if X.shape[1] == 4:\n            error = -error\n")
    assert buggy != misbehaving.XOR
    root = autograder_tree(tmp_path, {"mlp.py": buggy}, xor_assignment())
    proc, r = run_autograder(root)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert 0 < r["score"] < r["extra_data"]["max_score"], r["output"]
    failed = [t for t in r["tests"] if t["status"] == "failed"]
    assert failed and all(t["visibility"] == "hidden" for t in failed)
    assert "not visible yet" in r["output"] and "harness grade exited with 1" in proc.stdout


def test_a_bad_assignment_file_still_leaves_a_score_0_results_json(tmp_path):
    root = autograder_tree(tmp_path, {"mlp.py": misbehaving.XOR}, "[assignment\nname = 'broken'\n")
    proc, r = run_autograder(root)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert r["score"] == 0 and r["tests"] == [] and r["extra_data"]["harness_exit_status"] == 2
    assert "could not grade this submission" in r["output"] and "not valid TOML" in r["output"]


def test_no_assignment_file_at_all(tmp_path):
    root = autograder_tree(tmp_path, {"mlp.py": misbehaving.XOR}, None)
    proc, r = run_autograder(root)
    assert proc.returncode == 0 and r["score"] == 0
    assert "no such assignment file" in r["output"]


def test_a_sandbox_mode_that_cannot_run_is_a_score_0_results_json_not_a_weaker_mode(tmp_path):
    root = autograder_tree(tmp_path, {"mlp.py": misbehaving.XOR}, xor_assignment())
    proc, r = run_autograder(root, SANDBOX="nope")
    assert proc.returncode == 0 and r["score"] == 0
    assert "unknown sandbox 'nope'" in r["output"]


def test_a_builtin_assignment_by_name(tmp_path):
    root = autograder_tree(tmp_path, {"mlp.py": misbehaving.XOR}, None)
    proc, r = run_autograder(root, ASSIGNMENT="xor")
    assert r["score"] == r["extra_data"]["max_score"] == 40, proc.stdout


@pytest.mark.parametrize("crash", [
    # a traceback with every character JSON must escape, and bytes that are not UTF-8
    "printf 'Traceback (most recent call last):\\n  \"x\"\\t\\\\ \\033[31m\\xff\\nRuntimeError: boom\\n' >&2; exit 1",
    "exit 0",                                       # claims success, writes nothing
    "kill -SEGV $$",                                # dies by a signal
])
def test_a_harness_that_crashes_still_leaves_a_score_0_results_json(tmp_path, crash):
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    fake = venv / "bin" / "harness"
    fake.write_text(f"#!/usr/bin/env bash\n{crash}\n")
    fake.chmod(0o755)
    root = autograder_tree(tmp_path, {"mlp.py": misbehaving.XOR}, xor_assignment())
    proc, r = run_autograder(root, venv)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert r["score"] == 0 and "could not grade this submission" in r["output"]
    if "boom" in crash:
        assert 'RuntimeError: boom' in r["output"] and '"x"\t\\' in r["output"]


def test_the_scripts_are_executable_bash():
    for script in (RUN_AUTOGRADER, EXAMPLES / "setup.sh"):
        assert os.access(script, os.X_OK), f"{script} is not executable (Gradescope runs it as a program)"
        assert script.read_text().startswith("#!/usr/bin/env bash\n")
        subprocess.run(["bash", "-n", str(script)], check=True)


@pytest.mark.skipif(shutil.which("shellcheck") is None, reason="shellcheck is not installed")
def test_the_scripts_pass_shellcheck():
    subprocess.run(["shellcheck", str(RUN_AUTOGRADER), str(EXAMPLES / "setup.sh")], check=True)


def test_the_docs_page_shows_the_scripts_as_they_are():
    page = (REPO / "docs" / "gradescope.md").read_text()
    blocks = re.findall(r"^```bash\n(.*?)^```$", page, flags=re.S | re.M)
    for script in (EXAMPLES / "setup.sh", RUN_AUTOGRADER):
        assert script.read_text() in blocks, f"docs/gradescope.md: its copy of {script.name} differs from the file"
        assert f"examples/gradescope/{script.name}" in page
