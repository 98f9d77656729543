"""`harness bench`: speed figures measured side by side in one run, printed as ratios.

check_over_import_floor        wall of `python -m harness check` (fresh process) / wall of a fresh
                               process that only imports the frameworks that check uses
directional_ms_784_500_10      directional finite-difference proof of a 784-500-10 net's gradients
grade_overhead_s               wall of grading one reference net (sandboxed child, 3 cases + 3 probes,
                               comparison, scoring) minus a fresh process importing numpy, the only
                               framework the child imports; mean over the five built-in assignments
grade_100_wall_s               wall of grading 100 submissions (20 copies of each reference net) with
                               --jobs = the number of CPUs
directional_speedup_vs_full_fd full central differences on 784-500-10 / the directional proof. The
                               full run (795,020 loss evaluations) is extrapolated, not run: the
                               cost of one loss evaluation on 784-500-10 times the count, a model
                               that is checked against a real full run on a smaller net.
Timings are the best of --repeat runs; the machine is shared, so ratios beat absolute numbers.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import numpy as np

from . import backends as backend_registry
from . import gradcheck, model
from .adapters import run_adapter
from .assignment import reference_adapter
from .params import init_params, make_batch
from .specs import get_spec

def _best(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def _fresh(args, env) -> float:
    t = time.perf_counter()
    proc = subprocess.run([sys.executable, *args], capture_output=True, text=True, env=env)
    wall = time.perf_counter() - t
    if proc.returncode not in (0,):
        raise RuntimeError(f"{' '.join(args)} exited {proc.returncode}: {proc.stderr.strip()[-500:]}")
    return wall


def check_over_import_floor(repeat: int) -> dict:
    available = [b for b in ("torch", "keras") if not backend_registry.missing_reason(b)]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "TF_ENABLE_ONEDNN_OPTS": "0", "KERAS_BACKEND": "tensorflow"}
    imports = "import numpy; " + "; ".join(f"import {pkg}" for b in available
                                           for pkg in backend_registry.info(b).requires)
    floor = min(_fresh(["-c", imports], env) for _ in range(repeat))
    check = min(_fresh(["-m", "harness", "check"], env) for _ in range(repeat))
    return {"check_over_import_floor": check / floor, "check_wall_s": check, "import_floor_s": floor,
            "import_floor_frameworks": ["numpy", *available]}


def _case(spec):
    p = init_params(spec)
    X, T = make_batch(spec)
    grads = run_adapter(reference_adapter(spec.name), spec, p, X, T).grads
    return p, X, T, grads


def directional_figures(repeat: int) -> dict:
    big = get_spec("sigmoid_mse")                              # 784-500-10, batch 32
    p, X, T, g = _case(big)
    directional_s = _best(lambda: gradcheck.directional(big, p, X, T, g, seed=0), repeat)
    n_evals_dir = gradcheck.directional(big, p, X, T, g, seed=0).n_evaluations
    p64 = {k: v.astype(np.float64) for k, v in p.items()}
    one_eval_big = _best(lambda: model.loss_of_params(big, p64, X, T), max(repeat, 20))
    n_params_big = sum(v.size for v in p.values())
    full_big_est = 2 * n_params_big * one_eval_big

    small = big.replace(sizes=(784, 4, 10))                    # real full run, to check the cost model
    ps, Xs, Ts, gs = _case(small)
    full_small = _best(lambda: gradcheck.full(small, ps, Xs, Ts, gs), 1)
    ps64 = {k: v.astype(np.float64) for k, v in ps.items()}
    one_eval_small = _best(lambda: model.loss_of_params(small, ps64, Xs, Ts), max(repeat, 50))
    n_params_small = sum(v.size for v in ps.values())
    model_ratio = full_small / (2 * n_params_small * one_eval_small)
    return {
        "directional_ms_784_500_10": directional_s * 1e3,
        "directional_loss_evaluations": n_evals_dir,
        "full_fd_s_784_500_10_extrapolated": full_big_est * model_ratio,
        "directional_speedup_vs_full_fd": full_big_est * model_ratio / directional_s,
        "extrapolation": (f"full FD on 784-500-10 = 2 x {n_params_big} loss evaluations x {one_eval_big * 1e3:.2f} ms "
                          f"x {model_ratio:.2f} (measured/modelled cost of a real full run on 784-4-10: "
                          f"{full_small:.2f} s for {n_params_small} parameters)"),
    }


def grade_figures(repeat: int) -> dict:
    import shutil
    import tempfile
    from pathlib import Path

    import reference_impls

    from .assignment import builtin_names, load
    from .grade import grade, grade_many

    ref_dir = Path(reference_impls.__file__).parent
    floor = min(_fresh(["-c", "import numpy"], dict(os.environ)) for _ in range(repeat))
    names = builtin_names()
    per = {n: _best(lambda n=n: grade(str(ref_dir / f"{n}.py"), load(n)), repeat) for n in names}
    work = Path(tempfile.mkdtemp(prefix="bph-bench-"))
    jobs = os.cpu_count() or 1
    try:
        batches = {}
        for n in names:
            (work / n).mkdir()
            batches[n] = [str(work / n / f"student_{i:02d}.py") for i in range(20)]
            for path in batches[n]:
                shutil.copy(ref_dir / f"{n}.py", path)
        t = time.perf_counter()
        graded = [g for n in names for g in grade_many(batches[n], load(n), jobs=jobs)]
        wall = time.perf_counter() - t
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if not all(g.passed for g in graded):
        raise RuntimeError("a reference net failed its own assignment during the benchmark")
    return {"grade_overhead_s": sum(per.values()) / len(per) - floor, "grade_submission_s": sum(per.values()) / len(per),
            "grade_numpy_import_floor_s": floor, "grade_100_wall_s": wall, "grade_100_jobs": jobs,
            "grade_100_per_submission_s": wall / len(graded)}


def run_bench(json_path: str | None = None, repeat: int = 3) -> int:
    print(f"harness bench: best of {repeat}; ratios are measured side by side in this run")
    figures = {}
    figures.update(directional_figures(repeat))
    figures.update(grade_figures(repeat))
    figures.update(check_over_import_floor(repeat))
    width = max(map(len, figures))
    for key, value in figures.items():
        text = f"{value:.3g}" if isinstance(value, float) else str(value)
        print(f"  {key:<{width}}  {text}")
    if json_path:
        with open(json_path, "w") as fh:
            json.dump(figures, fh, indent=2)
        print(f"figures written to {json_path}")
    return 0
