"""One child process with a wall-clock timeout and captured, truncated output.

The child runs in its own session (process group), so a timeout kills everything it started;
stdout and stderr are drained by threads as they come, keeping the first `limit` bytes and a
short tail of each, so a flood of output neither blocks the child nor fills the parent's memory.
The memory cap is set by the child itself (harness.grade.child), before it imports student code.
"""
from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from dataclasses import dataclass

TAIL = 2000


@dataclass(frozen=True)
class Captured:
    text: str              # the first `limit` bytes (and, when truncated, the last TAIL bytes)
    total_bytes: int
    truncated: bool


@dataclass(frozen=True)
class Finished:
    returncode: int | None
    timed_out: bool
    seconds: float
    stdout: Captured
    stderr: Captured

    @property
    def signal_name(self) -> str | None:
        if self.returncode is not None and self.returncode < 0:
            try:
                return signal.Signals(-self.returncode).name
            except ValueError:
                return f"signal {-self.returncode}"
        return None


class _Drain(threading.Thread):
    def __init__(self, stream, limit: int):
        super().__init__(daemon=True)
        self.stream, self.limit = stream, limit
        self.head, self.tail, self.total = bytearray(), b"", 0

    def run(self):
        while True:
            chunk = self.stream.read1(65536)
            if not chunk:
                break
            self.total += len(chunk)
            room = max(self.limit - len(self.head), 0)
            self.head += chunk[:room]
            if len(chunk) > room:
                self.tail = (self.tail + chunk[room:])[-TAIL:]

    def captured(self) -> Captured:
        after = self.total - len(self.head)          # bytes beyond the head; the tail keeps the last ones
        skipped = after - len(self.tail)
        text = self.head.decode("utf-8", "replace")
        if skipped:
            text += f"\n[... {skipped:,} bytes not shown ...]\n"
        text += self.tail.decode("utf-8", "replace")
        return Captured(text, self.total, after > 0)


def run(argv, *, timeout_s: float, cwd: str, env: dict, limit: int = 20000,
        stop: threading.Event | None = None, stdin: bytes = b"", **popen) -> Finished:
    """Run to the end, the timeout, or until `stop` is set (then nothing starts either).
    `stdin` is written to the child's standard input, which is then closed; `popen` passes on
    (user=, group=, extra_groups= for the uid sandbox)."""
    start = time.perf_counter()
    stop = stop or threading.Event()
    if stop.is_set():
        return Finished(None, False, 0.0, Captured("", 0, False), Captured("interrupted before it started", 0, False))
    proc = subprocess.Popen(argv, cwd=cwd, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, start_new_session=True, **popen)
    drains = [_Drain(proc.stdout, limit), _Drain(proc.stderr, limit)]
    for d in drains:
        d.start()
    threading.Thread(target=_feed, args=(proc.stdin, stdin), daemon=True).start()
    ended = threading.Event()
    timed_out = threading.Event()

    def watch():                     # the timeout, or `stop`: kill; the blocking wait() below sees it at once
        deadline = start + timeout_s
        while not ended.wait(0.05):
            if stop.is_set() or time.perf_counter() > deadline:
                if not stop.is_set():
                    timed_out.set()
                if proc.returncode is None:
                    _kill_group(proc, reap=False)
                return
    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        proc.wait()
    finally:                         # the parent interrupted: nothing may outlive us
        ended.set()
        _kill_group(proc)
    for d in drains:
        d.join(timeout=5)
    gone = timed_out.is_set()
    return Finished(None if gone else proc.returncode, gone, time.perf_counter() - start,
                    drains[0].captured(), drains[1].captured())


def _feed(pipe, data: bytes) -> None:
    try:
        pipe.write(data)
    except OSError:                  # the child exited without reading it all
        pass
    finally:
        try:
            pipe.close()
        except OSError:
            pass


def _kill_group(proc: subprocess.Popen, reap: bool = True) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    if reap:
        proc.wait()
