"""Submissions that misbehave (tests/misbehaving.py), graded in one parallel batch: each gets its
own clear verdict, the grader never crashes, and the correct one in the same batch passes."""
import json
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from harness.drive.assignment import load
from harness.grade import isolation
from harness.grade.batch import grade, grade_many

from . import misbehaving

TIMEOUT_S = 6

# file -> (status, fragments of the problem text)
VERDICTS = {
    "good": ("passed", []),
    "trains_at_import_briefly": ("passed", []),
    "floods_output": ("passed", []),
    "trains_at_import_forever": ("timeout", ["while importing the module", "__main__"]),
    "endless_loop": ("timeout", [f"timed out after {TIMEOUT_S} s", "while running"]),
    "memory_bomb": ("memory", ["MemoryError", "memory limit"]),
    "calls_sys_exit": ("exit", ["sys.exit(3)"]),
    "calls_os_exit": ("exit", ["exited with code 7"]),
    "syntax_error": ("syntax", ["SyntaxError", "syntax_error.py:30"]),
    "raises": ("exception", ["KeyError: 'lr'", "raises.py:32", "scale = {}['lr']"]),
    "missing_module": ("import", ["No module named 'backprop_helpers_that_do_not_exist'", "missing_module.py:1"]),
    "returns_none": ("api", ["forward returned None"]),
    "renamed_attribute": ("api", ["cannot find 'w_hidden'"]),
    "wrong_shape": ("shape", ["changed the shape of W2 from (4, 1) to (4, 4)"]),
    "nan": ("failed", ["NaN or inf"]),
    "mutates_input": ("failed", ["modified T in place"]),
    "segfault": ("crashed", ["SIGSEGV"]),
    "complex_output": ("api", ["forward returned complex numbers"]),
}


@pytest.fixture(scope="module")
def submissions(tmp_path_factory) -> dict:
    return misbehaving.write(tmp_path_factory.mktemp("submissions"))


@pytest.fixture(scope="module")
def batch(submissions):
    assert set(submissions) == set(VERDICTS)
    paths = [str(p) for p in submissions.values()]
    return {Path(g.submission).stem: g for g in grade_many(paths, load("xor"), jobs=2, timeout_s=TIMEOUT_S,
                                                             memory_mb=1024)}


@pytest.mark.parametrize("name", list(VERDICTS))
def test_each_misbehaviour_gets_its_own_verdict(name, batch):
    g = batch[name]
    status, fragments = VERDICTS[name]
    assert g.status == status, f"{name}: {g.status}: {g.problem}"
    for fragment in fragments:
        assert fragment in g.problem, f"{name}: {fragment!r} not in {g.problem!r}"
    if status == "passed":
        assert g.score == g.max_score == 40
    else:
        assert g.score < g.max_score


def test_partial_credit_survives_a_crash_in_the_update(batch):
    """`raises` fails in backward(): its forward pass and loss still earn their points."""
    checks = {(c.case, c.name): c for c in batch["raises"].checks}
    assert all(checks[(case, n)].passed for case, n in checks if n in ("forward", "loss"))
    assert not any(c.passed for (case, n), c in checks.items() if n.startswith("gradient"))
    assert batch["raises"].score == 8                # forward and loss: 1 point each, 4 cases


def test_import_time_work_is_reported(batch):
    assert any("importing the module took" in n and "__main__" in n for n in batch["trains_at_import_briefly"].notes)
    assert "trained:" in batch["trains_at_import_briefly"].stdout


def test_output_flood_is_truncated(batch):
    g = batch["floods_output"]
    assert any("truncated" in n for n in g.notes)
    assert len(g.stdout) < 25_000 and "bytes not shown" in g.stdout


def test_nan_is_diagnosed(batch):
    assert batch["nan"].diagnosis.primary == "nonfinite"


def test_input_mutation_costs_only_its_own_check(batch):
    failed = [c for c in batch["mutates_input"].checks if not c.passed]
    assert failed and all(c.name == "inputs unchanged" for c in failed)


def test_missing_file_is_a_verdict_not_a_crash(tmp_path):
    g = grade(str(tmp_path / "nope.py"), load("xor"))
    assert g.status == "missing" and "no such file" in g.problem and g.score == 0


# A child inherits an ignored SIGINT (and Python then installs no KeyboardInterrupt handler): the
# test runner may ignore it (tox does). Ctrl-C must reach the CLI, so the child restores it first.
_WITH_SIGINT = ("import runpy, signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler); "
                "sys.argv = {argv!r}; runpy.run_module('harness', run_name='__main__')")


def test_interrupted_batch_keeps_what_it_graded(tmp_path):
    """SIGINT mid-batch: exit promptly, the hanging child is killed, finished results are kept."""
    misbehaving.write(tmp_path, ["endless_loop", "good"])
    out = tmp_path / "results.json"
    argv = ["harness", "grade", str(tmp_path), "-a", "xor", "-j", "2", "--timeout", "120", "--json", str(out)]
    proc = subprocess.Popen([sys.executable, "-c", _WITH_SIGINT.format(argv=argv)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while time.time() < deadline and not (out.exists() and json.loads(out.read_text())["graded"] >= 1):
        if proc.poll() is not None:
            raise AssertionError(f"the batch ended early ({proc.returncode}): {proc.communicate()}")
        time.sleep(0.1)
    if not out.exists():
        proc.kill()
        raise AssertionError(f"no result was written while the batch ran: {proc.communicate()}")
    proc.send_signal(signal.SIGINT)
    start = time.time()
    _, err = proc.communicate(timeout=30)
    assert time.time() - start < 15
    assert proc.returncode == 130 and "interrupted: 1 of 2 graded" in err
    doc = json.loads(out.read_text())
    assert doc["complete"] is False and [s["status"] for s in doc["submissions"]] == ["passed"]


def _processes_with(marker: str) -> list[int]:
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if marker.encode() in cmdline.read_bytes():
                found.append(int(cmdline.parent.name))
        except OSError:
            pass
    return found


@pytest.mark.skipif(not Path("/proc/self/cmdline").exists(), reason="needs /proc (Linux)")
@pytest.mark.parametrize("mode", [m.value for m in isolation.Mode if not isolation.unavailable(m)])
def test_children_do_not_outlive_a_timeout(tmp_path, mode):
    """A submission that starts its own child process (here: one that would sleep for ever):
    the timeout kills every process it started, in every sandbox mode."""
    marker = f"bph-test-marker-{mode}-{time.time_ns()}"
    code = misbehaving.XOR + (
        f"\nimport subprocess, sys\nsubprocess.Popen([sys.executable, '-c', 'import time; time.sleep(1000)', {marker!r}])\n"
        "while True:\n    pass\n")
    (tmp_path / "spawner.py").write_text(code)
    seen = []
    watcher = threading.Thread(target=lambda: [seen.extend(_processes_with(marker)) or time.sleep(0.1)
                                               for _ in range(25)], daemon=True)
    watcher.start()
    g = grade(str(tmp_path / "spawner.py"), load("xor"), timeout_s=3, sandbox_mode=mode)
    watcher.join()
    assert g.status == "timeout", g.problem
    assert seen, "the submission's child never ran: this test proves nothing"
    time.sleep(0.5)
    assert not _processes_with(marker), "the submission's own child survived the timeout"


def test_closing_a_batch_early_stops_its_children_at_once(submissions):
    """Whatever the caller was doing when it stopped (an interrupt between two results), closing
    the batch kills the running child and starts no more: no waiting for the timeout."""
    paths = [str(submissions[n]) for n in ("endless_loop", "good", "nan")]
    batch = grade_many(paths, load("xor"), jobs=2, timeout_s=120)
    first = next(batch)
    assert first.status in ("passed", "failed")
    start = time.time()
    batch.close()
    assert time.time() - start < 10
