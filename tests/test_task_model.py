"""One task model: net and layer assignments go through one grading pipeline (harness.grade.tasks),
every validation applies to every kind, each run's data is built once, and the kind is decided
by its registry alone."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

from harness.core import case_data
from harness.drive.assignment import AssignmentError, load
from harness.grade import isolation
from harness.grade.batch import grade, grade_many
from harness.grade.tasks import TASKS, task_of

ROOT = Path(__file__).resolve().parent.parent
COURSE = Path(__file__).parent / "course_nets"

NET_HEAD = '[assignment]\nname = "n"\nspec = "xor"\n{extra}\n[code]\nfactory = "Net"\n' \
           'forward = { call = "forward", args = ["X"], returns = "output" }\n' \
           'gradients = { call = "grads", args = ["X", "T"], returns = "grads" }\n' \
           '[code.params]\nW1 = { path = "W1", layout = "in_out" }\nb1 = { path = "b1", layout = "vec" }\n' \
           'W2 = { path = "W2", layout = "in_out" }\nb2 = { path = "b2", layout = "vec" }\n'
LAYER_HEAD = '[assignment]\nname = "l"\n{extra}\n[[layers]]\nname = "relu"\nkind = "relu"\n' \
             'forward = { call = "relu_forward", args = ["x"], returns = "out,cache" }\n' \
             'backward = { call = "relu_backward", args = ["dout", "cache"], returns = "dx" }\n'

# Each setting every kind has, with a bad value and the words its refusal must contain.
BAD_COMMON = [
    ("timeout_s = -5", "timeout_s must be > 0"),
    ("memory_mb = 3", "memory_mb an integer >= 256"),
    ('memory_mb = "lots"', "memory_mb = 'lots' must be a whole number"),
    ('timeout_s = "1"', "timeout_s = '1' must be a number"),
    ('show_output = "yes"', "show_output must be true or false"),
    ('skip_cells = "x"', "skip_cells must be a list"),
    ('float64_results = "maybe"', "float64_results = 'maybe'; valid"),
    ('run = "some"', "run = 'some'; valid"),
    ('support = "no_such_folder"', "no such folder"),
    ('unknown_key = 1', "unknown key(s) unknown_key"),
]


@pytest.mark.parametrize("head", [NET_HEAD, LAYER_HEAD], ids=["net", "layers"])
@pytest.mark.parametrize("extra,words", BAD_COMMON, ids=[b[0] for b in BAD_COMMON])
def test_every_kind_refuses_the_same_bad_settings(tmp_path, head, extra, words):
    path = tmp_path / "a.toml"
    path.write_text(head.replace("{extra}", extra))
    with pytest.raises(AssignmentError, match=None) as info:
        load(str(path))
    assert words in str(info.value), str(info.value)


@pytest.mark.parametrize("head", [NET_HEAD, LAYER_HEAD], ids=["net", "layers"])
def test_the_settings_load_for_every_kind(tmp_path, head):
    path = tmp_path / "a.toml"
    path.write_text(head.replace("{extra}", "timeout_s = 5\nmemory_mb = 512\nshow_output = true"))
    a = load(str(path))
    assert (a.timeout_s, a.memory_mb, a.show_output) == (5.0, 512, True)
    assert task_of(a) is TASKS[a.kind]


def test_every_builtin_assignment_has_a_registered_kind():
    from harness.drive.assignment import builtin_names
    kinds = {load(n).kind for n in builtin_names()}
    assert kinds == set(TASKS) == {"net", "layers"}


def test_no_isinstance_on_the_task_kind_outside_its_registry():
    """The kind is asked of the registry (task_of) or of the assignment's own capabilities, never
    decided by isinstance on the assignment's class."""
    bad = []
    for path in sorted((ROOT / "harness").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "isinstance" and len(node.args) == 2:
                names = {n.id for n in ast.walk(node.args[1]) if isinstance(n, ast.Name)}
                if names & {"Assignment", "LayerAssignment"}:
                    bad.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert not bad, "isinstance on the task kind: " + ", ".join(bad)


@pytest.mark.parametrize("name,submission", [("xor", ROOT / "reference_impls" / "xor.py"),
                                             ("cs231n_layers", COURSE / "cs231n_layers.py")])
def test_each_runs_data_is_built_once_per_batch(monkeypatch, name, submission):
    """The seeded arrays of every run are drawn once for a whole batch: the child's inputs, judging,
    the checks and the diagnosis of every submission get the same data."""
    assignment = load(name)
    runs = len(task_of(assignment).plan(assignment))
    drawn = []
    for fn in ("make_batch", "layer_inputs"):
        original = getattr(case_data, fn)
        monkeypatch.setattr(case_data, fn, lambda *a, _o=original, _f=fn: drawn.append(_f) or _o(*a))
    graded = list(grade_many([str(submission)] * 3, assignment, jobs=2, sandbox_mode="process"))
    assert all(g.passed for g in graded), [g.problem for g in graded]
    assert len(drawn) == runs, drawn
    drawn.clear()
    assert grade(str(submission), assignment, sandbox_mode="process").passed    # one submission: its own plan
    assert len(drawn) == runs, drawn


def test_a_runs_data_is_read_only():
    data = case_data.net_data(load("xor").cases[0].spec)
    with pytest.raises(ValueError):
        data.X[0, 0] = 1.0
    with pytest.raises(ValueError):
        data.params["W1"][0, 0] = 1.0
    with pytest.raises(ValueError):              # what every submission of a batch is judged against
        data.expected.grads["W1"][0, 0] = 1.0
    with pytest.raises(ValueError):
        data.magnitudes["W1"][0, 0] = 1.0


def test_the_grading_child_never_imports_the_judging_side():
    """derive (judging) and the spec's math stay in the parent: the child's minimal runner lacks them,
    and none of its modules imports them."""
    shipped = set(isolation.RUNNER_MODULES)
    for judging in ("drive/derive.py", "core/net.py", "core/case_data.py", "core/layer_math.py", "grade/evaluate.py"):
        assert judging not in shipped
    for rel in shipped:
        source = (ROOT / "harness" / rel).read_text(encoding="utf-8")
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.ImportFrom):
                assert node.module not in ("derive", "drive.derive", "net", "core.net"), f"{rel} imports {node.module}"
