"""Command line: `harness check`, `harness bench`, `harness list`.

Exit codes: 0 everything passed, 1 a mismatch or a crash in the code under test, 2 a usage or
environment error (bad option, unknown name, nothing could run). No tracebacks for user errors.
"""
from __future__ import annotations

import argparse
import math
import sys
import time

from . import backends as backend_registry
from .specs import DTYPES, SPECS, SpecError, get_spec

DEFAULT_BACKENDS = ("numpy", "torch", "keras")


class UsageError(Exception):
    pass


def _names(text: str, valid, what: str) -> list[str]:
    names = [n.strip() for n in text.split(",") if n.strip()]
    if not names:
        raise UsageError(f"no {what} given; valid {what}s: {', '.join(valid)}")
    unknown = [n for n in names if n not in valid]
    if unknown:
        raise UsageError(f"unknown {what} {', '.join(map(repr, unknown))}; valid {what}s: {', '.join(valid)}")
    if len(set(names)) != len(names):
        raise UsageError(f"{what} listed twice: {text}")
    return names


def _int_at_least(minimum: int):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be >= {minimum}, got {value}")
        return value
    return parse


_positive_int, _seed = _int_at_least(1), _int_at_least(0)


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"must be a finite number > 0, got {text}")
    return value


def _sizes(text: str) -> tuple[int, ...]:
    try:
        sizes = tuple(int(s) for s in text.replace("-", ",").split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected sizes like 7,5,3, got {text!r}") from None
    if len(sizes) < 2 or any(s <= 0 for s in sizes):
        raise argparse.ArgumentTypeError(f"need at least two sizes, each >= 1, got {text!r}")
    return sizes


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="harness", description="Prove hand-written numpy backprop right "
                                "against PyTorch and Keras, from the same initial weights.")
    sub = p.add_subparsers(dest="command", metavar="{check,bench,list}")
    c = sub.add_parser("check", help="run the equivalence matrix (default: every spec, backend pair and dtype)")
    c.add_argument("--spec", default=",".join(SPECS), help=f"comma-separated specs (default: all: {', '.join(SPECS)})")
    c.add_argument("--backends", default=",".join(DEFAULT_BACKENDS),
                   help=f"comma-separated backends (default: {','.join(DEFAULT_BACKENDS)}); valid: "
                        f"{', '.join(backend_registry.BACKENDS)}")
    c.add_argument("--dtype", default="all", help="float64, float32 or all (default: all)")
    c.add_argument("--seed", type=_seed, default=0, help="seed of the weights and the batch (default 0)")
    c.add_argument("--batch", type=_positive_int, help="batch size (default: each spec's own)")
    c.add_argument("--sizes", type=_sizes, help="layer sizes, e.g. 7,5,3 (needs a single --spec)")
    c.add_argument("--lr", type=_positive_float, help="learning rate of the SGD step (default: each spec's own)")
    c.add_argument("--rtol", type=_positive_float, help="override the relative tolerance for every dtype")
    c.add_argument("--no-fd", action="store_true", help="skip the finite-difference oracle")
    c.add_argument("--json", metavar="FILE", help="also write the full results as JSON")
    c.add_argument("-v", "--verbose", action="store_true", help="print each backend's notes too")
    b = sub.add_parser("bench", help="measure speed ratios side by side (see README)")
    b.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    b.add_argument("--repeat", type=_positive_int, default=3, help="repetitions per timing (default 3)")
    sub.add_parser("list", help="list specs and backends, with availability")
    return p


def cmd_check(args) -> int:
    from .check import Report, check_spec
    from .compare import Tolerance, default_tolerance
    from .report import environment, render, write_json

    spec_names = _names(args.spec, list(SPECS), "spec")
    backend_names = _names(args.backends, list(backend_registry.BACKENDS), "backend")
    dtypes = list(DTYPES) if args.dtype == "all" else _names(args.dtype, list(DTYPES), "dtype")
    if args.sizes and len(spec_names) != 1:
        raise UsageError("--sizes needs exactly one --spec")
    if len(backend_names) < 2:
        # one backend still gets its finite-difference row, but say what is missing
        print(f"note: only one backend ({backend_names[0]}): no pair to compare, finite differences only",
              file=sys.stderr)
    specs = []
    for name in spec_names:
        for dtype in dtypes:
            specs.append(get_spec(name).replace(dtype=dtype, seed=args.seed, batch=args.batch, lr=args.lr,
                                                sizes=args.sizes))
    if all(backend_registry.missing_reason(n) for n in backend_names):
        reasons = "; ".join(f"{n}: {backend_registry.missing_reason(n)}" for n in backend_names)
        raise EnvironmentError(f"none of the backends can run here ({reasons})")
    start = time.perf_counter()
    rows = []
    for spec in specs:
        tol = Tolerance(args.rtol) if args.rtol else default_tolerance(spec.dtype)
        rows.extend(check_spec(spec, backend_names, tol, fd=not args.no_fd))
    seconds = time.perf_counter() - start
    settings = {"command": "check", "specs": spec_names, "backends": backend_names, "dtypes": dtypes,
                "seed": args.seed, "batch": args.batch, "lr": args.lr, "rtol_override": args.rtol,
                "environment": environment(backend_names)}
    report = Report(tuple(rows), settings)
    print(render(report, seconds, args.verbose))
    if args.json:
        write_json(report, args.json, seconds)
        print(f"results written to {args.json}")
    return report.exit_code


def cmd_list(args) -> int:
    print("specs:")
    for spec in SPECS.values():
        print(f"  {spec.name:12} {spec.description} (batch {spec.batch}, lr {spec.lr})")
    print("backends:")
    for name, info in backend_registry.BACKENDS.items():
        reason = backend_registry.missing_reason(name)
        print(f"  {name:12} {info.description}" + (f"  [unavailable: {reason}]" if reason else ""))
    return 0


def cmd_bench(args) -> int:
    from .bench import run_bench
    return run_bench(json_path=args.json, repeat=args.repeat)


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    try:
        return {"check": cmd_check, "bench": cmd_bench, "list": cmd_list}[args.command](args)
    except (UsageError, SpecError) as exc:
        print(f"harness {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except EnvironmentError as exc:
        print(f"harness {args.command}: environment error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"harness {args.command}: interrupted", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
