"""Ctrl-C at any moment of a one-file `harness grade` leaves nothing behind: no student process
(the busy loop below would otherwise spin until its timeout), no temp folder, and the grader exits
promptly with a one-line message (issue 15, item 3). Run in a loop, the interrupt landing at
seeded random moments: while the sandbox is made, while the child imports, while it runs."""
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

BUSY = "import time\nwhile True:\n    sum(range(1000))\n"


def _runners() -> set[int]:
    found = set()
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if b"run_child.py" in cmdline.read_bytes():
                found.add(int(cmdline.parent.name))
        except OSError:
            pass
    return found


@pytest.mark.skipif(not Path("/proc/self/cmdline").exists(), reason="needs /proc (Linux)")
def test_ctrl_c_during_a_one_file_grade_leaves_no_process_and_no_temp_folder(tmp_path):
    rng = np.random.default_rng(1515)
    (tmp_path / "busy.py").write_text(BUSY)
    before = _runners()
    for attempt in range(8):
        tmp = tmp_path / f"tmp{attempt}"
        tmp.mkdir()
        env = dict(os.environ, TMPDIR=str(tmp))
        proc = subprocess.Popen([sys.executable, "-m", "harness", "grade", str(tmp_path / "busy.py"), "-a", "xor",
                                 "--timeout", "120"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        delay = float(rng.uniform(0.3, 3.0))
        time.sleep(delay)
        proc.send_signal(signal.SIGINT)
        try:
            _, err = proc.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            pytest.fail(f"attempt {attempt} (seed 1515, SIGINT after {delay:.2f} s): the grader did not exit in 20 s")
        time.sleep(0.5)
        left = _runners() - before
        assert not left, f"attempt {attempt} (SIGINT after {delay:.2f} s): student processes left: {sorted(left)}"
        assert not list(tmp.iterdir()), f"attempt {attempt} (SIGINT after {delay:.2f} s): left {list(tmp.iterdir())}"
        lines = err.decode().strip().splitlines()
        assert "Traceback" not in err.decode(), err.decode()
        assert lines and "interrupted" in lines[-1], err.decode()
