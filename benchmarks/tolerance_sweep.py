"""A long sweep of random `check` configurations of correct code: every built-in spec and every
added loss/activation family, every optimizer at 1-3 steps, lr 10^U(-3, 0), weights scaled x1 to
x1000 (saturated units, large logits), both dtypes, every installed backend. Correct code must
never be flagged: any FAIL or ERROR row is a false alarm of the tolerance model, printed with the
command that reproduces it. INCONCLUSIVE rows (an lr too small to recover gradients) are counted.

    python benchmarks/tolerance_sweep.py --configs 500 --seed 31 [--backends numpy,torch,keras,jax]

Run long sweeps in chunks of 500 with different seeds: the frameworks keep a model per shape
they have seen, so one process grows to about 5 GB over 500 configurations.

tests/test_tolerance_sweep.py runs a few hundred of the same configurations in every CI run.
"""
from __future__ import annotations

import argparse
import sys
import time
from collections import Counter

import numpy as np

from harness import backends
from harness.check.matrix import Status, check_spec
from harness.core.optim import OPTIMIZERS
from harness.core.spec import SPECS, Spec, get_spec

# (loss, hidden activation, output activation) beyond the built-in specs
FAMILIES = [("sse_mean_batch", "tanh", "linear"), ("sse_sum_batch", "leaky_relu", "sigmoid"),
            ("ce_probs_mean_batch", "relu", "softmax"), ("ce_probs_mean_batch", "tanh", "softmax"),
            ("bce_mean_batch", "tanh", "sigmoid"), ("bce_mean_batch", "leaky_relu", "sigmoid"),
            ("mse_mean_all", "tanh", "tanh"), ("softmax_ce_mean_batch", "leaky_relu", "linear")]
SCALES = (1.0, 3.0, 10.0, 100.0, 1000.0)


def random_spec(rng: np.random.Generator) -> Spec:
    """One configuration, drawn from rng (so a seed reproduces the sweep)."""
    names = list(SPECS)
    pick = int(rng.integers(len(names) + len(FAMILIES)))
    n_in, n_hidden, n_out = (int(v) for v in rng.integers(1, 13, size=3))
    common = {"batch": int(rng.integers(1, 17)), "seed": int(rng.integers(0, 2**31)),
              "dtype": str(rng.choice(["float64", "float32"])), "lr": float(10 ** rng.uniform(-3, 0)),
              "optimizer": str(rng.choice(OPTIMIZERS)), "steps": int(rng.integers(1, 4)),
              "init_scale": float(rng.choice(SCALES))}
    if pick < len(names):
        base = get_spec(names[pick])
        out = 1 if base.sizes[-1] == 1 else max(n_out, 2)
        return base.replace(sizes=(n_in, n_hidden, out), **common)
    loss, hidden, output = FAMILIES[pick - len(names)]
    return get_spec("relu_mse").replace(loss=loss, activations=(hidden, output), sizes=(n_in, n_hidden, max(n_out, 2)),
                                        **common)


def command(spec: Spec, names) -> str:
    return (f"spec {spec.label()} (loss {spec.loss}, activations {','.join(spec.activations)}, lr {spec.lr!r}, "
            f"backends {','.join(names)})")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--configs", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--backends", default="numpy,torch,keras,jax")
    args = ap.parse_args(argv)
    names = [n for n in args.backends.split(",") if not backends.missing_reason(n)]
    rng = np.random.default_rng(args.seed)
    counts: Counter = Counter()
    alarms = []
    start = time.perf_counter()
    for i in range(args.configs):
        spec = random_spec(rng)
        rows = check_spec(spec, names)
        for r in rows:
            counts[r.status.value] += 1
        bad = [r for r in rows if r.status in (Status.FAIL, Status.ERROR)]
        if bad:
            alarms.append(spec)
            print(f"FALSE ALARM {command(spec, names)}", file=sys.stderr)
            for r in bad:
                for m in r.mismatches[:2]:
                    print("  " + m.message().replace("\n", "\n  "), file=sys.stderr)
        if (i + 1) % 100 == 0:
            print(f"{i + 1} configurations, {len(alarms)} false alarms, {time.perf_counter() - start:.0f} s",
                  file=sys.stderr)
    print(f"{args.configs} configurations (seed {args.seed}, backends {','.join(names)}): {len(alarms)} with a false "
          f"alarm; rows {dict(counts)}; {time.perf_counter() - start:.0f} s")
    return 1 if alarms else 0


if __name__ == "__main__":
    sys.exit(main())
