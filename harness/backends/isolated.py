"""Backends that cannot share this process: one process holds one Keras (Keras 3 on jax, on
torch, or Keras 2 through tf-keras, beside the in-process Keras on TensorFlow). Each runs in one
long-lived child process, started on first use with the environment its flavour needs;
requests and Runs cross as .npz files (harness.core.run.save_run/load_run), one line per request.

    python -m harness.backends.isolated      (the child; its flavour comes from the environment)
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

from ..core import npz
from ..core.run import Run, load_run, save_run
from ..core.spec import Spec
from .base import Backend


class ChildFailed(RuntimeError):
    """The child process of an isolated backend died or could not run a request."""


class Isolated(Backend):
    """A backend whose framework runs in its own long-lived child process. close() ends the
    child and removes its folder; the registry closes every one at exit."""
    trainable = False

    def __init__(self, name: str, env: dict, defaults: dict | None = None):
        self.name, self.env, self.defaults = name, env, defaults or {}
        self._proc = None
        self._lock = threading.Lock()
        self._dir = None
        self._info = None

    def _start(self):
        self._dir = Path(tempfile.mkdtemp(prefix=f"bph-{self.name}-"))
        from ..core.childenv import harness_env
        env = harness_env({**{k: v for k, v in self.defaults.items() if k not in os.environ}, **os.environ,
                           **self.env})
        self._log = open(self._dir / "stderr.log", "w+")  # noqa: SIM115 - closed in close()
        self._proc = subprocess.Popen([sys.executable, "-m", "harness.backends.isolated"], env=env, text=True,
                                      stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._log)

    def _ask(self, request: dict) -> dict:
        with self._lock:
            if self._proc is None:
                self._start()
            try:
                self._proc.stdin.write(json.dumps(request) + "\n")
                self._proc.stdin.flush()
                line = self._proc.stdout.readline()
            except (BrokenPipeError, OSError):
                line = ""
            if not line:
                self._log.seek(0)
                tail = self._log.read()[-1500:]
                self.close()
                raise ChildFailed(f"the {self.name} child process ended: {tail.strip() or 'no message'}")
            return json.loads(line)

    def run(self, spec: Spec, params, X, T) -> Run:
        from . import BackendUnavailable
        if self._proc is None:
            self._ask({"op": "ping"})
        job = self._dir / "job.npz"
        npz.write(job, {"X": X, "T": T, "p": params})
        reply = self._ask({"op": "run", "spec": spec.to_json(), "job": str(job), "out": str(self._dir / "run.npz")})
        if reply["status"] == "unavailable":
            raise BackendUnavailable(f"{self.name}: {reply['message']}")
        if reply["status"] == "error":
            raise ChildFailed(reply["message"])
        return load_run(self._dir / "run.npz", reply["meta"])

    def _describe(self) -> dict:
        if self._info is None:
            reply = self._ask({"op": "info"})
            self._info = reply if reply["status"] == "ok" else {"versions": {}, "settings": {}}
        return self._info

    def versions(self) -> dict:
        return self._describe()["versions"]

    def settings(self) -> dict:
        return self._describe()["settings"]

    def close(self):
        if self._proc is not None:
            self._proc.kill()
            self._proc.wait()
            self._proc = None
            self._log.close()
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None


# --- the child -----------------------------------------------------------------------------
def child_main() -> int:
    proto = os.fdopen(os.dup(1), "w")        # replies; whatever the frameworks print goes to stderr
    os.dup2(2, 1)
    try:
        from .keras_backend import create
        backend, failure = create(), None
    except Exception as exc:                  # noqa: BLE001 - reported per request
        backend, failure = None, f"import failed: {type(exc).__name__}: {exc}"

    def reply(**kw):
        proto.write(json.dumps(kw, default=str) + "\n")
        proto.flush()

    for line in sys.stdin:
        request = json.loads(line)
        if request["op"] == "ping":
            reply(status="ok")
        elif failure:
            reply(status="unavailable", message=failure)
        elif request["op"] == "info":
            reply(status="ok", versions=backend.versions(), settings=backend.settings())
        else:
            try:
                data = npz.read(request["job"])
                params, X, T = npz.group(data, "p"), data["X"], data["T"]
                run = backend.run(Spec.from_json(request["spec"]), params, X, T)
                reply(status="ok", meta=save_run(run, Path(request["out"])))
            except Exception as exc:          # noqa: BLE001
                reply(status="error", message=f"{type(exc).__name__}: {exc}")
    return 0


if __name__ == "__main__":
    sys.exit(child_main())
