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
            env["backends"][name] = {"versions": mod.versions(), "settings": mod.settings()}
        except Exception as exc:          # noqa: BLE001 - a framework that fails to import is a fact to report
            env["backends"][name] = f"not available ({exc})"
    return env


def header(settings: CheckSettings, verbose: bool = False) -> str:
    """Two short lines: versions of what ran, then what the check used. Each framework's numeric
    settings (threads, TF32, matmul precision, ...) follow with verbose, and are always in the JSON."""
    env = settings.environment or environment(settings.backends)
    parts = [f"backprop-harness {env['harness']}", f"python {env['python']}", f"numpy {env['numpy']}"]
    more = []
    for name in settings.backends:
        info = env["backends"].get(name)
        if isinstance(info, dict):
            versions = ", ".join(f"{k} {v}" for k, v in info["versions"].items() if k != "numpy")
            if versions:
                parts.append(versions)
            if info["settings"]:
                more.append(f"{name}: " + ", ".join(f"{k} {v}" for k, v in info["settings"].items()))
        elif name not in ("numpy", "yours"):
            parts.append(f"{name} {info}")
    rt = env["rtol"]
    numerics = [f"dtype {','.join(settings.dtypes)}", f"seed {settings.seed}",
                f"optimizer {settings.optimizer} x{settings.steps}", f"batch {settings.batch or 'spec default'}",
                f"rtol float64 {rt['float64']:.1e}, float32 {rt['float32']:.1e}, fd {rt['fd']:.0e}"]
    lines = [" | ".join(parts), " | ".join(numerics)]
    if verbose:
        lines += [f"cpus {env['cpu_count']} | OMP_NUM_THREADS={env['OMP_NUM_THREADS']} | "
                  f"TF_ENABLE_ONEDNN_OPTS={env['TF_ENABLE_ONEDNN_OPTS']}", *more]
    return "\n".join(lines)


def _row_label(row: Row) -> str:
    return f"{row.expected}~{row.actual}"


HEAD = ("spec", "sizes", "dtype", "pair") + STAGES


def _row_values(row: Row) -> tuple[str, ...]:
    return (row.spec.name, "-".join(map(str, row.spec.sizes)), row.spec.dtype, _row_label(row)) + \
        tuple(row.cells[s].text() for s in STAGES)


CELL_WIDTH = len("PASS 1.0e-16/7.1e-15")


def column_widths(rows) -> tuple[int, ...]:
    """Each column as wide as its widest entry (the heading included)."""
    return tuple(max([len(h), *(len(v[i]) for v in map(_row_values, rows))]) for i, h in enumerate(HEAD))


def planned_widths(specs, pairs) -> tuple[int, ...]:
    """Column widths known before any row exists (a streamed table): from the specs and pairs
    that will run, and the usual width of a cell."""
    return (max(len("spec"), *(len(s.name) for s in specs)), max(len("sizes"), *(len("-".join(map(str, s.sizes)))
                                                                                for s in specs)),
            len("float64"), max(len("pair"), *map(len, pairs))) + (CELL_WIDTH,) * len(STAGES)


def row_line(row: Row, widths) -> str:
    return table_line(_row_values(row), widths)


def table_line(values, widths) -> str:
    return "  ".join(v.ljust(w) for v, w in zip(values, widths, strict=True)).rstrip()


def table(report: Report) -> str:
    widths = column_widths(report.rows)
    return "\n".join([table_line(HEAD, widths), *(table_line(_row_values(r), widths) for r in report.rows)])


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
    return "\n".join([header(report.settings, verbose), "", table(report), ending(report, seconds, verbose)])


def ending(report: Report, seconds: float | None = None, verbose: bool = False, interrupted: str = "") -> str:
    """What follows the table: every mismatch and reason, then the one-line summary."""
    det = details(report, verbose)
    return "\n".join(([""] + [det] if det else []) + ["", (interrupted + " " if interrupted else "")
                                                         + summary(report, seconds)])


def to_json(report: Report, seconds: float | None = None, complete: bool = True) -> dict:
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
            "summary": summary(report, seconds), "seconds": seconds, "complete": complete}


def write_json(report: Report, path: str, seconds: float | None = None, complete: bool = True) -> None:
    with open(path, "w") as fh:
        json.dump(to_json(report, seconds, complete), fh, indent=2, default=str)
