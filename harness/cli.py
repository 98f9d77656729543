"""Command line: `harness check`, `grade`, `train`, `bench`, `list`, `env`.

Exit codes: 0 everything passed, 1 a mismatch or a crash in the code under test, 2 a usage or
environment error (bad option, unknown name, nothing could run) or nothing conclusive compared, 3
a GRADER ERROR (the harness itself failed on a submission), 130 interrupted (Ctrl-C; what was done
is printed and written). No tracebacks for user errors.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time

from . import backends as backend_registry
from . import progress
from .core.optim import OPTIMIZERS
from .core.spec import DTYPES, SPECS, SpecError, get_spec

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


def _non_negative_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"must be a finite number >= 0, got {text}")
    return value


def _sizes(text: str) -> tuple[int, ...]:
    try:
        sizes = tuple(int(s) for s in text.replace("-", ",").split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected sizes like 7,5,3, got {text!r}") from None
    if len(sizes) < 2 or any(s <= 0 for s in sizes):
        raise argparse.ArgumentTypeError(f"need at least two sizes, each >= 1, got {text!r}")
    return sizes


class _Parser(argparse.ArgumentParser):
    """argparse, with its errors on one line like every other error of the CLI (exit 2)."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _output_file(path: str | None, what: str) -> None:
    """A file to be written: its folder must exist and be writable, and it must not be a folder.
    Checked before any work starts."""
    if path is None:
        return
    if os.path.isdir(path):
        raise UsageError(f"{what} {path} is a folder; give a file name")
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise UsageError(f"{what} {path}: " + (f"{folder} is not a folder" if os.path.exists(folder) else
                                                f"no such folder {folder}"))
    if not os.access(folder, os.W_OK):
        raise UsageError(f"{what} {path}: folder {folder} is not writable")


def _output_folder(path: str | None, what: str) -> None:
    """A folder to be written into (made if missing: its parent must exist)."""
    if path is None:
        return
    if os.path.exists(path) and not os.path.isdir(path):
        raise UsageError(f"{what} {path} exists and is not a folder")
    parent = path if os.path.isdir(path) else os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(parent) or not os.access(parent, os.W_OK):
        raise UsageError(f"{what} {path}: {parent} is not a writable folder")


def build_parser() -> argparse.ArgumentParser:
    from . import __version__
    p = _Parser(prog="harness", description="Prove hand-written numpy backprop right against PyTorch, Keras "
                "and JAX, from the same initial weights; grade students' backprop in a sandbox.")
    p.add_argument("--version", action="version", version=f"backprop-harness {__version__}")
    sub = p.add_subparsers(dest="command", metavar="{check,grade,train,bench,list,env}", parser_class=_Parser)
    c = sub.add_parser("check", help="check your own file against the frameworks (FILE --assignment NAME), or run "
                                     "the equivalence matrix of the reference nets",
                       description="harness check FILE --assignment NAME|TOML: your file against every installed "
                                   "framework and finite differences, on the assignment's visible cases. "
                                   "harness check (no FILE): the reference nets' whole matrix. Exit 0 passed, "
                                   "1 a mismatch, 2 a usage error or nothing conclusive compared.")
    c.add_argument("file", nargs="?", metavar="FILE", help="your .py file or notebook (needs --assignment)")
    c.add_argument("--assignment", "-a", metavar="NAME|TOML",
                   help="how to call FILE: a built-in assignment (`harness list`) or an assignment .toml")
    c.add_argument("--spec", default=",".join(SPECS), help=f"comma-separated specs (default: all: {', '.join(SPECS)})")
    c.add_argument("--backends", default=",".join(DEFAULT_BACKENDS),
                   help=f"comma-separated backends, or all (default: {','.join(DEFAULT_BACKENDS)}); valid: "
                        f"{', '.join(backend_registry.BACKENDS)}")
    c.add_argument("--dtype", default="all", help="float64, float32 or all (default: all)")
    c.add_argument("--seed", type=_seed, default=0, help="seed of the weights and the batch (default 0)")
    c.add_argument("--batch", type=_positive_int, help="batch size (default: each spec's own)")
    c.add_argument("--sizes", type=_sizes, help="layer sizes, e.g. 7,5,3 (needs a single --spec)")
    c.add_argument("--lr", type=_positive_float, help="learning rate of the optimizer steps compared (--optimizer, "
                                                      "--steps; default: each spec's own)")
    c.add_argument("--optimizer", default="sgd", help=f"optimizer of the steps compared: {', '.join(OPTIMIZERS)} "
                   "(default sgd); each framework is compared in its own convention (docs/check.md)")
    c.add_argument("--steps", type=_positive_int, default=1, help="optimizer steps compared (default 1)")
    c.add_argument("--loss", help="the loss instead of each spec's own (see `harness list`; needs a single --spec)")
    c.add_argument("--activations", help="activations per layer, e.g. tanh,sigmoid (see `harness list`; one --spec)")
    c.add_argument("--l2", type=_non_negative_float, help="add an L2 term of this strength to the loss")
    c.add_argument("--l2-form", default="lambda", help="how the L2 term is written: lambda (reg*sum(W**2)), "
                   "half_lambda (0.5*reg*sum(W**2)), half_lambda_over_n (lambd/(2N)*sum(W**2))")
    c.add_argument("--l2-biases", action="store_true", help="regularize the biases too")
    c.add_argument("--rtol", type=_positive_float, help="override the relative tolerance for every dtype")
    c.add_argument("--no-fd", action="store_true", help="skip the finite-difference oracle")
    c.add_argument("--json", metavar="FILE", help="also write the full results as JSON")
    c.add_argument("-v", "--verbose", action="store_true", help="print each backend's notes too")
    g = sub.add_parser("grade", help="grade student submissions, each in its own sandboxed process",
                       description="Grade submissions (files, or folders of them: one .py per student, or one "
                                   "sub-folder per student) against an assignment. Exit 0 when every submission "
                                   "passed, 1 when some did not, 2 on a usage error.")
    g.add_argument("submissions", nargs="+", metavar="SUBMISSION", help=".py files or folders")
    g.add_argument("--assignment", "-a", required=True, metavar="NAME|FILE",
                   help="a built-in assignment (`harness list`) or an assignment .toml file")
    g.add_argument("--jobs", "-j", type=_positive_int, default=os.cpu_count() or 1,
                   help="submissions graded in parallel (default: the number of CPUs)")
    g.add_argument("--json", metavar="FILE", help="write every result as JSON (valid after each submission)")
    g.add_argument("--report", metavar="FILE.html", help="write the staff report: one static page (verdicts, scores, "
                                                       "the class's mistakes, every student's report)")
    g.add_argument("--student-pages", metavar="DIR", help="write one page per student: only what their visible cases "
                                                          "show (as Gradescope would), nothing of other students")
    g.add_argument("--gradebook", metavar="FILE.csv", help="write one CSV row per student (student, score, "
                                                           "max_score, percent, verdict, ...) for an LMS gradebook")
    g.add_argument("--gradescope", metavar="PATH", help="write Gradescope results.json (one submission: this file; "
                                                         "several: one <name>.json each in this folder)")
    g.add_argument("--timeout", type=_positive_float, help="seconds per submission (default: the assignment's)")
    g.add_argument("--memory", type=_int_at_least(256), metavar="MB",
                   help="memory cap per submission (default: the assignment's)")
    g.add_argument("--details", action="store_true", help="print the full report of every submission in a batch")
    g.add_argument("--sandbox", default="auto", metavar="MODE",
                   help="strict (bubblewrap namespaces), uid (an unprivileged uid; needs root), process, or auto: "
                        "the strongest this machine allows (default). strict refuses to run without bubblewrap")
    t = sub.add_parser("train", help="train numpy, torch and keras in lockstep from the same weights; curves + logs")
    t.add_argument("--spec", default="softmax_ce", help=f"the net (default softmax_ce); valid: {', '.join(SPECS)}")
    t.add_argument("--dataset", default="digits", help="digits (shipped), mnist (local IDX files, see --data) or synthetic")
    t.add_argument("--data", metavar="ROOT", help="MNIST root: ROOT/MNIST/raw/*-ubyte[.gz] (default ./data)")
    t.add_argument("--epochs", type=_positive_int, default=20, help="epochs (default 20)")
    t.add_argument("--batch", type=_positive_int, default=32, help="batch size (default 32)")
    t.add_argument("--lr", type=_positive_float, help="learning rate (default: the spec's)")
    t.add_argument("--hidden", type=_positive_int, help="hidden units (default: the spec's)")
    t.add_argument("--optimizer", default="sgd", help=f"one of {', '.join(OPTIMIZERS)} (default sgd)")
    t.add_argument("--backends", default="numpy,torch,keras", help="numpy first, then any of torch, keras, jax")
    t.add_argument("--dtype", default="all", help="float64, float32 or all (default: all; the divergence curve "
                                                  "shows how round-off grows in each)")
    t.add_argument("--seed", type=_seed, default=0, help="seed of the weights, the split and the batch order")
    t.add_argument("--out", metavar="DIR", help="where to write curves.png, log.csv, summary.json "
                                                "(default train-SPEC-DATASET)")
    b = sub.add_parser("bench", help="measure speed ratios side by side (docs/benchmarks.md)")
    b.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    b.add_argument("--repeat", type=_positive_int, default=3, help="repetitions per timing (default 3)")
    sub.add_parser("list", help="list specs, backends, built-in assignments, losses, activations and sandboxes "
                                "(with what is available here)")
    sub.add_parser("env", help="installed frameworks, their versions and numeric settings")
    return p


MATRIX_ONLY = {"spec": ",".join(SPECS), "dtype": "all", "seed": 0, "batch": None, "sizes": None, "lr": None,
               "optimizer": "sgd", "steps": 1, "loss": None, "activations": None, "l2": None, "l2_form": "lambda",
               "l2_biases": False}


def _backend_choice(text: str) -> list[str]:
    return list(backend_registry.BACKENDS) if text == "all" else \
        _names(text, list(backend_registry.BACKENDS), "backend")


def _dtype_choice(text: str) -> list[str]:
    return list(DTYPES) if text == "all" else _names(text, list(DTYPES), "dtype")


def _one_optimizer(text: str) -> str:
    optimizer = _names(text, list(OPTIMIZERS), "optimizer")
    if len(optimizer) != 1:
        raise UsageError(f"give one optimizer; valid optimizers: {', '.join(OPTIMIZERS)}")
    return optimizer[0]


def _check_matrix_usage(args, spec_names: list[str], backend_names: list[str]) -> None:
    """What the matrix can compare with these options: a usage error, or a note on one backend."""
    if (args.sizes or args.loss or args.activations) and len(spec_names) != 1:
        raise UsageError("--sizes, --loss and --activations need exactly one --spec")
    if len(backend_names) < 2 and args.no_fd:
        raise UsageError(f"one backend ({backend_names[0]}) and --no-fd: nothing to compare; name a second backend "
                         f"(valid: {', '.join(backend_registry.BACKENDS)}) or drop --no-fd")
    if len(backend_names) < 2:
        # one backend still gets its finite-difference row, but say what is missing
        print(f"note: only one backend ({backend_names[0]}): no pair to compare, finite differences only",
              file=sys.stderr)


def _matrix_specs(args, spec_names: list[str], dtypes: list[str], optimizer: str) -> list:
    """Each named spec at each dtype, with the options' overrides."""
    return [get_spec(name).replace(dtype=dtype, seed=args.seed, batch=args.batch, lr=args.lr, sizes=args.sizes,
                                   optimizer=optimizer, steps=args.steps, loss=args.loss, l2=args.l2,
                                   l2_form=args.l2_form, l2_biases=args.l2_biases or None,
                                   activations=tuple(args.activations.split(",")) if args.activations else None)
            for name in spec_names for dtype in dtypes]


def _require_a_runnable_backend(backend_names: list[str]) -> None:
    if all(backend_registry.missing_reason(n) for n in backend_names):
        reasons = "; ".join(f"{n}: {backend_registry.missing_reason(n)}" for n in backend_names)
        raise OSError(f"none of the backends can run here ({reasons})")


def _matrix_tasks(args, specs: list, backend_names: list[str]) -> list:
    """(label, spec, run) for each spec: its rows of the matrix."""
    from .check.matrix import check_spec
    from .core.tolerance import Tolerance, default_tolerance
    return [(f"{spec.name} {spec.dtype}", spec, lambda spec=spec: check_spec(
        spec, backend_names, Tolerance(args.rtol) if args.rtol else default_tolerance(spec.dtype), fd=not args.no_fd))
        for spec in specs]


def _matrix_pairs(backend_names: list[str], no_fd: bool) -> list[str]:
    return [f"{a}~{b}" for i, a in enumerate(backend_names) for b in backend_names[i + 1:]] + \
        ([] if no_fd else [f"fd~{n}" for n in backend_names])


def cmd_check(args) -> int:
    _output_file(args.json, "--json")
    if args.file or args.assignment:
        return _check_file(args)
    from .check.matrix import CheckSettings

    spec_names = _names(args.spec, list(SPECS), "spec")
    backend_names = _backend_choice(args.backends)
    dtypes = _dtype_choice(args.dtype)
    optimizer = _one_optimizer(args.optimizer)
    _check_matrix_usage(args, spec_names, backend_names)
    specs = _matrix_specs(args, spec_names, dtypes, optimizer)
    _require_a_runnable_backend(backend_names)
    _import_backends(backend_names)
    settings = CheckSettings(tuple(backend_names), tuple(dtypes), args.seed, tuple(spec_names), optimizer,
                             args.steps, args.batch, args.lr, args.rtol)
    return _stream_check(_matrix_tasks(args, specs, backend_names), _matrix_pairs(backend_names, args.no_fd), settings,
                         args, "net")


def _check_file(args) -> int:
    """harness check FILE --assignment A: the student's own file against the frameworks."""
    from .check.submission import (
        FRAMEWORKS,
        SubmissionError,
        installed_frameworks,
        iter_submission,
        submission_settings,
        visible_cases,
    )
    if not (args.file and args.assignment):
        raise UsageError("give both the file and --assignment NAME|TOML (built-in names: harness list)"
                         if args.file else "--assignment checks a FILE: harness check my_net.py --assignment NAME")
    given = [f"--{k.replace('_', '-')}" for k, v in MATRIX_ONLY.items() if getattr(args, k) != v]
    if given:
        raise UsageError(f"{', '.join(given)}: the assignment's cases set these; drop them (or run harness check "
                         "without FILE for the reference nets)")
    _submission_path(args.file)
    assignment = _load_assignment(args.assignment)
    if not assignment.checkable:
        raise UsageError(f"{assignment.name} checks single layers against their exact math: run harness grade "
                         f"{args.file} --assignment {args.assignment} (it prints every layer's checks)")
    against = installed_frameworks() if args.backends == ",".join(DEFAULT_BACKENDS) else \
        tuple(_names(args.backends, list(FRAMEWORKS), "framework"))
    if not against:
        print(f"note: no framework installed ({', '.join(FRAMEWORKS)}): finite differences only; "
              "pip install 'backprop-harness[torch]' to compare with torch", file=sys.stderr)
    if not visible_cases(assignment):
        raise UsageError(f"{assignment.name} has no visible case to check (its cases are for the grader only)")
    hidden = len(assignment.cases) - len(visible_cases(assignment))
    if hidden:
        print(f"note: {hidden} hidden case(s) of {assignment.name} are run by the grader only", file=sys.stderr)
    _import_backends(against)
    cases = {c.name: c.spec.replace(name=c.name) for c in visible_cases(assignment)}
    runs = iter_submission(args.file, assignment, against, fd=not args.no_fd, rtol=args.rtol)
    tasks = [(name, spec, lambda: next(runs)[1]) for name, spec in cases.items()]
    pairs = [f"{n}~yours" for n in against] + ([] if args.no_fd else ["fd~yours"])
    settings = submission_settings(args.file, assignment, against, args.rtol)
    try:
        return _stream_check(tasks, pairs, settings, args, "case")
    except SubmissionError as exc:
        print(f"FAILED: {exc}")
        return 1
    finally:
        runs.close()


def _import_backends(names) -> None:
    """Import the frameworks first (seconds each), saying so on a terminal."""
    todo = [n for n in names if not backend_registry.missing_reason(n) and not backend_registry.loaded(n)]
    bar = progress.bar(len(todo), "importing", "framework")
    for name in todo:
        bar.set_description(f"importing {name}")
        try:
            backend_registry.load(name)
        except backend_registry.BackendUnavailable:
            pass                    # its rows say SKIP, with the reason
        bar.update()
    bar.close()


def _stream_check(tasks, pairs, settings, args, unit: str) -> int:
    """Run each task (a net, or a case of an assignment), printing its rows as they come; the
    mismatches and the summary at the end. Ctrl-C keeps what is done: printed, in --json
    ("complete": false), exit 130."""
    import dataclasses

    from .check.matrix import Report
    from .check.report import HEAD, ending, environment, header, planned_widths, row_line, table_line, write_json
    settings = dataclasses.replace(settings, environment=environment(settings.backends))
    widths = planned_widths([spec for _, spec, _ in tasks], pairs)
    print(header(settings, args.verbose) + "\n\n" + table_line(HEAD, widths), flush=True)
    rows, start, interrupted = [], time.perf_counter(), ""
    bar = progress.bar(len(tasks), "checking", unit)
    try:
        for label, _, task in tasks:
            bar.set_description(label)
            found = task()
            rows.extend(found)
            for row in found:
                progress.say(row_line(row, widths))
            bar.update()
    except KeyboardInterrupt:
        interrupted = f"INTERRUPTED after {len({r.spec for r in rows})} of {len(tasks)} {unit}s:"
    finally:
        bar.close()
    seconds = time.perf_counter() - start
    report = Report(tuple(rows), settings)
    print(ending(report, seconds, args.verbose, interrupted))
    if args.json:
        write_json(report, args.json, seconds, complete=not interrupted)
        print(f"results written to {args.json}" + (" (incomplete)" if interrupted else ""))
    return 130 if interrupted else report.exit_code


def _submission_path(path: str) -> None:
    """A file given on the command line must exist and be Python or a notebook: else a usage error."""
    if not os.path.exists(path):
        raise UsageError(f"no such file: {path}")
    if os.path.isfile(path) and not path.endswith((".py", ".ipynb")):
        raise UsageError(f"{path} is not a .py file or a notebook (.ipynb)")


def _load_assignment(name: str):
    """A built-in assignment or an assignment .toml; what is wrong with it is a usage error."""
    from .drive.assignment import AssignmentError, load
    try:
        return load(name)
    except AssignmentError as exc:
        raise UsageError(str(exc)) from None


def _check_grade_paths(args) -> None:
    """The submissions exist and every output can be written: checked before any grading."""
    for path in args.submissions:
        _submission_path(path)
    _output_file(args.json, "--json")
    _output_file(args.gradebook, "--gradebook")
    _output_file(args.report, "--report")
    _output_folder(args.student_pages, "--student-pages")


def _prepare_gradescope(args, single: bool) -> None:
    """--gradescope: one submission's results.json (in it, where a folder is given), or a folder
    of one file per submission (made here)."""
    if args.gradescope and single and os.path.isdir(args.gradescope):
        args.gradescope = os.path.join(args.gradescope, "results.json")     # a folder: Gradescope's file name in it
    (_output_file if single else _output_folder)(args.gradescope, "--gradescope")
    if args.gradescope and not single:
        os.makedirs(args.gradescope, exist_ok=True)


def _grading_sandbox(args, assignment):
    """The sandbox mode, after the assignment's environment is found; both said on stderr."""
    from .grade import environment, isolation
    try:
        mode = isolation.choose(args.sandbox)
        offered = environment.check(assignment.environment.packages)
    except (isolation.SandboxUnavailable, environment.EnvironmentUnavailable) as exc:
        raise OSError(str(exc)) from None
    print(f"sandbox: {mode.value}: {isolation.PROTECTS[mode]}", file=sys.stderr)
    if offered.entries:
        print(f"environment: numpy, {', '.join(assignment.environment.packages)} (read-only; plotting headless)"
              + (f"; autodiff allowed: {', '.join(offered.frameworks)}" if offered.frameworks else ""), file=sys.stderr)
    return mode


def _show_graded(args, assignment, submissions, g, done: int) -> None:
    """One result as it comes: its Gradescope file, and its report (one submission, or --details)
    or its progress line."""
    from .grade.report import gradescope, line, render, write_json_atomic
    single = len(submissions) == 1
    if args.gradescope:
        target = args.gradescope if single else \
            os.path.join(args.gradescope, f"{_stem(g.submission, submissions)}.json")
        write_json_atomic(target, gradescope(g, assignment.show_output))
    if single or args.details:
        progress.say(render(g) + ("" if single else "\n"))
    else:
        progress.say(f"[{done:>{len(str(len(submissions)))}}/{len(submissions)}] {line(g)}")


def _grade_all(args, assignment, submissions, mode) -> list:
    """Grade every submission, args.jobs at a time, each shown and written as it comes. Ctrl-C:
    what is done is said and kept, the children are stopped."""
    from .grade.batch import grade_many, student_folders
    from .grade.outputs import BatchOutputs
    single, graded, complete = len(submissions) == 1, [], False
    batch = grade_many(submissions, assignment, jobs=args.jobs, timeout_s=args.timeout, memory_mb=args.memory,
                       sandbox_mode=mode.value, own_folders=student_folders(args.submissions))
    bar = progress.bar(0 if single else len(submissions), f"grading ({args.jobs} at a time)", "submission")
    outputs = BatchOutputs(assignment, submissions, args.json, args.gradebook, args.report, args.student_pages)
    try:
        for g in batch:
            graded.append(g)
            bar.update()
            outputs.add(g)
            _show_graded(args, assignment, submissions, g, len(graded))
    except KeyboardInterrupt:
        bar.close()
        kept = f"; results of those are in {args.json}" if args.json and graded else ""
        print(f"\ninterrupted: {len(graded)} of {len(submissions)} graded{kept}", file=sys.stderr)
        raise
    else:
        complete = True
    finally:                     # wherever the interrupt landed: stop the children, join the threads
        bar.close()
        batch.close()
        outputs.close(complete)
    return graded


def _grade_exit_code(graded: list) -> int:
    """3 where the harness itself failed on a submission (said on stderr), else 0 when all passed, else 1."""
    from .drive.problems import Verdict
    grader_errors = [g.submission for g in graded if g.status is Verdict.GRADER]
    if grader_errors:
        print(f"harness grade: {len(grader_errors)} GRADER ERROR(s): the harness itself failed on "
              f"{', '.join(grader_errors)}; not the students' fault: the traceback is under staff_detail "
              "in --json", file=sys.stderr)
        return 3
    return 0 if all(g.passed for g in graded) else 1


def cmd_grade(args) -> int:
    from .grade.batch import find_submissions

    _check_grade_paths(args)
    assignment = _load_assignment(args.assignment)
    submissions = find_submissions(args.submissions, assignment)
    if not submissions:
        raise UsageError(f"no submissions found in {', '.join(args.submissions)} (looked for .py files)")
    single = len(submissions) == 1
    _prepare_gradescope(args, single)
    start = time.perf_counter()
    graded = _grade_all(args, assignment, submissions, _grading_sandbox(args, assignment))
    if not single:
        passed = sum(g.passed for g in graded)
        print(f"\n{passed} of {len(graded)} submissions passed ({assignment.name}) in {time.perf_counter() - start:.1f} s")
    for path in filter(None, (args.json, args.gradebook, args.report, args.student_pages, args.gradescope)):
        print(f"results written to {path}")
    return _grade_exit_code(graded)


def _stem(submission: str, submissions) -> str:
    """A file name for one submission's results: its path below the folder all share."""
    paths = [os.path.abspath(p) for p in submissions]
    base = os.path.commonpath(paths) if len(paths) > 1 else os.path.dirname(paths[0])
    base = base if os.path.isdir(base) else os.path.dirname(base)
    rel = os.path.relpath(os.path.abspath(submission), base)
    return os.path.splitext(rel)[0].replace(os.sep, "_")


def cmd_list(args) -> int:
    from .drive.assignment import builtin_names, load
    print("specs:")
    for spec in SPECS.values():
        print(f"  {spec.name:12} {spec.description} (batch {spec.batch}, lr {spec.lr})")
    print("backends:")
    for name, info in backend_registry.BACKENDS.items():
        reason = backend_registry.missing_reason(name)
        print(f"  {name:12} {info.description}" + (f"  [unavailable: {reason}]" if reason else ""))
    print("assignments (harness grade --assignment NAME):")
    width = max(map(len, builtin_names()))
    for name in builtin_names():
        print(f"  {name:{width}} {load(name).title}")
    from .core.activations import ACTIVATIONS
    from .core.losses import LOSSES
    from .grade import isolation
    print("losses (an assignment's `loss`):")
    for loss in LOSSES.values():
        after = f" (after a {loss.pairs_with} output layer)" if loss.pairs_with not in (None, "linear") else ""
        print(f"  {loss.name:22} {loss.description}{after}")
    print("activations: " + ", ".join(a.name + (" (output only)" if a.output_only else "") for a in ACTIVATIONS.values()))
    print("sandboxes (harness grade --sandbox MODE):")
    for mode in isolation.Mode:
        why = isolation.unavailable(mode)
        print(f"  {mode.value:12} " + (f"[unavailable: {why}]" if why else isolation.PROTECTS[mode]))
    return 0


def _train_backends(args, trainable) -> list[str]:
    backend_names = _names(args.backends, list(trainable), "trainable backend")
    if backend_names[0] != "numpy":
        raise UsageError("the numpy reference comes first in --backends (divergence is measured from it)")
    return backend_names


def _train_base_spec(args):
    """The named spec, which must be a classifier (the datasets are labelled)."""
    base = get_spec(_names(args.spec, list(SPECS), "spec")[0])
    if base.classification is False or base.sizes[-1] == 1:
        raise UsageError(f"{base.name} has one output; train a classifier: relu_mse, sigmoid_mse or softmax_ce")
    return base


def _train_data(args):
    from .train import datasets
    if args.dataset not in datasets.DATASETS:
        raise UsageError(f"unknown dataset {args.dataset!r}; valid: {', '.join(datasets.DATASETS)}")
    try:
        return datasets.load(args.dataset, args.data, args.seed)
    except datasets.DatasetError as exc:
        raise OSError(str(exc)) from None


def _train_in(args, spec, data, backend_names: list[str]):
    """One dtype's training, with a progress bar: its history and what was skipped."""
    from .train import lockstep as train
    bar = progress.bar(args.epochs * -(-len(data.X_train) // spec.batch), f"{spec.dtype}", "step")

    def advance(step, total, epoch):
        bar.set_description(f"training {spec.dtype}, epoch {epoch}/{args.epochs}")
        bar.update()
    history, skipped = train.train(spec, data, args.epochs, backend_names, advance)
    bar.close()
    return history, skipped


def _train_each_dtype(args, base, data, hidden, dtypes: list[str], backend_names: list[str]):
    """Train at each dtype in turn, up to an interrupt: the last spec, the histories, what was skipped."""
    histories, skipped = [], []
    for dtype in dtypes:
        spec = base.replace(sizes=(data.n_features, *hidden, data.n_classes), batch=args.batch, lr=args.lr,
                            dtype=dtype, seed=args.seed, optimizer=_names(args.optimizer, list(OPTIMIZERS), "optimizer")[0])
        h, sk = _train_in(args, spec, data, backend_names)
        histories.append(h)
        skipped += [s for s in sk if s not in skipped]
        if h.interrupted:
            break
    return spec, histories, skipped


def _print_accuracies(result: dict) -> bool:
    """Each dtype's divergence and accuracies; whether every float64 backend's test accuracy equals numpy's."""
    equal = True
    for dtype, d in result["dtypes"].items():
        if not d["final"]:
            continue                      # interrupted before its first epoch ended
        print(f"\n{dtype}: max parameter divergence from numpy {d['max_param_divergence']:.2g}, "
              f"max loss difference {d['max_loss_difference']:.2g}")
        print(f"  {'backend':10} {'train acc':>9} {'test acc':>9} {'samples/s':>10}")
        ref = d["final"].get("numpy", {}).get("test_accuracy")
        for name, acc in d["final"].items():
            same = "" if name == "numpy" else ("  = numpy" if acc["test_accuracy"] == ref else "  differs from numpy")
            equal &= dtype != "float64" or name == "numpy" or acc["test_accuracy"] == ref
            print(f"  {name:10} {acc['train_accuracy']:9.4f} {acc['test_accuracy']:9.4f} "
                  f"{d['samples_per_s'].get(name, 0):10.0f}{same}")
    return equal


def _write_training(histories, result: dict, title: str, out) -> None:
    """log.csv, summary.json and curves.png (where matplotlib is installed) in `out`."""
    from .train import lockstep as train
    train.write_csv(histories, out / "log.csv")
    (out / "summary.json").write_text(json.dumps(result, indent=2))
    missing_png = train.plot(histories, title, out / "curves.png")
    print(f"\nwritten: {out / 'log.csv'}, {out / 'summary.json'}" + ("" if missing_png else f", {out / 'curves.png'}"))
    if missing_png:
        print(f"note: {missing_png}")


def cmd_train(args) -> int:
    from pathlib import Path

    from .train import lockstep as train
    _output_folder(args.out, "--out")
    backend_names = _train_backends(args, train.TRAINABLE)
    dtypes = _dtype_choice(args.dtype)
    base = _train_base_spec(args)
    data = _train_data(args)
    hidden = (args.hidden,) if args.hidden else base.sizes[1:-1]
    out = Path(args.out or f"train-{base.name}-{args.dataset}")
    out.mkdir(parents=True, exist_ok=True)
    print(f"harness train: {base.name} {data.n_features}-{'-'.join(map(str, hidden))}-{data.n_classes} on "
          f"{data.description}; {args.epochs} epochs, batch {args.batch}, {args.optimizer}, "
          f"lr {args.lr or base.lr}, seed {args.seed}, backends {', '.join(backend_names)}")
    spec, histories, skipped = _train_each_dtype(args, base, data, hidden, dtypes, backend_names)
    result = train.summary(spec, data, args.epochs, histories, skipped)
    interrupted = histories[-1].interrupted
    if interrupted:
        print(f"\nINTERRUPTED in {histories[-1].dtype} after {len({s.step for s in histories[-1].steps})} steps: "
              "writing what was done")
    equal = _print_accuracies(result)
    for s in skipped:
        print(f"SKIP {s}")
    _write_training(histories, result, f"{base.name} on {args.dataset}: same weights, same batches", out)
    return 130 if interrupted else 0 if equal else 1


def cmd_env(args) -> int:
    """Every backend: installed or not (with the install hint), versions and numeric settings.
    Importing a framework to read its settings takes seconds; that is what this command is for."""
    from .check.report import environment
    env = environment(list(backend_registry.BACKENDS), load=True)
    print(f"backprop-harness {env['harness']} | python {env['python']} | numpy {env['numpy']} | {env['platform']} "
          f"| cpus {env['cpu_count']}")
    for key in ("OMP_NUM_THREADS", "TF_ENABLE_ONEDNN_OPTS", "KERAS_BACKEND", "JAX_ENABLE_X64", "TF_USE_LEGACY_KERAS"):
        print(f"  {key}={os.environ.get(key, 'unset')}")
    for name, info in env["backends"].items():
        if isinstance(info, dict):
            print(f"{name:12} " + ", ".join(f"{k} {v}" for k, v in {**info["versions"], **info["settings"]}.items()))
        else:
            print(f"{name:12} {info}")
    return 0


def cmd_bench(args) -> int:
    _output_file(args.json, "--json")
    from .bench import run_bench
    return run_bench(json_path=args.json, repeat=args.repeat)


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    try:
        return {"check": cmd_check, "grade": cmd_grade, "train": cmd_train, "bench": cmd_bench, "list": cmd_list,
                "env": cmd_env}[args.command](args)
    except (UsageError, SpecError) as exc:
        print(f"harness {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:              # the reader went away (harness list | head): nothing is wrong
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())   # no second error at exit's flush
        return 0
    except OSError as exc:
        print(f"harness {args.command}: environment error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"harness {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
