"""The grader under attack: every hostile submission in tests/attacks/ graded in one batch beside
correct submissions, in the strongest sandbox this machine allows (CI installs bubblewrap, so
there it is `strict`). Each attack must fail to earn points or to harm anything: classmates
keep full marks, the batch finishes, no file outside the submission changes, nothing it started
survives, no secret reaches any output."""
import hashlib
import json
import shutil
import socket
import tempfile
import threading
import time
from pathlib import Path

import pytest

import harness
import reference_impls
from harness.cli import main
from harness.grade import isolation

from . import misbehaving

ATTACKS = Path(__file__).parent / "attacks"
ATTACK_NAMES = sorted(p.stem for p in ATTACKS.glob("*.py") if not p.name.startswith("_"))
MODE = next(m for m in isolation.Mode if not isolation.unavailable(m))
STRICT = MODE is isolation.Mode.STRICT
SECRET = "bph-secret-7f3a9c-do-not-leak"
PORT = 47613                                      # tests/attacks/network.py connects here
# Attacks that would really hurt this machine (or this test run) outside the strict sandbox.
NEEDS_STRICT = {"kill_grader", "sabotage_classmates", "read_secrets", "network", "call_harness_math",
                "steal_reference", "fill_disk"}
# What the tripwire must flag, in any mode (file -> a fragment of one of its flags).
FLAGGED = {"steal_reference": "imports reference_impls.xor", "call_harness_math": "imports harness.core",
           "daemon": "uses os.setsid", "kill_grader": "imports signal", "patch_the_runner": "reads or patches sys.modules",
           "forge_results": "the string 'events.jsonl'", "network": "imports socket"}


def _digest(root: Path) -> dict:
    return {str(p): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(root.rglob("*"))
            if p.is_file() and "__pycache__" not in p.parts and ".pytest_cache" not in p.parts}


def _processes_with(marker: bytes) -> list[int]:
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if marker in cmdline.read_bytes():
                found.append(int(cmdline.parent.name))
        except OSError:
            pass
    return found


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    folder = tmp_path_factory.mktemp("class")
    names = list(ATTACK_NAMES)
    if not STRICT:
        names = [n for n in names if n not in NEEDS_STRICT]
    net = (ATTACKS / "_no_backprop.py").read_text()
    for name in names:                                     # the net, then the attack (which may replace it)
        (folder / f"{name}.py").write_text(net + "\n\n" + (ATTACKS / f"{name}.py").read_text())
    for i in range(2):                                    # correct classmates, in the same folder
        (folder / f"classmate_{i}.py").write_text(misbehaving.XOR)
    watched = {"batch folder": folder, "harness": Path(harness.__file__).parent,
               "reference_impls": Path(reference_impls.__file__).parent}
    before = {k: _digest(v) for k, v in watched.items()}
    free_before = shutil.disk_usage(tempfile.gettempdir()).free
    received = []
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", PORT))
    server.listen()
    server.settimeout(0.2)

    def listen():
        end = time.time() + 60
        while time.time() < end and not stop.is_set():
            try:
                conn, _ = server.accept()
                received.append(conn.recv(100))
                conn.close()
            except OSError:
                pass
    stop = threading.Event()
    listener = threading.Thread(target=listen, daemon=True)
    listener.start()
    out = folder.parent / f"{folder.name}-results"
    out.mkdir()
    results, gradescope = out / "results.json", out / "gradescope"
    mp = pytest.MonkeyPatch()
    mp.setenv("BPH_TEST_SECRET", SECRET)
    assignment = folder.parent / "xor-attacks.toml"
    text = (Path(harness.__file__).parent / "drive" / "assignments" / "xor.toml").read_text()
    assignment.write_text(text.replace("timeout_s = 60", "timeout_s = 8").replace("memory_mb = 2048", "memory_mb = 768"))
    try:
        code = main(["grade", str(folder), "--assignment", str(assignment), "--jobs", "2", "--json", str(results),
                     "--gradescope", str(gradescope), "--sandbox", MODE.value])
    finally:
        mp.undo()
        stop.set()
        listener.join()
        server.close()
    time.sleep(1.0)                                       # time for anything left behind to act
    after = {k: _digest(v) for k, v in watched.items()}
    disk_free_drop = free_before - shutil.disk_usage(tempfile.gettempdir()).free
    doc = json.loads(results.read_text())
    return {"code": code, "doc": doc, "by_name": {Path(s["submission"]).stem: s for s in doc["submissions"]},
            "before": before, "after": after, "disk_free_drop": disk_free_drop, "received": received, "names": names,
            "gradescope": gradescope, "results": results}


def test_the_batch_finishes_and_grades_everyone(batch):
    assert batch["doc"]["complete"] is True
    assert set(batch["by_name"]) == set(batch["names"]) | {"classmate_0", "classmate_1"}
    assert batch["code"] in (0, 1), "the batch must end on its own terms (1: some did not pass)"


def test_classmates_keep_full_marks(batch):
    for i in range(2):
        s = batch["by_name"][f"classmate_{i}"]
        assert s["status"] == "passed" and s["score"] == s["max_score"], s["problem"]


@pytest.mark.parametrize("name", ATTACK_NAMES)
def test_no_attack_earns_a_point_from_the_gradients(batch, name):
    if name not in batch["names"]:
        pytest.skip(f"{name} needs the strict sandbox; the strongest here is {MODE.value}: "
                    f"{isolation.unavailable(isolation.Mode.STRICT)}")
    s = batch["by_name"][name]
    gradient_points = sum(c["score"] for c in s["checks"] if c["kind"] == "gradient")
    assert gradient_points == 0 and s["status"] != "passed", f"{name}: {s['status']} {s['score']}/{s['max_score']}"


def test_nothing_outside_the_submissions_changed(batch):
    for what in batch["before"]:
        changed = {k for k in batch["before"][what].keys() | batch["after"][what].keys()
                   if batch["before"][what].get(k) != batch["after"][what].get(k)}
        assert not changed, f"{what}: {sorted(changed)[:5]}"


def test_the_disk_is_not_filled(batch):
    """fill_disk writes 1 MB files until it is refused: its results folder is a tmpfs sized for
    its results, its /tmp counts against its memory."""
    if "fill_disk" not in batch["names"]:
        pytest.skip(f"fill_disk needs the strict sandbox (here: {MODE.value})")
    assert batch["disk_free_drop"] < 200 * 1024 * 1024, batch["disk_free_drop"]


def test_nothing_it_started_survives(batch):
    assert not _processes_with(b"bph-attack-daemon-marker")


def test_the_results_files_are_the_graders(batch):
    """Written by the grader alone, after the attacks: valid and consistent with each other."""
    for s in batch["doc"]["submissions"]:
        g = json.loads((batch["gradescope"] / f"{Path(s['submission']).stem}.json").read_text())
        assert g["score"] == s["score"]


def test_no_secret_reaches_any_output(batch):
    texts = [batch["results"].read_text()] + [p.read_text() for p in batch["gradescope"].glob("*.json")]
    assert not any(SECRET in t for t in texts)


@pytest.mark.skipif(not STRICT, reason=f"the network is cut off in the strict sandbox only (here: {MODE.value})")
def test_no_network(batch):
    assert batch["received"] == []


@pytest.mark.skipif(not STRICT, reason=f"memory across processes is shown in the strict sandbox (here: {MODE.value})")
def test_memory_is_limited_for_the_whole_submission(batch):
    s = batch["by_name"]["memory_across_forks"]
    probe = isolation.Cgroups.make(f"bph-probe-{time.time_ns()}", 256)
    probe.remove()
    if not probe.paths:
        pytest.skip("cgroups cannot be made here: the memory cap is per process only")
    assert "3 of 3 children held" not in s["problem"], s["problem"]


def test_the_tripwire_flags_for_staff(batch):
    for name, fragment in FLAGGED.items():
        if name in batch["names"]:
            flags = batch["by_name"][name]["staff_flags"]
            assert any(fragment in f for f in flags), f"{name}: {flags}"
    assert batch["by_name"]["classmate_0"]["staff_flags"] == []


ORACLES = ("core/layer_math.py", "core/net.py", "core/losses.py", "core/activations.py")


def test_no_answer_key_is_shipped_into_the_sandbox():
    """The child's minimal runner holds records and plumbing only: no module that computes what a
    layer or net must return, and none of its modules imports one when it loads."""
    import ast
    assert not set(ORACLES) & set(isolation.RUNNER_MODULES)
    for module in isolation.RUNNER_MODULES:
        tree = ast.parse((isolation.HARNESS_DIR / module).read_text())
        top = [n for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))]
        names = {(n.module or "") for n in top if isinstance(n, ast.ImportFrom)} | {a.name for n in top
                                                                                   if isinstance(n, ast.Import)
                                                                                   for a in n.names}
        assert not {o.removesuffix(".py").split("/")[-1] for o in ORACLES} & {n.split(".")[-1] for n in names}, module


LAYER_FORGERY = '''

def affine_backward(dout, cache):           # no backprop: ask the grader's own answer key
    x, w, b = cache
    import numpy as np
    from harness.core.layer_math import layer_expected
    from harness.core.layer_kinds import LayerCase
    case = LayerCase("affine", x.shape[0], int(np.prod(x.shape[1:])), w.shape[1], x_dims=tuple(x.shape[1:]))
    e = layer_expected(case, {"x": x, "w": w, "b": b, "dout": dout})
    return e["dx"], e["dw"], e["db"]
'''


@pytest.mark.skipif(not STRICT, reason="only the strict sandbox keeps the harness out of the submission's reach")
def test_a_layer_submission_cannot_copy_the_answer_key(tmp_path):
    from harness.drive.assignment import load
    from harness.grade.batch import grade
    solution = (Path(__file__).parent / "course_nets" / "cs231n_layers.py").read_text()
    (tmp_path / "layers.py").write_text(solution + LAYER_FORGERY)
    g = grade(str(tmp_path / "layers.py"), load("cs231n_layers"), sandbox_mode="strict")
    stolen = [c for c in g.checks if c.id.short.startswith("affine.")]
    assert stolen and not any(c.passed for c in stolen), g.problem
    assert "No module named 'harness.core.layer_math'" in "\n".join(c.output for c in stolen)
    assert any(c.passed for c in g.checks if c.id.short.startswith("relu")), "the rest is still graded"
