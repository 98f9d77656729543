"""The grading child's protocol and who gets blamed when something fails.

- adapters, jobs and events cross the process boundary as JSON and come back equal;
- the parent's parser (harness.drive.protocol.parse_event) turns anything malformed into a
  ProtocolError and nothing else;
- a failure of the harness itself is a GRADER ERROR, never the student's EXCEPTION, and the
  student's own failures are never a GRADER ERROR;
- the child drives the adapter it is given (not the TOML), relative assignment paths work,
  comparisons list names deterministically, isolated backends clean up at exit.
"""
from __future__ import annotations

import dataclasses
import json
import os
import shutil
import subprocess
import sys
import time
import typing
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import harness
from harness import backends
from harness.cli import main
from harness.core.params import init_params
from harness.core.spec import Spec, get_spec
from harness.drive import assignment as assignments
from harness.drive import protocol as ev
from harness.drive.adapter import Adapter, Call, Param
from harness.drive.problems import Problem, Verdict, describe
from harness.drive.runner import load_module
from harness.grade import batch, isolation
from harness.grade.tasks import task_of

ROOT = Path(harness.__file__).resolve().parent.parent
CUSTOM = Path(__file__).parent / "custom_assignment"
XOR_SOURCE = (ROOT / "reference_impls" / "xor.py").read_text()
EVENT_TYPES = typing.get_args(ev.Event)


def all_assignments():
    """Every built-in net assignment (and a custom one); layer assignments have no net adapter."""
    return [a for a in map(assignments.load, assignments.builtin_names()) if isinstance(a, assignments.Assignment)] + \
        [assignments.load(str(CUSTOM / "hw3.toml"))]


@pytest.fixture
def xor_submission(tmp_path) -> Path:
    path = tmp_path / "xor.py"
    path.write_text(XOR_SOURCE)
    return path


# --- adapters ------------------------------------------------------------------------------
def _adapters():
    out = []
    for a in all_assignments():
        out += [(f"{a.name}", a.adapter), (f"{a.name} for a file", a.adapter_for("/somewhere/student 1/net.py"))]
    for a in all_assignments():
        if a.reference and a.source.startswith(str(assignments.BUILTIN_DIR)):
            out.append((f"{a.name} reference", assignments.reference_adapter(a.name)))
    out.append(("every field set", Adapter(
        name="full", module="pkg.mod", factory="make",
        params=(Param("W1", "layers.0.W", "out_in", "dW1"), Param("b1", "layers.0.b", "col", None),
                Param("W2", "w2", "packed_w"), Param("b2", "w2", "packed_b", "db2")),
        forward=Call("predict", ("x",), "output", per_row=True), init=(("n_in", "sizes.0"), ("lr", "lr")),
        optional_init=(("seed", "seed"), ("dtype", "dtype")), loss=Call("module.cost", ("output", "T"), "loss"),
        gradients=Call("grads", ("X", "T"), "grads"),
        update=(Call("zero_grad"), Call("step", ("rows", "epochs", "lr"), "none")),
        lr_attr="learning_rate", update_per_sample=True)))
    return out


ADAPTERS = _adapters()


def test_every_builtin_assignment_is_covered():
    names = {a.name for a in all_assignments()}
    nets = {n for n in assignments.builtin_names() if isinstance(assignments.load(n), assignments.Assignment)}
    assert len(nets) >= 5 and nets <= names


@pytest.mark.parametrize("adapter", [a for _, a in ADAPTERS], ids=[n for n, _ in ADAPTERS])
def test_adapter_round_trips_through_json(adapter):
    assert Adapter.from_json(adapter.to_json()) == adapter
    wire = json.loads(json.dumps(adapter.to_json()))
    back = Adapter.from_json(wire)
    assert back == adapter
    hash(back)                        # every field a tuple again, no list left behind
    assert isinstance(back.params, tuple) and all(isinstance(p, Param) for p in back.params)
    assert isinstance(back.update, tuple) and all(isinstance(c, Call) for c in back.update)
    assert all(isinstance(kv, tuple) for kv in back.init + back.optional_init)


# --- jobs ----------------------------------------------------------------------------------
@pytest.mark.parametrize("a", all_assignments(), ids=lambda a: a.name)
def test_job_round_trips(a):
    task = task_of(a)
    runs = task.job_runs(a, task.plan(a))
    runs["odd one"] = get_spec("softmax_ce").replace(dtype="float32", optimizer="adam", steps=3, lr=0.003,
                                                      description="naïve — ünïcode", seed=7)
    job = ev.Job(task.kind, "/tmp/x y/sub.py", 1536, runs, getattr(a, "adapter", None) and a.adapter_for("/tmp/x y/sub.py"))
    back = ev.Job.from_json(job.to_json())
    assert back == job
    assert list(back.runs) == list(job.runs), "the child runs the cases in the parent's order"
    assert all(isinstance(s.sizes, tuple) and isinstance(s.activations, tuple) for s in back.runs.values()
               if isinstance(s, Spec))


def test_a_layer_job_round_trips():
    a = assignments.load("cs231n_layers")
    job = ev.Job("layers", "/tmp/x y/layers.py", 512, a.runs(), None, "/in/inputs.npz", cpu_s=9.5, paths=("/support",))
    back = ev.Job.from_json(job.to_json())
    assert back == job and back.run_ids == list(a.runs())
    assert all(isinstance(case.x_dims, tuple) for _, case in back.runs.values())


# --- events --------------------------------------------------------------------------------
EVENTS = [
    ev.Phase("importing the module"),
    ev.Phase("running 'case 1' — ünïcode"),
    ev.Imported(0.25),
    ev.Imported(3),
    ev.RunDone("XOR truth table size"),
    ev.RunDone("probe 1"),
    ev.RunFailed("wider, non-square", Problem(Verdict.SHAPE, "W2 changed shape", "/s/sub.py:12", "x = y.T", "")),
    ev.Partial("wider, non-square"),
    ev.StepFailed("probe 1", Problem(Verdict.EXCEPTION, "ValueError: shapes", "/s/sub.py:40", "b -= lr * db", "")),
    ev.Skipped(Problem(Verdict.IMPORT, "ModuleNotFoundError: No module named 'testCases_v4a'", "/s/nb.py:4", "", "")),
    ev.Done(),
] + [ev.Fatal(Problem(v, f"{v.word} happened", "f.py:1", "line", "trace" if v is Verdict.GRADER else ""))
     for v in Verdict]


def test_the_samples_cover_every_event_type():
    assert {type(e) for e in EVENTS} == set(EVENT_TYPES)


@pytest.mark.parametrize("event", EVENTS, ids=lambda e: ev.to_json(e)[:60])
def test_event_round_trips(event):
    line = ev.to_json(event)
    assert "\n" not in line, "one event, one line"
    back = ev.parse_event(line)
    assert back == event and type(back) is type(event)


_PROBLEM = {"kind": "api", "message": "m"}
MALFORMED = {
    "not JSON": "this is not json",
    "empty": "",
    "cut short": '{"event": "RunDone", "id": "c',
    "JSON list": '[{"event": "Done"}]',
    "JSON string": '"Done"',
    "JSON null": "null",
    "JSON number": "42",
    "two objects": '{"event": "Done"}{"event": "Done"}',
    "no event name": '{"id": "x", "meta": {}}',
    "unknown event": '{"event": "Bogus"}',
    "a class that is no event": '{"event": "Job"}',
    "event name a list": '{"event": ["Done"]}',
    "event name null": '{"event": null}',
    "missing id": '{"event": "RunDone", "meta": {}}',
    "missing text": '{"event": "Phase"}',
    "missing seconds": '{"event": "Imported"}',
    "missing problem": '{"event": "Fatal"}',
    "RunFailed without problem": '{"event": "RunFailed", "id": "x"}',
    "extra field on Done": '{"event": "Done", "x": 1}',
    "extra field on Phase": '{"event": "Phase", "text": "t", "extra": 1}',
    "problem on RunDone": json.dumps({"event": "RunDone", "id": "a", "meta": {}, "problem": _PROBLEM}),
    "id as int": '{"event": "RunDone", "id": 3, "meta": {}}',
    "id as null": '{"event": "RunFailed", "id": null, "problem": {"kind": "api", "message": "m"}}',
    "meta as list": '{"event": "RunDone", "id": "a", "meta": [1]}',
    "meta as string": '{"event": "Partial", "id": "a", "meta": "{}"}',
    "text as int": '{"event": "Phase", "text": 5}',
    "seconds as string": '{"event": "Imported", "seconds": "1.5"}',
    "seconds as null": '{"event": "Imported", "seconds": null}',
    "seconds as list": '{"event": "Imported", "seconds": [1]}',
    "problem as string": '{"event": "Fatal", "problem": "boom"}',
    "problem as list": '{"event": "Fatal", "problem": ["api", "m"]}',
    "problem as null": '{"event": "Fatal", "problem": null}',
    "problem of unknown kind": '{"event": "Fatal", "problem": {"kind": "weird", "message": "m"}}',
    "problem kind as list": '{"event": "Fatal", "problem": {"kind": ["api"], "message": "m"}}',
    "problem without kind": '{"event": "Fatal", "problem": {"message": "m"}}',
    "problem without message": '{"event": "RunFailed", "id": "a", "problem": {"kind": "grader"}}',
    "huge number": '{"event": "Imported", "seconds": ' + "9" * 5000 + "}",
    "NUL byte": "\x00",
}


@pytest.mark.parametrize("line", list(MALFORMED.values()), ids=list(MALFORMED))
def test_malformed_lines_are_protocol_errors(line):
    with pytest.raises(ev.ProtocolError):
        ev.parse_event(line)


@pytest.mark.parametrize("line", ["x" * 5_000_000, '{"event": "Phase", "text": "' + "y" * 5_000_000,
                                  '{"event": "RunDone", "id": "a", "meta": [' + "1, " * 1_000_000 + "1]}"],
                         ids=["garbage", "unterminated", "wrong type"])
def test_a_huge_line_is_a_short_protocol_error(line):
    with pytest.raises(ev.ProtocolError) as info:
        ev.parse_event(line)
    assert len(str(info.value)) < 2000, "the error quotes the whole line"


@pytest.mark.parametrize("line", ["[" * 100_000, '{"a": ' * 100_000, '{"event": "RunDone", "id": "a", "meta": '
                                  + '{"m": ' * 100_000 + "1" + "}" * 100_001],
                         ids=["list", "object", "inside meta"])
def test_deeply_nested_json_is_a_protocol_error(line):
    """Whatever the child (or the code it runs) writes into events.jsonl: ProtocolError only."""
    with pytest.raises(ev.ProtocolError):
        ev.parse_event(line)


def _accepted_or_protocol_error(line: str) -> None:
    try:
        event = ev.parse_event(line)
    except ev.ProtocolError:
        return
    assert isinstance(event, EVENT_TYPES)
    again = ev.to_json(event)            # what the parser accepts, the parent can handle as an event
    assert ev.to_json(ev.parse_event(again)) == again


FUZZ = settings(derandomize=True, max_examples=200, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])


@FUZZ
@given(st.text(max_size=300))
def test_arbitrary_text_is_an_event_or_a_protocol_error(line):
    _accepted_or_protocol_error(line)


_json = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10),
                     lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
                     max_leaves=8)
_field_names = ["event", "id", "text", "meta", "seconds", "problem", "kind", "message", "where", "line", "detail"]
_problem = st.fixed_dictionaries(
    {"kind": st.sampled_from([v.value for v in Verdict]) | _json, "message": st.text(max_size=10) | _json},
    optional={"where": _json, "line": _json, "detail": _json, "extra": _json})
_event_dict = st.builds(
    lambda head, fields, extra: {**extra, **fields, **head},
    st.fixed_dictionaries({"event": st.sampled_from([t.__name__ for t in EVENT_TYPES] + ["Job", "Problem"]) | _json}),
    st.fixed_dictionaries({}, optional={"id": st.text(max_size=8) | _json, "text": st.text(max_size=8) | _json,
                                        "meta": st.dictionaries(st.text(max_size=5), _json, max_size=3) | _json,
                                        "seconds": st.floats() | st.integers() | _json, "problem": _problem | _json}),
    st.dictionaries(st.sampled_from(_field_names) | st.text(max_size=8), _json, max_size=2))


@FUZZ
@given(_event_dict)
def test_arbitrary_json_objects_are_events_or_protocol_errors(data):
    _accepted_or_protocol_error(json.dumps(data))


@FUZZ
@given(st.sampled_from(EVENTS), st.integers(min_value=0, max_value=10_000), st.text(max_size=3))
def test_a_line_cut_short_by_a_kill_is_a_protocol_error_or_an_event(event, cut, tail):
    line = ev.to_json(event)
    _accepted_or_protocol_error(line[:cut % (len(line) + 1)] + tail)


# --- GRADER ERROR: blame where it belongs --------------------------------------------------------
def test_an_exception_in_harness_code_is_a_grader_error(tmp_path):
    submission = tmp_path / "sub.py"
    submission.write_text(XOR_SOURCE)
    try:
        init_params(object())             # harness code failing on its own (a bogus spec)
    except AttributeError as exc:
        problem = describe(exc, str(submission))
    else:
        raise AssertionError("init_params accepted a bogus spec: this test proves nothing")
    assert problem.kind is Verdict.GRADER
    assert "not a problem in your code" in problem.message and problem.where == ""
    assert "harness" in problem.detail and "params.py" in problem.detail and "init_params" in problem.detail


def test_an_exception_in_the_submissions_folder_is_the_students_with_its_file_and_line(tmp_path, monkeypatch):
    """Raised at import time, in a helper module of the submission's own folder, from numpy
    called there, with the harness's load_module below it on the stack."""
    helper = "_bph_protocol_helper"
    (tmp_path / f"{helper}.py").write_text("import numpy as np\n\n\ndef reshape_badly(x):\n"
                                           "    return np.asarray(x).reshape(7)\n")
    submission = tmp_path / "sub.py"
    submission.write_text(f"from {helper} import reshape_badly\n\nreshape_badly([1, 2, 3])\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, helper, raising=False)
    try:
        load_module(str(submission))
    except ValueError as exc:
        problem = describe(exc, str(submission))
    else:
        raise AssertionError("the submission did not raise")
    finally:
        sys.modules.pop(helper, None)
    assert problem.kind is Verdict.EXCEPTION
    assert problem.where == f"{tmp_path / (helper + '.py')}:5"
    assert problem.line.strip() == "return np.asarray(x).reshape(7)"
    assert "cannot reshape" in problem.message and problem.detail == ""


def test_an_exception_raised_directly_in_the_submission_is_the_students(tmp_path):
    submission = tmp_path / "sub.py"
    submission.write_text("x = 1\n\nraise KeyError('at import')\n")
    try:
        load_module(str(submission))
    except KeyError as exc:
        problem = describe(exc, str(submission))
    assert problem.kind is Verdict.EXCEPTION and problem.where == f"{submission}:3"
    assert problem.message == "KeyError: 'at import'"


@pytest.mark.parametrize("mode", [m.value for m in isolation.Mode if not isolation.unavailable(m)])
def test_the_grading_child_failing_before_the_import_is_a_grader_error(mode, monkeypatch, xor_submission):
    """The child's minimal runner lacks a module it needs (a harness packaging bug): the child
    dies before it imports the student's code, which never ran."""
    modules = tuple(m for m in isolation.RUNNER_MODULES if m != "drive/runner.py")
    monkeypatch.setattr(isolation, "RUNNER_MODULES", modules)
    g = batch.grade(str(xor_submission), assignments.load("xor"), sandbox_mode=mode)
    assert g.status is Verdict.GRADER, g.problem
    assert g.score == 0 and g.max_score > 0
    assert "not a problem in your code" in g.problem
    assert "No module named 'harness.drive.runner'" in g.staff_detail
    assert "harness.drive.runner" not in g.problem, "the staff's detail leaked into the student's text"


def test_a_failure_in_the_parent_is_a_grader_error_with_the_traceback_for_staff(monkeypatch, xor_submission):
    def explode(*args, **kwargs):
        raise RuntimeError("evaluate exploded (test)")
    monkeypatch.setattr(batch, "evaluate", explode)
    g = batch.grade(str(xor_submission), assignments.load("xor"))
    assert g.status is Verdict.GRADER and g.score == 0
    assert "Traceback (most recent call last)" in g.staff_detail
    assert "explode" in g.staff_detail and "evaluate exploded (test)" in g.staff_detail
    assert "not a problem in your code" in g.problem and "Traceback" not in g.problem


def test_cli_prints_grader_error_without_a_traceback(monkeypatch, capsys, tmp_path, xor_submission):
    def explode(*args, **kwargs):
        raise RuntimeError("evaluate exploded (test)")
    monkeypatch.setattr(batch, "evaluate", explode)
    results, gradescope = tmp_path / "results.json", tmp_path / "gradescope.json"
    code = main(["grade", str(xor_submission), "--assignment", "xor", "--json", str(results),
                 "--gradescope", str(gradescope)])
    out, err = capsys.readouterr()
    assert code == 3, "a GRADER ERROR exits 3 (harness.cli)"
    assert "GRADER ERROR" in out and "GRADER ERROR" in err
    assert "Traceback" not in err, "a Python traceback on stderr"
    doc = json.loads(results.read_text())["submissions"][0]
    assert doc["status"] == "grader" and "evaluate exploded (test)" in doc["staff_detail"]
    assert "Traceback" not in gradescope.read_text(), "the student-facing results.json shows the traceback"


MISTAKES = {
    # the factory named by the adapter is not callable: the student's API mistake
    "factory not callable": ("class XORNet:", "XORNet = 5\n\n\nclass _XORNet:", Verdict.API),
    # the student's own exception class cannot be turned into text
    "exception with a broken __str__": (
        "    def forward(self, X):\n",
        "    def forward(self, X):\n        raise NetError()\n\n    def _old_forward(self, X):\n", Verdict.EXCEPTION),
}


@pytest.mark.parametrize("name", list(MISTAKES))
def test_student_mistakes_that_surface_in_harness_code_are_not_grader_errors(name, tmp_path):
    old, new, verdict = MISTAKES[name]
    assert XOR_SOURCE.count(old) == 1
    source = XOR_SOURCE.replace(old, new)
    source = source.replace("import numpy as np\n", "import numpy as np\n\n\nclass NetError(Exception):\n"
                                                    "    def __str__(self):\n        return self.reason\n", 1)
    path = tmp_path / "sub.py"
    path.write_text(source)
    g = batch.grade(str(path), assignments.load("xor"))
    assert g.status is verdict, f"{g.status.word}: {g.problem}\n{g.staff_detail}"


# --- hostile events from the code under test ---------------------------------------------------
HOSTILE = {
    "deeply nested JSON": '"[" * 100000',
    "RunDone without its arrays": repr(json.dumps({"event": "RunDone", "id": "XOR truth table size"})),
    "RunDone for an unknown run": repr(json.dumps({"event": "RunDone", "id": "nope"})),
}


@pytest.mark.parametrize("name", list(HOSTILE))
def test_lines_written_into_the_event_file_by_the_code_do_not_make_a_grader_error(name, tmp_path):
    """The code under test runs in the child with the event file one folder up; what it writes
    there must not turn its verdict into "the grader itself failed"."""
    path = tmp_path / "sub.py"
    path.write_text(f"with open('../events.jsonl', 'a') as fh:\n    fh.write({HOSTILE[name]} + '\\n')\n\n" + XOR_SOURCE)
    g = batch.grade(str(path), assignments.load("xor"))
    assert g.status is not Verdict.GRADER, f"{g.problem}\n{g.staff_detail}"


# --- the child uses the adapter it is given --------------------------------------------------
def test_relative_assignment_path(tmp_path, monkeypatch, capsys):
    shutil.copytree(CUSTOM, tmp_path / "course")
    monkeypatch.chdir(tmp_path / "course")
    assert (tmp_path / "course" / "hw3.toml").is_file() and (tmp_path / "course" / "mlp.py").is_file()
    code = main(["grade", "mlp.py", "--assignment", "hw3.toml"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "PASSED" in out and "assignment hw3" in out


def test_the_child_drives_the_adapter_in_memory_not_the_toml(xor_submission):
    a = assignments.load("xor")
    forward = dataclasses.replace(a.adapter.forward, target="predict_bph_only_in_memory")
    renamed = dataclasses.replace(a.adapter, forward=forward)
    g = batch.grade(str(xor_submission), dataclasses.replace(a, adapter=renamed))
    assert g.status is Verdict.API, g.problem
    assert "predict_bph_only_in_memory" in g.problem
    assert batch.grade(str(xor_submission), a).status is Verdict.PASSED, "the unchanged assignment must pass"


# --- determinism -----------------------------------------------------------------------------
_COMPARE_SCRIPT = """
import numpy as np
from harness.core.compare import Context, compare
from harness.core.tolerance import Tolerance
expected = {n: np.zeros(2) for n in ["W3", "zeta", "b1", "alpha", "W10", "mu", "b2", "k", "omega", "W1", "gamma", "c"]}
actual = {n: np.zeros(2) for n in ["W1", "delta", "y", "b9", "a", "W7", "x2", "theta", "b2", "q", "beta"]}
c = compare(expected, actual, Context("s", "float64", 0, "gradients", "numpy", "student"), Tolerance(1e-7))
for m in c.mismatches:
    print(m.kind, m.name)
"""


def test_compare_lists_missing_and_unexpected_names_in_dict_order_whatever_the_hash_seed():
    outputs = []
    for seed in ("0", "1", "12345"):
        env = {**os.environ, "PYTHONHASHSEED": seed, "PYTHONPATH": str(ROOT)}
        proc = subprocess.run([sys.executable, "-c", _COMPARE_SCRIPT], capture_output=True, text=True, env=env,
                              timeout=60)
        assert proc.returncode == 0, proc.stderr
        outputs.append(proc.stdout)
    assert outputs[0] == outputs[1] == outputs[2]
    missing = ["W3", "zeta", "b1", "alpha", "W10", "mu", "k", "omega", "gamma", "c"]
    unexpected = ["delta", "y", "b9", "a", "W7", "x2", "theta", "q", "beta"]
    assert outputs[0].splitlines() == [f"missing {n}" for n in missing] + [f"unexpected {n}" for n in unexpected]


# --- isolated backends clean up --------------------------------------------------------------
_ISOLATED_SCRIPT = """
import os
from harness import backends
from harness.check.matrix import check_spec
from harness.core.spec import Spec, get_spec
rows = check_spec(get_spec("xor").replace(dtype="float32"), ["numpy", "keras-jax"], fd=False)
backend = backends.load("keras-jax")
print("STATUS", ",".join(r.status.value for r in rows))
print("DIR", backend._dir, os.path.isdir(backend._dir))
"""


def test_isolated_backend_folder_is_removed_at_exit():
    reason = backends.missing_reason("keras-jax")
    if reason:
        pytest.skip(f"keras-jax: {reason}")
    proc = subprocess.run([sys.executable, "-c", _ISOLATED_SCRIPT], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = dict(line.split(" ", 1) for line in proc.stdout.splitlines() if line.startswith(("STATUS ", "DIR ")))
    assert lines["STATUS"] == "PASS", proc.stdout + proc.stderr[-3000:]
    folder, existed = lines["DIR"].rsplit(" ", 1)
    assert existed == "True", f"the backend had no folder while it ran: {lines['DIR']}"
    assert "bph-keras-jax-" in folder
    assert not os.path.exists(folder), f"{folder} outlived the process: close_all did not run at exit"


def test_isolated_close_removes_its_folder(tmp_path):
    from harness.backends.isolated import Isolated
    backend = Isolated("probe", {})
    backend._dir = tmp_path / "bph-probe"
    backend._dir.mkdir()
    (backend._dir / "job.npz").write_bytes(b"x")
    folder = backend._dir
    backend.close()
    assert not folder.exists() and backend._dir is None
    backend.close()                       # twice: nothing left to do, no error


def test_close_all_runs_at_exit():
    """Without any framework: a backend registered in harness.backends is closed when the
    process exits normally."""
    code = ("import pathlib, shutil, tempfile\n"
            "from harness import backends\n"
            "class Fake:\n"
            "    def __init__(self):\n"
            "        self.dir = pathlib.Path(tempfile.mkdtemp(prefix='bph-fake-'))\n"
            "    def close(self):\n"
            "        shutil.rmtree(self.dir)\n"
            "fake = Fake()\n"
            "backends.substitute('keras-jax', fake)\n"
            "print(fake.dir)\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.returncode == 0, proc.stderr
    leftover = Path(proc.stdout.strip())
    assert leftover.name.startswith("bph-fake-")
    exists = leftover.exists()
    shutil.rmtree(leftover, ignore_errors=True)
    assert not exists, "close_all did not run at exit"


def test_an_optional_group_sent_in_part_is_malformed_not_a_grader_error(tmp_path):
    """A hostile child that sends the fresh model's batch (inputs.1.*) only in part gets its results
    refused as malformed (INVALID RESULT), never a crash of the grader's own code."""
    import numpy as np
    a = next(x for x in all_assignments() if getattr(x, "adapter", None) is not None
             and x.adapter.gradients is not None and x.adapter.update)
    spec = a.cases[0].spec
    job = ev.Job("net", "sub.py", 512, {"case": spec}, a.adapter)
    limits, required = ev.observation_limits(job, "case")
    arrays = {}
    for name in required:
        shaped = (spec.batch, spec.sizes[0]) if name.endswith(".X") else (1,)
        arrays[name] = np.zeros(shaped)
    arrays["inputs.1.X"] = np.zeros((spec.batch, spec.sizes[0]))       # without inputs.1.T and .rows
    assert "inputs.1.T" in limits and "inputs.1.T" not in required
    path = tmp_path / "run0.npz"
    np.savez(path, **arrays)
    with pytest.raises(ev.ProtocolError, match="incomplete"):
        ev.load_observation(job, "case", path)


def test_a_result_file_that_is_small_on_disk_and_huge_when_read_is_refused_unread(tmp_path):
    """A deflated member of 300 MB of zeros is about 300 kB on disk: refused from its declared
    size, before anything is decompressed."""
    import zipfile
    a = assignments.load("softmax_ce")           # a run whose real results take megabytes
    spec = a.cases[0].spec
    job = ev.Job("net", "sub.py", 512, {"case": spec}, a.adapter)
    names = sorted(ev.observation_limits(job, "case")[0], key=lambda n: n != "output")
    path = tmp_path / "run0.npz"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name in names:
            with zf.open(f"{name}.npy", "w", force_zip64=True) as fh:
                for _ in range(300 if name == "output" else 1):
                    fh.write(bytes(1 << 20))
    assert path.stat().st_size < 2_000_000
    start = time.perf_counter()
    with pytest.raises(ev.ProtocolError, match="output is larger than it can be"):
        ev.load_observation(job, "case", path)
    assert time.perf_counter() - start < 1.0


def test_every_parse_in_grader_threads_holds_the_parsing_lock():
    """CPython 3.11 builds AST objects with one recursion counter per interpreter: the tripwire's
    ast.parse in one worker thread and numpy's .npy header parse (ast.literal_eval) in another
    made a correct student's verdict GRADER ERROR ("AST constructor recursion depth mismatch") in
    CI. Every such call in harness/grade runs inside `with PARSING:`."""
    import ast
    from pathlib import Path

    import harness.grade
    calls = {"parse", "read_array", "literal_eval"}
    found = 0
    for path in Path(harness.grade.__file__).parent.glob("*.py"):
        tree = ast.parse(path.read_text())
        locked = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.With) and any(isinstance(i.context_expr, ast.Name) and i.context_expr.id == "PARSING"
                                                  for i in node.items):
                locked |= {id(n) for n in ast.walk(node)}
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in calls:
                found += 1
                assert id(node) in locked, f"{path.name}:{node.lineno}: {node.func.attr} outside `with PARSING:`"
    assert found >= 2


def test_a_huge_source_file_is_flagged_not_parsed(tmp_path):
    """The tripwire parses under the grader's one parsing lock: a submission of megabytes of source
    must not hold every other worker up, so it is flagged for staff instead of parsed."""
    from harness.grade import tripwire
    big = tmp_path / "big.py"
    big.write_text("x = 1\n" * 300_000)
    flags = tripwire.scan(big)
    assert len(flags) == 1 and "not scanned: 1,800,000 bytes" in flags[0]
