"""The layering of the harness package, enforced on its source.

    core      numpy only: imports nothing of the harness outside core
    drive     core, drive
    backends  core, drive, backends
    check     core, drive, backends, check
    grade     core, drive, grade            (never check)
    train     core, drive, backends, train

The top-level modules (cli, assertion, pytest_plugin, bench, __main__, __init__) may import
anything. Every import statement counts, wherever it is (module level, inside a function, under
`if TYPE_CHECKING:`); relative imports are resolved against the importing module's package.
"""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import harness

HARNESS_DIR = Path(harness.__file__).resolve().parent
ROOT = HARNESS_DIR.parent

RULES: dict[str, set[str]] = {
    "core": {"core"},
    "drive": {"core", "drive"},
    "backends": {"core", "drive", "backends"},
    "check": {"core", "drive", "backends", "check"},
    "grade": {"core", "drive", "grade"},
    "train": {"core", "drive", "backends", "train"},
}
NEVER = {("check", "grade"), ("grade", "check")}     # (importer, imported), whatever RULES says
VERSION_ONLY_FROM_ROOT = {"drive", "backends", "check", "grade", "train"}   # `from .. import __version__`


# --- the scanner ---------------------------------------------------------------------------
def module_name(path: Path) -> tuple[str, bool]:
    """(dotted name, is a package) of a .py file under the harness."""
    parts = list(path.resolve().relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        return ".".join(parts[:-1]), True
    return ".".join(parts), False


def is_module(dotted: str) -> bool:
    """Whether a dotted name under the harness is a module or package (a file on disk)."""
    if dotted.split(".")[0] != "harness":
        return False
    base = ROOT.joinpath(*dotted.split("."))
    return base.with_suffix(".py").is_file() or (base / "__init__.py").is_file()


def resolve_base(module: str, is_package: bool, level: int, target: str | None) -> str:
    """The absolute module of `from <level dots><target> import ...` written in `module`."""
    if level == 0:
        return target or ""
    package = module.split(".") if is_package else module.split(".")[:-1]
    if level - 1 >= len(package):
        raise ValueError(f"{module}: relative import beyond the top-level package (level {level})")
    base = package[:len(package) - (level - 1)]
    return ".".join(base + ([target] if target else []))


def imports_in(source: str, module: str, is_package: bool) -> list[tuple[str, str | None, int]]:
    """Every import in `source`: (imported module, imported name or None, line). `from X import n`
    is (X.n, None) when X.n is a module of the harness, else (X, n)."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(alias.name, None, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = resolve_base(module, is_package, node.level, node.module)
            for alias in node.names:
                candidate = f"{base}.{alias.name}"
                if alias.name != "*" and is_module(candidate):
                    found.append((candidate, None, node.lineno))
                else:
                    found.append((base, alias.name, node.lineno))
    return found


def layer_of(dotted: str) -> str | None:
    """core, drive, ... for a sub-package module; "root" for `harness` itself; "top:<name>" for a
    top-level module (cli, assertion, ...); None outside the harness."""
    parts = dotted.split(".")
    if parts[0] != "harness":
        return None
    if len(parts) == 1:
        return "root"
    return parts[1] if parts[1] in RULES else f"top:{parts[1]}"


def offences(edges) -> list[str]:
    """edges: (importing module, imported module, imported name or None, line). The breaches of
    the rules, one 'module:line imports target' each."""
    bad = []
    for module, target, name, line in edges:
        own, theirs = layer_of(module), layer_of(target)
        if own not in RULES or theirs is None:
            continue                      # a top-level module, or a third-party import
        ok = theirs in RULES[own] or (theirs == "root" and name == "__version__" and own in VERSION_ONLY_FROM_ROOT)
        if (own, theirs) in NEVER:
            ok = False
        if not ok:
            bad.append(f"{module}:{line} imports {target}{'.' + name if name else ''}")
    return bad


def harness_modules() -> list[Path]:
    """The harness's own modules (not the courses' support code shipped with the assignments)."""
    support = HARNESS_DIR / "drive" / "assignments"
    return [p for p in sorted(HARNESS_DIR.rglob("*.py")) if support not in p.parents]


def harness_edges():
    edges = []
    for path in harness_modules():
        module, is_package = module_name(path)
        for target, name, line in imports_in(path.read_text(encoding="utf-8"), module, is_package):
            edges.append((module, target, name, line))
    return edges


# --- the scanner proves itself -------------------------------------------------------------
@pytest.mark.parametrize("module,is_package,source,expected", [
    ("harness.grade.batch", False, "from ..core import spec", [("harness.core.spec", None)]),
    ("harness.grade.batch", False, "from ..core.spec import Spec, get_spec",
     [("harness.core.spec", "Spec"), ("harness.core.spec", "get_spec")]),
    ("harness.grade.batch", False, "from . import outputs as out", [("harness.grade.outputs", None)]),
    ("harness.grade.batch", False, "from .. import __version__", [("harness", "__version__")]),
    ("harness.grade.batch", False, "from .. import backends as b", [("harness.backends", None)]),
    ("harness.grade.batch", False, "def f():\n    if True:\n        from ..check.matrix import check_spec\n",
     [("harness.check.matrix", "check_spec")]),
    ("harness.grade.batch", False, "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from ..check import report\n",
     [("typing", "TYPE_CHECKING"), ("harness.check.report", None)]),
    ("harness.grade.batch", False, "import harness.check.matrix as m", [("harness.check.matrix", None)]),
    ("harness.grade.batch", False, "from harness.grade import evaluate", [("harness.grade.evaluate", None)]),
    ("harness.backends", True, "def load():\n    from .isolated import Isolated",
     [("harness.backends.isolated", "Isolated")]),
    ("harness.backends", True, "from . import BackendUnavailable", [("harness.backends", "BackendUnavailable")]),
    ("harness.backends", True, "from .. import cli", [("harness.cli", None)]),
    ("harness.core", True, "from .spec import *", [("harness.core.spec", "*")]),
])
def test_scanner_resolves_imports(module, is_package, source, expected):
    assert [(t, n) for t, n, _ in imports_in(source, module, is_package)] == expected


def test_scanner_rejects_a_relative_import_beyond_the_package():
    with pytest.raises(ValueError, match="beyond the top-level package"):
        imports_in("from ... import x", "harness.grade.batch", False)


def test_offences_list_every_breach():
    edges = [("harness.core.net", "harness.grade.batch", None, 3),
             ("harness.core.net", "harness", "__version__", 4),          # core: preferably nothing, so not even this
             ("harness.check.matrix", "harness.grade.evaluate", "Graded", 5),
             ("harness.grade.report", "harness.check.report", None, 6),
             ("harness.drive.runner", "harness.backends", None, 7),
             ("harness.train.lockstep", "harness.cli", "main", 8),
             ("harness.check.report", "harness", "__version__", 9),       # allowed
             ("harness.check.report", "harness", "backends", 10),         # not a module here: the root's attribute
             ("harness.grade.batch", "harness.core.spec", "Spec", 11),    # allowed
             ("harness.cli", "harness.grade.batch", None, 12),            # top level: anything
             ("harness.core.net", "numpy", None, 13)]                     # third party: not ours to rule
    assert offences(edges) == [
        "harness.core.net:3 imports harness.grade.batch",
        "harness.core.net:4 imports harness.__version__",
        "harness.check.matrix:5 imports harness.grade.evaluate.Graded",
        "harness.grade.report:6 imports harness.check.report",
        "harness.drive.runner:7 imports harness.backends",
        "harness.train.lockstep:8 imports harness.cli.main",
        "harness.check.report:10 imports harness.backends",
    ]


def test_scanner_sees_the_real_imports():
    """Known edges of the real code, among them imports inside functions, so that an empty or
    blind scan cannot pass the layering test."""
    pairs = {(m, t, n) for m, t, n, _ in harness_edges()}
    for edge in [("harness.backends", "harness.backends.isolated", "Isolated"),      # inside load()
                 ("harness.check.matrix", "harness.backends", None),                  # from .. import backends
                 ("harness.check.report", "harness", "__version__"),
                 ("harness.grade.batch", "harness.drive.protocol", None),             # from ..drive import protocol as ev
                 ("harness.grade.child", "harness.drive.runner", "observe"),
                 ("harness.backends.isolated", "harness.core.childenv", "harness_env"),   # inside _start()
                 ("harness.cli", "harness.grade.batch", "grade_many")]:               # inside cmd_grade()
        assert edge in pairs, f"the scan missed {edge}"


def test_every_sub_package_has_a_rule():
    packages = {p.parent.name for p in HARNESS_DIR.glob("*/__init__.py")}
    assert packages == set(RULES), \
        f"sub-packages without a rule: {packages - set(RULES)}; rules for none: {set(RULES) - packages}"


# --- the rules -----------------------------------------------------------------------------
def test_sub_packages_import_only_what_their_layer_allows():
    edges = harness_edges()
    assert len({m for m, *_ in edges}) >= 30, "too few modules scanned"
    bad = offences(edges)
    assert not bad, "imports against the layering (module:line imports name):\n  " + "\n  ".join(bad)


def test_core_imports_nothing_of_the_harness_outside_core():
    """core may not import even the top-level package (for __version__ or anything else)."""
    bad = [f"{m}:{line} imports {t}{'.' + n if n else ''}" for m, t, n, line in harness_edges()
           if layer_of(m) == "core" and layer_of(t) not in (None, "core")]
    assert not bad, "\n".join(bad)


def test_check_and_grade_never_import_each_other():
    bad = [f"{m}:{line} imports {t}{'.' + n if n else ''}" for m, t, n, line in harness_edges()
           if (layer_of(m), layer_of(t)) in NEVER]
    assert not bad, "\n".join(bad)


# --- no framework on import ----------------------------------------------------------------
FRAMEWORKS = ("torch", "tensorflow", "keras", "jax", "tf_keras", "optax", "torchvision")
FRAMEWORK_BACKENDS = {"harness.backends.torch_backend", "harness.backends.keras_backend", "harness.backends.jax_backend"}


def test_every_module_but_the_framework_backends_imports_no_framework():
    """tests/test_backends.py checks the entry points; this imports every other module as well
    (harness.grade.report, .child, .sandbox, harness.backends.isolated, harness.bench, ...)."""
    modules = sorted(module_name(p)[0] for p in harness_modules()
                     if module_name(p)[0] not in FRAMEWORK_BACKENDS and p.name != "__main__.py")
    assert "harness.grade.report" in modules and "harness.drive.runner" in modules
    code = ("import importlib, sys\n"
            f"for m in {modules!r}:\n"
            "    importlib.import_module(m)\n"
            f"bad = sorted(m for m in {FRAMEWORKS!r} if m in sys.modules)\n"
            "print(bad)\n"
            "sys.exit(1 if bad else 0)\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert proc.returncode == 0, f"frameworks imported: {proc.stdout}{proc.stderr}"


def test_the_code_passes_the_projects_ruff_configuration():
    """pyproject.toml's [tool.ruff] (pyflakes, pycodestyle, import order, bugbear, pyupgrade)."""
    ruff = Path(sys.executable).with_name("ruff")
    if not ruff.exists():
        pytest.skip("ruff not installed in this environment (it is in the `test` extra)")
    root = Path(harness.__file__).resolve().parent.parent
    proc = subprocess.run([str(ruff), "check", "--no-cache", "."], cwd=root, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


# --- no import circle; small functions -----------------------------------------------------------
def cycles(edges) -> list[list[str]]:
    """Every circle among the harness's modules, imports inside functions included (a module and
    the package it belongs to count as one only through real import lines)."""
    graph: dict[str, set[str]] = {}
    for m, t, _, _ in edges:
        if t.startswith("harness") and t != m:
            graph.setdefault(m, set()).add(t)
    found, done = [], set()

    def visit(node: str, path: list[str]) -> None:
        if node in path:
            found.append(path[path.index(node):] + [node])
            return
        if node in done:
            return
        for nxt in sorted(graph.get(node, ())):
            visit(nxt, path + [node])
        done.add(node)
    for start in sorted(graph):
        visit(start, [])
    return found


def test_the_cycle_finder_finds_a_circle():
    assert cycles([("harness.a", "harness.b", None, 1), ("harness.b", "harness.a", "x", 9)]) == \
        [["harness.a", "harness.b", "harness.a"]]
    assert cycles([("harness.a", "harness.b", None, 1), ("harness.b", "harness.c", None, 2)]) == []


def type_checking_lines(source: str) -> set[int]:
    """The lines of `if TYPE_CHECKING:` blocks: imports there are for annotations, never run."""
    lines = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
            lines |= {n.lineno for stmt in node.body for n in ast.walk(stmt) if hasattr(n, "lineno")}
    return lines


def runtime_edges():
    """harness_edges() without the imports that only annotations need."""
    skipped = {module_name(p)[0]: type_checking_lines(p.read_text(encoding="utf-8")) for p in harness_modules()}
    return [e for e in harness_edges() if e[3] not in skipped.get(e[0], ())]


def test_no_module_imports_one_that_imports_it_back():
    package_roots = {"harness", "harness.core", "harness.drive", "harness.grade", "harness.check",
                     "harness.backends", "harness.train"}
    found = [c for c in cycles(runtime_edges()) if not set(c) & package_roots]
    assert not found, "import circles:\n  " + "\n  ".join(" -> ".join(c) for c in found)


MAX_LINES, MAX_COMPLEXITY = 60, 25
EXEMPT = {"build_parser"}        # argparse's declarations: long, and no branches


def test_no_function_is_over_60_lines_or_complexity_25():
    """Measured as lizard measures (length in lines, cyclomatic complexity counting each `and`,
    `or`, `if` of a comprehension)."""
    import lizard  # in the `test` extra: missing, this fails rather than skips
    bad = []
    for path in harness_modules():
        for f in lizard.analyze_file(str(path)).function_list:
            if f.name.split("::")[-1] not in EXEMPT and (f.length > MAX_LINES or f.cyclomatic_complexity > MAX_COMPLEXITY):
                bad.append(f"{path.relative_to(ROOT)}:{f.start_line} {f.name}: {f.length} lines, "
                           f"complexity {f.cyclomatic_complexity}")
    assert not bad, f"over {MAX_LINES} lines or complexity {MAX_COMPLEXITY}:\n  " + "\n  ".join(bad)
