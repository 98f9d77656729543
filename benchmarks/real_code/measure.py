"""Grade a folder of real course code with `harness grade` and with the independent oracle
(oracle.py), and print where they agree, per pack.

    python benchmarks/real_code/measure.py PACK FOLDER [--jobs 2] [--out RESULTS.json]

FOLDER holds one sub-folder per public copy (as manifest.tsv lists them; the copies themselves are
never committed: see README.md beside this file). A row per copy: the oracle's verdict, the
grader's verdict and score, and whether they agree: a copy the oracle finds correct must get full
marks; a wrong one must not pass. Exit 0 when they agree on every copy, 1 otherwise.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

HERE = Path(__file__).resolve().parent
SUPPORT = HERE.parents[1] / "harness" / "drive" / "assignments" / "support"   # the course's helper modules
ORACLE_TIMEOUT_S = 120


def oracle(pack: str, folder: Path) -> dict:
    """The oracle on one copy, in a child process of its own, in a throw-away copy of the folder."""
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp) / folder.name
        subprocess.run(["cp", "-r", str(folder), str(work)], check=True)
        env = {**os.environ, "MPLBACKEND": "Agg", "PYTHONDONTWRITEBYTECODE": "1"}
        try:
            done = subprocess.run([sys.executable, str(HERE / "oracle.py"), pack, str(work), str(SUPPORT)],
                                  capture_output=True, text=True, timeout=ORACLE_TIMEOUT_S, env=env,
                                  stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            return {"student": folder.name, "verdict": "crash", "why": f"timeout after {ORACLE_TIMEOUT_S} s"}
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if not lines:
        return {"student": folder.name, "verdict": "crash", "why": (done.stderr.strip().splitlines() or ["?"])[-1]}
    return json.loads(lines[-1])


def grader(pack: str, root: Path, jobs: int, out: Path) -> dict:
    subprocess.run([sys.executable, "-m", "harness", "grade", str(root), "--assignment", pack, "--json", str(out),
                    "--jobs", str(jobs)], capture_output=True, text=True, stdin=subprocess.DEVNULL)
    data = json.loads(out.read_text())
    rows = {}
    for g in data["submissions"]:
        path = Path(g["submission"])
        student = path.parent.name if path.parent != root else path.stem
        rows[student] = g
    return rows


def agreement(o: dict, g: dict | None) -> str:
    """'agree', or the kind of disagreement."""
    if g is None:
        return "not graded"
    full = g.get("score") == g.get("max_score") and g.get("status") == "passed"
    if o["verdict"] == "correct":
        return "agree" if full else "correct file not given full marks"
    if o["verdict"] == "wrong":
        return "agree" if not full else "wrong file passed"
    if o["verdict"] == "python2":
        return "agree" if g.get("status") == "syntax" and "Python 2" in (g.get("problem") or "") \
            else "python2 file: other verdict"
    if o["verdict"] == "not_api":
        return "agree" if not full else "file without the course API passed"
    return "agree" if not full else "crashing file passed"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("pack")
    ap.add_argument("folder", type=Path)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--out", type=Path)
    args = ap.parse_args(argv)
    root = args.folder.resolve()
    folders = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith((".", "_")))
    with tempfile.TemporaryDirectory() as tmp:
        graded = grader(args.pack, root, args.jobs, Path(tmp) / "grades.json")
    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        oracles = list(pool.map(lambda f: oracle(args.pack, f), folders))
    rows = []
    for o in oracles:
        g = graded.get(o["student"])
        rows.append({"student": o["student"], "oracle": o, "agreement": agreement(o, g),
                     "grader": {k: g.get(k) for k in ("verdict", "score", "max_score", "problem", "notes")} if g else None})
    print_table(args.pack, rows)
    if args.out:
        args.out.write_text(json.dumps(rows, indent=1))
    return 0 if all(r["agreement"] == "agree" for r in rows) else 1


def print_table(pack: str, rows: list[dict]) -> None:
    counts: dict[str, int] = {}
    for r in rows:
        key = f"oracle {r['oracle']['verdict']}, {r['agreement']}"
        counts[key] = counts.get(key, 0) + 1
    print(f"{pack}: {len(rows)} copies")
    for key, n in sorted(counts.items()):
        print(f"  {n:3d}  {key}")
    for r in rows:
        if r["agreement"] != "agree":
            g = r["grader"] or {}
            o = r["oracle"]
            why = o.get("wrong") or o.get("why") or o.get("python2_math") or ""
            print(f"- {r['student']}: oracle {o['verdict']} {str(why)[:200]}; grader {g.get('verdict')} "
                  f"{g.get('score')}/{g.get('max_score')} {(g.get('problem') or '')[:200]}")


if __name__ == "__main__":
    sys.exit(main())
