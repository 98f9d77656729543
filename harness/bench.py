"""`harness bench`: speed figures measured side by side in one run, printed as ratios.

check_over_import_floor        wall of `python -m harness check` (fresh process) / wall of a fresh
                               process that only imports the frameworks that check uses
directional_ms_784_500_10      directional finite-difference proof of a 784-500-10 net's gradients
grade_overhead_s               wall of grading one reference net (sandboxed child, 3 cases + 3 probes,
                               comparison, scoring) minus a fresh process importing numpy, the only
                               framework the child imports; mean over the five built-in assignments,
                               in the strongest sandbox here (grade_sandbox); grade_overhead_<mode>_s
                               the same in every sandbox mode this machine allows
grade_100_wall_s               wall of grading 100 submissions (20 copies of each reference net) with
                               --jobs = the number of CPUs, in the strongest sandbox
numpy_over_torch_train_f32     training samples/s of the numpy reference net / of PyTorch (CPU), 784-100-10,
                               batch 32, float32 (also _f64, and numpy_over_keras_*)
check_peak_rss_mb              peak resident memory of a fresh `python -m harness check`
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
from .check import gradcheck
from .core import net
from .core.params import init_params, make_batch
from .core.spec import get_spec
from .drive.assignment import reference_adapter
from .drive.derive import run_adapter


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
    one_eval_big = _best(lambda: net.loss_of_params(big, p64, X, T), max(repeat, 20))
    n_params_big = sum(v.size for v in p.values())
    full_big_est = 2 * n_params_big * one_eval_big

    small = big.replace(sizes=(784, 4, 10))                    # real full run, to check the cost model
    ps, Xs, Ts, gs = _case(small)
    full_small = _best(lambda: gradcheck.full(small, ps, Xs, Ts, gs), 1)
    ps64 = {k: v.astype(np.float64) for k, v in ps.items()}
    one_eval_small = _best(lambda: net.loss_of_params(small, ps64, Xs, Ts), max(repeat, 50))
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


def reference_assignments() -> list[str]:
    """The built-in assignments graded in the benchmark: those whose solution is a reference net
    of reference_impls (the course packs' solutions live in tests/, not in the package)."""
    from .drive.assignment import builtin_names, load
    return [n for n in builtin_names() if (load(n).reference or "").startswith("reference_impls.")]


def grade_figures(repeat: int) -> dict:
    import shutil
    import tempfile
    from pathlib import Path

    import reference_impls

    from .drive.assignment import load
    from .grade import isolation
    from .grade.batch import grade, grade_many

    ref_dir = Path(reference_impls.__file__).parent
    floor = min(_fresh(["-c", "import numpy"], dict(os.environ)) for _ in range(repeat))
    names = reference_assignments()
    modes = [m.value for m in isolation.Mode if not isolation.unavailable(m)]
    per_mode = {}
    for mode in modes:
        per = {n: _best(lambda n=n, m=mode: grade(str(ref_dir / f"{n}.py"), load(n), sandbox_mode=m), repeat)
               for n in names}
        per_mode[mode] = sum(per.values()) / len(per)
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
    out = {"grade_overhead_s": per_mode[modes[0]] - floor, "grade_sandbox": modes[0],
           "grade_numpy_import_floor_s": floor, "grade_100_wall_s": wall, "grade_100_jobs": jobs,
           "grade_100_per_submission_s": wall / len(graded)}
    out.update({f"grade_overhead_{mode}_s": s - floor for mode, s in per_mode.items()})
    return out


def train_figures(repeat: int) -> dict:
    """Training samples/s of each trainer on 784-100-10, batch 32 (one epoch of 2,048 random
    samples, best of `repeat`, after one warm-up step), float32 and float64."""
    from .core.params import init_params
    rng = np.random.default_rng(0)
    out = {}
    for dtype in ("float32", "float64"):
        spec = get_spec("relu_mse").replace(dtype=dtype, batch=32)
        X = rng.random((2048, 784)).astype(dtype)
        T = np.eye(10, dtype=dtype)[rng.integers(0, 10, 2048)]
        rates = {}
        for name in ("numpy", "torch", "keras"):
            if backend_registry.missing_reason(name):
                continue
            tr = backend_registry.load(name).trainer(spec, init_params(spec))
            tr.step(X[:32], T[:32], want_output=False)

            def epoch(tr=tr, X=X, T=T):
                for i in range(0, len(X), 32):
                    tr.step(X[i:i + 32], T[i:i + 32], want_output=False)
            rates[name] = len(X) / _best(epoch, repeat)
        short = dtype.replace("float", "f")
        out.update({f"train_samples_per_s_{n}_{short}": r for n, r in rates.items()})
        for other in ("torch", "keras"):
            if other in rates:
                out[f"numpy_over_{other}_train_{short}"] = rates["numpy"] / rates[other]
    return out


def check_peak_memory() -> dict:
    """Peak resident memory of a fresh `python -m harness check` (the child's ru_maxrss)."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "TF_ENABLE_ONEDNN_OPTS": "0"}
    proc = subprocess.Popen([sys.executable, "-m", "harness", "check"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, env=env)
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    return {"check_peak_rss_mb": usage.ru_maxrss / 1024}


def output_figures(sizes=(100, 1000)) -> dict:
    """What a batch's output files cost per submission, at 100 and 1,000 submissions: 100 copies
    of a reference net graded for real (strict sandbox where it runs, --jobs = CPUs), then their
    results replicated to N and written with every output on (--json, --gradebook, --report,
    --student-pages, --gradescope), timed per submission. The outputs are written by the main
    thread while the workers grade, so (grading + outputs) / grading bounds the wall-time ratio
    from above; flat: the last tenth of the adds cost what the first tenth did."""
    import dataclasses
    import shutil
    import tempfile
    from pathlib import Path

    import reference_impls

    from .drive.assignment import load
    from .grade.batch import grade_many
    from .grade.outputs import BatchOutputs
    from .grade.report import gradescope, write_json_atomic

    work = Path(tempfile.mkdtemp(prefix="bph-bench-out-"))
    try:
        source = Path(reference_impls.__file__).parent / "xor.py"
        copies = [str(work / f"student_{i:03d}.py") for i in range(100)]
        for path in copies:
            shutil.copy(source, path)
        assignment = load("xor")
        t = time.perf_counter()
        real = list(grade_many(copies, assignment, jobs=os.cpu_count() or 1))
        grade_per = (time.perf_counter() - t) / len(real)
        out = {"outputs_grade_per_submission_s": grade_per}
        for n in sizes:
            names = [str(work / f"s{i:04d}" / "net.py") for i in range(n)]
            graded = [dataclasses.replace(real[i % len(real)], submission=name) for i, name in enumerate(names)]
            folder = work / f"out{n}"
            (folder / "gs").mkdir(parents=True)
            outputs = BatchOutputs(assignment, names, str(folder / "r.json"), str(folder / "g.csv"),
                                   str(folder / "r.html"), str(folder / "pages"))
            times = []
            for g in graded:
                t = time.perf_counter()
                outputs.add(g)
                write_json_atomic(folder / "gs" / f"{Path(g.submission).parent.name}.json", gradescope(g))
                times.append(time.perf_counter() - t)
            outputs.close(True)
            tenth = max(1, n // 10)
            per = sum(times) / n
            out.update({f"outputs_{n}_per_submission_ms": 1000 * per,
                        f"outputs_{n}_last_over_first_tenth": sum(times[-tenth:]) / sum(times[:tenth]),
                        f"outputs_{n}_wall_ratio_bound": (grade_per + per) / grade_per})
        return out
    finally:
        shutil.rmtree(work, ignore_errors=True)


def run_bench(json_path: str | None = None, repeat: int = 3) -> int:
    print(f"harness bench: best of {repeat}; ratios are measured side by side in this run")
    figures = {}
    figures.update(directional_figures(repeat))
    figures.update(grade_figures(repeat))
    figures.update(output_figures())
    figures.update(train_figures(repeat))
    figures.update(check_peak_memory())
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
