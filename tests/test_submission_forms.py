"""What students hand in besides a plain Python 3 file: notebooks (code cells in order, IPython
lines neutralized, cells the assignment skips), Python 2 files (named as such), and code that
imports the course's support modules (shipped with the assignment, read-only to the child)."""
from pathlib import Path

import pytest

from harness.drive.assignment import AssignmentError, load
from harness.drive.problems import Verdict
from harness.grade.batch import find_submissions, grade

nbformat = pytest.importorskip("nbformat", reason="nbformat (the notebooks extra) is not installed")

HERE = Path(__file__).parent / "course_nets"
NET = (HERE / "bce_tanh.py").read_text()
TOML = (HERE / "bce_tanh.toml").read_text().replace('reference = "bce_tanh.py"', "")


def _assignment(tmp_path: Path, extra: str = "") -> Path:
    path = tmp_path / "a.toml"
    path.write_text(TOML.replace("[assignment]\n", "[assignment]\n" + extra))
    return path


def _notebook(tmp_path: Path, cells: list, name: str = "hw.ipynb") -> Path:
    nb = nbformat.v4.new_notebook()
    nb.cells = cells
    path = tmp_path / name
    nbformat.write(nb, str(path))
    return path


def _cells(training: str = "net = BinaryClassifier(3, 5, 1)\nwhile True:\n    pass") -> list:
    v4 = nbformat.v4
    return [v4.new_markdown_cell("# Homework 2\nImplement backprop."),
            v4.new_code_cell("%matplotlib inline\n!pip install numpy\nimport numpy as np\nnp.zeros?"),
            v4.new_code_cell(NET.split('"""', 2)[2]),
            v4.new_code_cell("%%time\nx = np.ones(3)"),
            v4.new_code_cell("%%bash\necho this is not python"),
            v4.new_code_cell("# Training\n" + training)]


def test_a_notebook_is_graded_like_its_code_cells_with_training_cells_skipped(tmp_path):
    nb = _notebook(tmp_path, _cells())
    g = grade(str(nb), load(str(_assignment(tmp_path, 'skip_cells = ["# Training"]\n'))), timeout_s=20)
    assert g.passed and g.score == g.max_score, g.problem
    assert any("notebook cells 6 not run" in n for n in g.notes), g.notes


def test_a_notebook_cell_that_raises_is_left_out_and_named_at_its_cell_and_line(tmp_path):
    """As in Jupyter, a cell that raises does not take the definitions of the others with it."""
    nb = _notebook(tmp_path, _cells(training="net = BinaryClassifier(3, 5, 1)\nnet.fit()"))
    g = grade(str(nb), load(str(_assignment(tmp_path))), timeout_s=20)
    assert g.passed, g.problem
    note = next(n for n in g.notes if "notebook statement" in n)
    assert "AttributeError" in note and "cell 6, line 3" in note, note


def test_a_notebook_whose_definition_raises_fails_where_it_is_used(tmp_path):
    cells = _cells()
    cells[2].source = cells[2].source.replace("class BinaryClassifier", "@undefined_name\nclass BinaryClassifier", 1)
    nb = _notebook(tmp_path, cells)
    g = grade(str(nb), load(str(_assignment(tmp_path, 'skip_cells = ["# Training"]\n'))), timeout_s=20)
    assert not g.passed, g.problem
    assert any("undefined_name" in n and "cell 3" in n for n in g.notes), g.notes


def test_an_unreadable_notebook_gets_its_own_verdict(tmp_path):
    bad = tmp_path / "hw.ipynb"
    bad.write_text('{"cells": [')
    g = grade(str(bad), load(str(_assignment(tmp_path))))
    assert g.status is Verdict.SYNTAX and "not a readable notebook" in g.problem, g.problem


def test_folders_offer_notebooks_as_submissions(tmp_path):
    (tmp_path / "subs" / "ada").mkdir(parents=True)
    _notebook(tmp_path / "subs" / "ada", _cells())
    (tmp_path / "subs" / "bob.py").write_text(NET)
    found = find_submissions([str(tmp_path / "subs")], load(str(_assignment(tmp_path))))
    assert sorted(Path(f).name for f in found) == ["bob.py", "hw.ipynb"]


@pytest.mark.parametrize("line, what", [
    ('print "loss", loss', "print statement"),
    ("try:\n    pass\nexcept ValueError, e:\n    pass", "`except E, e:`"),
    ("mode = 0755", "octal literal"),
    ('raise ValueError, "bad shape"', "`raise E, message`"),
])
def test_python_2_files_are_named_as_such(tmp_path, line, what):
    (tmp_path / "old.py").write_text(NET + "\n\ndef report(loss):\n" + "".join(f"    {ln}\n" for ln in line.split("\n")))
    g = grade(str(tmp_path / "old.py"), load(str(_assignment(tmp_path))))
    assert g.status is Verdict.SYNTAX and g.problem.startswith("Python 2 syntax: " + what), g.problem
    assert "this grader runs Python 3" in g.problem


def test_support_modules_are_importable_and_read_only(tmp_path):
    """The assignment's support folder is found after the submission's own folder; the child can
    read it and cannot change it (the strict sandbox binds it read-only)."""
    (tmp_path / "support" / "course_utils").mkdir(parents=True)
    (tmp_path / "support" / "course_utils" / "__init__.py").write_text(
        "import numpy as np\n\ndef tanh_backward(dh, h):\n    return dh * (1 - h ** 2)\n")
    uses = NET.replace("import numpy as np\n", "import numpy as np\nfrom course_utils import tanh_backward\n", 1)
    uses = uses.replace("dz_hidden = dh * (1 - self.h ** 2)", "dz_hidden = tanh_backward(dh, self.h)")
    assert uses.count("tanh_backward") == 2
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "net.py").write_text(uses)
    assignment = load(str(_assignment(tmp_path, 'support = "support"\n')))
    g = grade(str(tmp_path / "sub" / "net.py"), assignment)
    assert g.passed, g.problem
    without = grade(str(tmp_path / "sub" / "net.py"), load(str(_assignment(tmp_path))))
    assert without.status is Verdict.IMPORT and "course_utils" in without.problem
    if g.sandbox == "strict":
        tamper = uses.replace("class BinaryClassifier:", "import course_utils, pathlib\n"
                              "pathlib.Path(course_utils.__file__).write_text('broken')\n\n\nclass BinaryClassifier:")
        (tmp_path / "sub" / "net.py").write_text(tamper)
        g = grade(str(tmp_path / "sub" / "net.py"), assignment)
        assert g.status is Verdict.IMPORT or g.status is Verdict.EXCEPTION, g.problem
        assert "Read-only file system" in g.problem or "Permission denied" in g.problem, g.problem
        assert "tanh_backward" in (tmp_path / "support" / "course_utils" / "__init__.py").read_text()


def test_a_missing_support_folder_is_refused_when_the_assignment_loads(tmp_path):
    with pytest.raises(AssignmentError, match="support = 'nowhere': no such folder"):
        load(str(_assignment(tmp_path, 'support = "nowhere"\n')))
