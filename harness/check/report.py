"""Rendering a check Report: the header of versions and numeric settings, the table, the
mismatch messages, and the JSON form. One place, used by the CLI and the pytest plugin."""
from __future__ import annotations

import dataclasses
import json
import os
import platform

import numpy as np

from .. import __version__
from .. import backends as backend_registry
from ..core.run import STAGES
from ..core.tolerance import RTOL
from .gradcheck import FD_RTOL
from .matrix import CheckSettings, Report, Row, Status


def environment(backend_names, load: bool = False) -> dict:
    """Versions and numeric settings of everything a run used (importing only loaded backends,
    or every available one with load=True)."""
    env = {"harness": __version__, "python": platform.python_version(), "numpy": np.__version__,
           "platform": platform.platform(terse=True), "cpu_count": os.cpu_count(),
           "TF_ENABLE_ONEDNN_OPTS": os.environ.get("TF_ENABLE_ONEDNN_OPTS", "unset"),
           "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "unset"),
           "rtol": {**RTOL, "fd": FD_RTOL}, "backends": {}}
    for name in backend_names:
        if name not in backend_registry.BACKENDS:         # assert_backprop's "yours"
            env["backends"][name] = "the code under test"
            continue
        reason = backend_registry.missing_reason(name)
        if reason or not (load or backend_registry.loaded(name)):
            env["backends"][name] = f"not available ({reason})" if reason else "not loaded"
            continue
        try:
            mod = backend_registry.load(name)
            env["backends"][name] = {**mod.versions(), **mod.settings()}
        except Exception as exc:          # noqa: BLE001 - a framework that fails to import is a fact to report
            env["backends"][name] = f"not available ({exc})"
    return env


def header(settings: CheckSettings) -> str:
    env = settings.environment or environment(settings.backends)
    parts = [f"backprop-harness {env['harness']}", f"python {env['python']}", f"numpy {env['numpy']}"]
    for name in settings.backends:
        info = env["backends"].get(name)
        if isinstance(info, dict):
            extra = ", ".join(f"{k} {v}" for k, v in info.items() if k != "numpy")
            parts.append(f"{name}: {extra}" if extra else f"{name}: reference_impls")
        else:
            parts.append(f"{name}: {info}")
    rt = env["rtol"]
    numerics = [f"dtype {','.join(settings.dtypes)}", f"seed {settings.seed}",
                f"optimizer {settings.optimizer} x{settings.steps}",
                f"batch {settings.batch or 'spec default'}", f"cpus {env['cpu_count']}",
                f"OMP_NUM_THREADS={env['OMP_NUM_THREADS']}", f"TF_ENABLE_ONEDNN_OPTS={env['TF_ENABLE_ONEDNN_OPTS']}",
                f"rtol float64 {rt['float64']:.1e}, float32 {rt['float32']:.1e}, fd {rt['fd']:.0e}"]
    return " | ".join(parts) + "\n" + " | ".join(numerics)


def _row_label(row: Row) -> str:
    return f"{row.expected}~{row.actual}"


def table(report: Report) -> str:
    widths = (12, 10, 8, 14) + (18,) * len(STAGES)
    head = ("spec", "sizes", "dtype", "pair") + STAGES
    lines = ["  ".join(h.ljust(w) for h, w in zip(head, widths, strict=True)).rstrip()]
    for row in report.rows:
        vals = (row.spec.name, "-".join(map(str, row.spec.sizes)), row.spec.dtype, _row_label(row)) + \
               tuple(row.cells[s].text() for s in STAGES)
        lines.append("  ".join(v.ljust(w) for v, w in zip(vals, widths, strict=True)).rstrip())
    return "\n".join(lines)


def details(report: Report, verbose: bool = False) -> str:
    out, seen = [], set()
    for row in report.rows:
        for m in row.mismatches:
            out.append(m.message())
        reasons = {(c.status, c.reason) for c in row.cells.values()
                   if c.reason and c.status in (Status.ERROR, Status.SKIP, Status.INCONCLUSIVE)}
        for status, r in sorted(reasons - seen):
            seen.add((status, r))
            out.append(f"{status.value} {row.spec.name} {row.spec.dtype}: {r}")
        if verbose:
            for note in row.notes:
                if (row.spec.name, note) not in seen:
                    seen.add((row.spec.name, note))
                    out.append(f"note {row.spec.name}: {note}")
    return "\n".join(out)


def summary(report: Report, seconds: float | None = None) -> str:
    counts = {s.value: sum(r.status is s for r in report.rows)
              for s in (Status.PASS, Status.FAIL, Status.ERROR, Status.SKIP, Status.INCONCLUSIVE)}
    verdict = "FAILED" if report.failed else "INCONCLUSIVE" if report.inconclusive else \
        "PASSED" if report.compared else "NOTHING COMPARED"
    text = (f"{verdict}: {len(report.rows)} rows, {counts['PASS']} passed, {counts['FAIL']} failed, "
            f"{counts['ERROR']} errors, {counts['SKIP']} skipped"
            + (f", {counts['INCONCLUSIVE']} inconclusive" if counts["INCONCLUSIVE"] else "")
            + f" (seed {report.settings.seed})")
    return text + (f" in {seconds:.1f} s" if seconds is not None else "")


def render(report: Report, seconds: float | None = None, verbose: bool = False) -> str:
    parts = [header(report.settings), "", table(report)]
    det = details(report, verbose)
    if det:
        parts += ["", det]
    parts += ["", summary(report, seconds)]
    return "\n".join(parts)


def to_json(report: Report, seconds: float | None = None) -> dict:
    rows = []
    for row in report.rows:
        rows.append({
            "spec": row.spec.name, "sizes": list(row.spec.sizes), "dtype": row.spec.dtype, "seed": row.spec.seed,
            "batch": row.spec.batch, "lr": row.spec.lr, "loss": row.spec.loss, "expected": row.expected,
            "actual": row.actual,
            "status": row.status.value,
            "cells": {s: {"status": c.status.value or None, "worst": c.worst, "allowed": c.allowed, "reason": c.reason}
                      for s, c in row.cells.items()},
            "mismatches": [m.message() for m in row.mismatches],
            "notes": list(row.notes),
        })
    return {"settings": dataclasses.asdict(report.settings), "rows": rows, "passed": not report.failed,
            "summary": summary(report, seconds), "seconds": seconds}


def write_json(report: Report, path: str, seconds: float | None = None) -> None:
    with open(path, "w") as fh:
        json.dump(to_json(report, seconds), fh, indent=2, default=str)
