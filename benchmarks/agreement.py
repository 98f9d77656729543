"""Measure how closely numpy, torch and Keras agree (and finite differences), to choose tolerances.

    python benchmarks/agreement.py [--seeds 20]

For every spec at its default and at small non-square sizes, several seeds, both dtypes, it
runs the full check with a tolerance that cannot fail and prints the worst normalized error per
dtype and stage (errors relative to the scale the check uses). The defaults in
harness/compare.py (RTOL) and harness/gradcheck.py (FD_RTOL) are chosen from this output.
"""
import argparse
import sys

import numpy as np

from harness.check.matrix import check_spec
from harness.core.spec import SPECS
from harness.core.tolerance import Tolerance


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=20)
    args = ap.parse_args(argv)
    worst: dict = {}
    for base in SPECS.values():
        sizes = [base.sizes, (7, 5, 3) if base.sizes[-1] > 1 else (3, 5, 1)]
        for seed in range(args.seeds):
            for dtype in ("float64", "float32"):
                for sz in sizes:
                    spec = base.replace(seed=seed, dtype=dtype, sizes=sz)
                    for row in check_spec(spec, ["numpy", "torch", "keras"], Tolerance(1.0)):
                        for stage, cell in row.cells.items():
                            if not cell.status:
                                continue
                            kind = "fd" if row.expected == "fd" else "pair"
                            recovered = "numpy" in (row.expected, row.actual) and stage == "gradients" and \
                                any("recovered" in n for n in row.notes)
                            key = (dtype, kind, stage + (" (recovered)" if recovered else ""))
                            if cell.worst >= worst.get(key, (0,))[0]:
                                worst[key] = (cell.worst, f"{spec.name} {'-'.join(map(str, spec.sizes))} seed {seed} "
                                                          f"{row.expected}~{row.actual}")
    print(f"{'dtype':8} {'kind':5} {'stage':24} {'worst':>9} {'/eps':>6}  where")
    for (dtype, kind, stage), (w, where) in sorted(worst.items()):
        print(f"{dtype:8} {kind:5} {stage:24} {w:9.2e} {w / np.finfo(dtype).eps:6.1f}  {where}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
