"""How far a submission's process is shut off from everything else: the sandbox modes.

    strict   bubblewrap (bwrap): own user, mount, PID, network, IPC and UTS namespaces, uid
             65534 inside, a new session, killed with the grader. It sees a read-only /usr,
             the Python standard library, numpy, the minimal runner (the few harness modules
             the child needs: no spec math, no reference solution, no assignment file), a
             read-only private copy of its own submission, a private /tmp, and its own results
             folder; nothing else of the machine, no network, an allow-listed environment.
    uid      where bwrap cannot run but the grader is root (a Docker container such as
             Gradescope's): the child runs under its own unprivileged uid (one per concurrent
             submission), so it cannot signal the grader or other submissions, nor write what
             the grader writes. It can still read whatever is world-readable.
    process  today's process sandbox: same user, own session; hangs, floods and exits are
             contained, adversaries are not.

In every mode: memory and process count are limited for the whole submission by cgroups (v1
memory and pids controllers) where the grader may create them, and every process left in its
cgroup is killed at the end (daemons included); per process, the child caps its address
space, file size and CPU time before importing the submission.
"""
from __future__ import annotations

import functools
import itertools
import os
import shutil
import subprocess
import sys
import threading
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

from .environment import HEADLESS_ENV, Offered

RUNNER_MODULES = ("__init__.py", "core/__init__.py", "core/layer_kinds.py", "core/npz.py", "core/params.py",
                  "core/parsing.py", "core/run.py", "core/spec.py", "drive/__init__.py", "drive/adapter.py",
                  "drive/layer_driver.py",
                  "drive/objects.py", "drive/problems.py", "drive/protocol.py", "drive/runner.py",
                  "grade/__init__.py", "grade/child.py")
HARNESS_DIR = Path(__file__).resolve().parent.parent
NOBODY = 65534
UID_BASE = 61000                     # uid mode: one uid per concurrently graded submission
MAX_PROCESSES = 64
COPY_LIMIT_BYTES = 5_000_000         # a submission's own files copied into its sandbox


class Mode(str, Enum):
    STRICT = "strict"
    UID = "uid"
    PROCESS = "process"

    def __str__(self) -> str:
        return self.value


PROTECTS = {
    Mode.STRICT: "the grader, other submissions, the harness's math, reference solutions, the assignment file, "
                 "the network and the grader's environment are out of the submission's reach; its processes die with it; "
                 "it can read its own inputs (the hidden cases' weights and batches included)",
    Mode.UID: "the submission runs under its own uid: it cannot signal or write to the grader or other submissions; "
              "it can read world-readable files (the harness, reference solutions, other submissions if readable)",
    Mode.PROCESS: "hangs, floods, exits and stray processes are contained; the submission runs as the grader's user "
                  "and can read, write and signal what the grader can: not a defence against a hostile student",
}


class SandboxUnavailable(RuntimeError):
    """The requested sandbox mode cannot run on this machine (the message says why)."""


# --- what each mode needs, probed once per process -----------------------------------------
def _python() -> str:
    return os.path.realpath(sys.executable)


def _numpy_dirs() -> list[Path]:
    import numpy
    root = Path(numpy.__file__).resolve().parent
    return [p for p in (root, root.parent / "numpy.libs") if p.exists()]


def bwrap_argv(layout: Workspace) -> list[str]:
    """The bwrap command line around the child (strict mode)."""
    prefix = Path(sys.base_prefix).resolve()
    site = Path(sys.base_prefix) / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}" / "site-packages"
    argv = [shutil.which("bwrap") or "bwrap", "--unshare-all", "--die-with-parent", "--new-session", "--uid", str(NOBODY),
            "--gid", str(NOBODY), "--clearenv", "--ro-bind", "/usr", "/usr", "--proc", "/proc", "--dev", "/dev",
            "--tmpfs", "/tmp", "--chdir", "/tmp"]
    for name in ("bin", "lib", "lib64", "sbin"):
        path = Path("/") / name
        if path.is_symlink():
            argv += ["--symlink", os.readlink(path), str(path)]
        elif path.is_dir():
            argv += ["--ro-bind", str(path), str(path)]
    argv += ["--ro-bind", str(prefix), str(prefix)]
    argv += ["--ro-bind-try", "/etc/fonts", "/etc/fonts"]   # font configuration only: matplotlib's text, quietly
    if site.resolve().is_dir():
        argv += ["--tmpfs", str(site.resolve())]
    for entry in sorted(layout.pylib.iterdir()):
        argv += ["--ro-bind", os.path.realpath(entry), f"/pylib/{entry.name}"]
    argv += ["--ro-bind", str(layout.runner), "/runner", "--ro-bind", str(layout.sub), "/sub",
             "--ro-bind", str(layout.support), "/support", "--ro-bind", str(layout.inputs), "/in",
             "--bind", str(layout.out), "/out"]
    for key, value in layout.child_env(Mode.STRICT).items():
        argv += ["--setenv", key, value]
    return argv


@functools.cache
def unavailable(mode: Mode) -> str | None:
    """Why `mode` cannot run here (None: it can). Each is probed by really running Python with
    numpy under it once."""
    if mode is Mode.PROCESS:
        return None
    if os.name != "posix":
        return "needs Linux"
    if mode is Mode.STRICT and shutil.which("bwrap") is None:
        return "bubblewrap is not installed (Debian/Ubuntu: apt-get install bubblewrap)"
    if mode is Mode.UID and os.geteuid() != 0:
        return "needs the grader to run as root (to start the child under another uid)"
    with Workspace("probe") as layout:
        (layout.sub / "probe.py").write_text("")
        code = "import sys; sys.path[:0] = [sys.argv[1]]; import numpy; print(numpy.__version__)"
        argv = layout.python_argv(mode, ["-c", code, layout.seen(mode, layout.pylib, "/pylib")])
        try:
            proc = subprocess.run(argv, capture_output=True, text=True, timeout=30, cwd=layout.cwd(mode),
                                  **layout.popen_kwargs(mode, slot=0))
        except PermissionError:
            return f"{_python()} cannot be run by another user (it lies in a private folder such as /root)"
        except (OSError, subprocess.SubprocessError) as exc:
            return f"the probe could not start: {exc}"
    if proc.returncode != 0:
        return f"the probe failed: {(proc.stderr or proc.stdout).strip().splitlines()[-1:] or proc.returncode}"
    return None


def choose(requested: str) -> Mode:
    """`auto`: the strongest mode this machine allows; a named mode, or SandboxUnavailable."""
    if requested == "auto":
        return next(m for m in Mode if unavailable(m) is None)
    try:
        mode = Mode(requested)
    except ValueError:
        raise SandboxUnavailable(f"unknown sandbox {requested!r}; valid: auto, "
                                 f"{', '.join(m.value for m in Mode)}") from None
    why = unavailable(mode)
    if why:
        raise SandboxUnavailable(f"the {mode.value} sandbox cannot run here: {why}")
    return mode


# --- one submission's private folders ------------------------------------------------------
_slots = itertools.count()
_slot_lock = threading.Lock()
_free_slots: list[int] = []


@functools.cache
def _shared(modules: tuple[str, ...]) -> Path:
    """One read-only folder per grader process for what every child loads: the minimal runner
    (byte-compiled once: a child writes no .pyc, and compiling a dozen modules in each of them
    would cost more than the sandbox)."""
    import compileall
    root = _private_root("bph-runner-")
    for rel in modules:
        target = root / "runner" / "harness" / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(HARNESS_DIR / rel, target)
    (root / "runner" / "run_child.py").write_text(
        "import sys\nsys.path[:0] = sys.argv[1:3]\nfrom harness.grade.child import child_main\n"
        "child_main(sys.argv[3:])\n")
    compileall.compile_dir(root / "runner", quiet=1)
    _readable_tree(root)
    return root / "runner"


@functools.cache
def _pylib(entries: tuple[Path, ...]) -> Path:
    """One read-only folder per environment: numpy and the assignment's declared packages
    (harness.grade.environment), each a link to the grader's own installation."""
    root = _private_root("bph-pylib-")
    for path in (*_numpy_dirs(), *entries):
        if not (root / path.name).exists():
            (root / path.name).symlink_to(path)
    _readable_tree(root)
    return root


def _private_root(prefix: str) -> Path:
    import atexit
    import tempfile
    root = Path(tempfile.mkdtemp(prefix=prefix))
    atexit.register(shutil.rmtree, root, ignore_errors=True)
    return root


class Workspace:
    """A submission's folders: runner (the minimal harness) and pylib (numpy and the course's
    packages), shared and read-only; sub (its own copy of the submission), support (a copy of the assignment's support
    modules, read-only to the child), in (the job's arrays), out (what the child writes back),
    tmp: its own."""

    def __init__(self, prefix: str, offered: Offered | None = None):
        import tempfile
        offered = offered or Offered()
        self.runner, self.pylib = _shared(RUNNER_MODULES), _pylib(offered.entries)
        self.root = Path(tempfile.mkdtemp(prefix=f"bph-{prefix}-"))
        self.sub, self.support, self.inputs, self.out, self.tmp = (self.root / n for n in
                                                                    ("sub", "support", "in", "out", "tmp"))
        for d in (self.sub, self.support, self.inputs, self.out, self.tmp):
            d.mkdir()
        self.env = {**_allowed_env(), **(HEADLESS_ENV if offered.entries else {})}
        self.root.chmod(0o711)

    def __enter__(self) -> Workspace:
        return self

    def __exit__(self, *exc) -> None:
        if self.out_mounted:
            _umount(self.out)
        shutil.rmtree(self.root, ignore_errors=True)

    out_mounted = False

    def limit_out(self, max_bytes: int) -> bool:
        """Make `out` a tmpfs of `max_bytes` (as root): the child cannot fill the disk with many
        files each under its file-size limit. False where it cannot be mounted."""
        self.out_mounted = _mount_tmpfs(self.out, max_bytes)
        return self.out_mounted

    # --- paths as the child sees them
    def seen(self, mode: Mode, real: Path, inside: str) -> str:
        return inside if mode is Mode.STRICT else str(real)

    def cwd(self, mode: Mode) -> str:
        return str(self.tmp)      # strict: bwrap itself chdirs to its private /tmp

    def python_argv(self, mode: Mode, args: list[str]) -> list[str]:
        argv = [_python(), "-I", "-S", *args]
        if mode is Mode.STRICT:
            return bwrap_argv(self) + argv
        return argv

    def child_argv(self, mode: Mode) -> list[str]:
        runner = self.seen(mode, self.runner, "/runner")
        return self.python_argv(mode, [f"{runner}/run_child.py", runner, self.seen(mode, self.pylib, "/pylib"),
                                       self.seen(mode, self.out, "/out")])

    def child_env(self, mode: Mode) -> dict:
        return dict(self.env, HOME=self.seen(mode, self.tmp, "/tmp"), TMPDIR=self.seen(mode, self.tmp, "/tmp"))

    def popen_kwargs(self, mode: Mode, slot: int) -> dict:
        if mode is Mode.STRICT:
            return {"env": {}}                      # bwrap sets the child's environment itself
        if mode is Mode.PROCESS:
            return {"env": self.child_env(mode)}
        uid = UID_BASE + slot
        for path in (self.sub, self.support, self.inputs):
            _readable_tree(path)
        for path in (self.out, self.tmp):
            os.chown(path, uid, uid)
        return {"env": self.child_env(mode), "user": uid, "group": uid, "extra_groups": []}

    def copy_support(self, folder: str | None) -> list[str]:
        """The assignment's support modules (the course's helper package) copied into `support`;
        the sys.path entries the child needs for them, as it sees them."""
        if not folder:
            return []
        shutil.copytree(folder, self.support, dirs_exist_ok=True,
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc", ".*"))
        return ["support"]

    def copy_submission(self, submission: Path, private_folder: bool) -> Path:
        """The submission (and, when its folder is its own, the .py files and packages beside it)
        copied into `sub`; returns the copy's path as the child will see it, relative to sub."""
        shutil.copyfile(submission, self.sub / submission.name)
        if private_folder:
            budget = COPY_LIMIT_BYTES
            for path in sorted(submission.parent.rglob("*.py")):
                rel = path.relative_to(submission.parent)
                if path == submission or any(part.startswith(".") for part in rel.parts) or \
                        (len(rel.parts) > 1 and not (submission.parent / rel.parts[0] / "__init__.py").exists()):
                    continue
                budget -= path.stat().st_size
                if budget < 0:
                    break
                (self.sub / rel).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(path, self.sub / rel)
        return Path(submission.name)


def _libc():
    import ctypes
    import ctypes.util
    return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)


def _mount_tmpfs(path: Path, max_bytes: int) -> bool:
    if os.name != "posix" or os.geteuid() != 0:
        return False
    options = f"size={max(max_bytes, 1 << 20)},mode=0755".encode()
    try:
        return _libc().mount(b"tmpfs", str(path).encode(), b"tmpfs", 0, options) == 0
    except OSError:
        return False


def _umount(path: Path) -> None:
    _libc().umount2(str(path).encode(), 2)          # MNT_DETACH: gone even if a file is still open


def _readable_tree(root: Path) -> None:
    os.chmod(root, 0o755)
    for path in root.rglob("*"):
        if not path.is_symlink():
            os.chmod(path, 0o755 if path.is_dir() else 0o644)


def _allowed_env() -> dict:
    """The child's whole environment: nothing of the grader's but numeric settings."""
    env = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "PYTHONHASHSEED": "0", "PYTHONDONTWRITEBYTECODE": "1",
           "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    for key in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):     # correctness settings of this machine's BLAS
        if key in os.environ:
            env[key] = os.environ[key]
    return env


def take_slot() -> int:
    with _slot_lock:
        return _free_slots.pop() if _free_slots else next(_slots)


def give_slot(slot: int) -> None:
    with _slot_lock:
        _free_slots.append(slot)


# --- whole-submission limits ---------------------------------------------------------------
@dataclass
class Cgroups:
    """cgroup v1 memory and pids groups for one submission, below the grader's own; empty
    (`paths == []`) where they cannot be made."""
    paths: list

    @staticmethod
    def make(name: str, memory_mb: int, max_processes: int = MAX_PROCESSES) -> Cgroups:
        made = []
        for controller, limits in (("memory", {"memory.limit_in_bytes": memory_mb * 1024 * 1024,
                                               "memory.swappiness": 0}),
                                   ("pids", {"pids.max": max_processes})):
            base = _own_cgroup(controller)
            if base is None:
                continue
            path = base / name
            try:
                path.mkdir()
                for key, value in limits.items():
                    if (path / key).exists():
                        (path / key).write_text(str(value))
            except OSError:
                _remove(path)
                continue
            made.append(path)
        return Cgroups(made)

    def wrap(self, argv: list[str], uid: int | None = None) -> list[str]:
        """argv started by a shell that first moves itself into the groups, so that every
        process the submission starts is in them from its first instruction."""
        if not self.paths:
            return argv
        procs = [str(p / "cgroup.procs") for p in self.paths]
        if uid is not None:
            for path in procs:
                os.chown(path, uid, uid)
        joins = "; ".join(f'echo $$ > "${i + 1}"' for i in range(len(procs)))
        return ["/bin/sh", "-c", f'{joins} || exit 97; shift {len(procs)}; exec "$@"', "sh", *procs, *argv]

    def kill_all(self) -> None:
        import signal
        for _ in range(50):
            pids = {int(p) for path in self.paths for p in _read(path / "cgroup.procs").split()}
            if not pids:
                return
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
            threading.Event().wait(0.02)

    def remove(self) -> None:
        self.kill_all()
        for path in self.paths:
            _remove(path)

    def hit_memory_limit(self) -> bool:
        return any(_read(p / "memory.failcnt").strip() not in ("", "0") for p in self.paths)


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError:
        return ""


def _remove(path: Path) -> None:
    for _ in range(50):
        try:
            path.rmdir()
            return
        except FileNotFoundError:
            return
        except OSError:
            threading.Event().wait(0.02)


def _own_cgroup(controller: str) -> Path | None:
    mount = Path("/sys/fs/cgroup") / controller
    if not (mount / "cgroup.procs").exists():
        return None
    for line in _read(Path("/proc/self/cgroup")).splitlines():
        _, controllers, rel = line.split(":", 2)
        if controller in controllers.split(","):
            path = mount / rel.lstrip("/")
            return path if os.access(path, os.W_OK) else None
    return None
