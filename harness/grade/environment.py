"""The course's environment inside the sandbox: the distributions an assignment declares
(`[environment] packages = ["matplotlib", "future"]`), found in the grader's own installation
with everything they need, and laid beside numpy on the child's read-only library path.

Never exposed unless an assignment names it, and then said in every report: an autodiff framework
(gradients without backprop). Never exposed at all: the harness itself and its reference
solutions. A declared distribution missing on the grader is one environment error before any
submission runs, with the command that installs it.
"""
from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

# Top-level modules of autodiff frameworks, and the distributions that bring them.
FRAMEWORK_MODULES = ("torch", "tensorflow", "keras", "jax", "jaxlib", "autograd", "tinygrad", "mxnet", "paddle",
                     "chainer", "theano", "micrograd", "flax", "optax", "tf_keras")
NEVER_MODULES = ("harness", "reference_impls")            # the grader and its answers
ALWAYS = ("numpy",)                                        # on the child's path in every assignment
HEADLESS_ENV = {"MPLBACKEND": "Agg"}                        # plotting draws into memory: plt.show() does nothing


class EnvironmentUnavailable(RuntimeError):
    """A declared distribution cannot be offered on this machine (the message says how to fix it)."""


@dataclass(frozen=True)
class Offered:
    """What the child gets besides numpy: each top-level module or folder by its path, and the
    frameworks among them (named by the assignment: said in reports)."""
    entries: tuple[Path, ...] = ()
    frameworks: tuple[str, ...] = ()

    @property
    def modules(self) -> frozenset[str]:
        return frozenset(_module_name(p) for p in self.entries)


def _module_name(path: Path) -> str:
    name = path.name
    return name.split(".", 1)[0] if path.is_file() else name


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _requirements(dist: metadata.Distribution) -> list[str]:
    """The distributions `dist` needs (its markers evaluated here; extras left out)."""
    from packaging.requirements import InvalidRequirement, Requirement
    out = []
    for text in dist.requires or []:
        try:
            req = Requirement(text)
        except InvalidRequirement:
            continue
        if req.marker is None or req.marker.evaluate({"extra": ""}):
            out.append(req.name)
    return out


def _top_level(dist: metadata.Distribution) -> list[Path]:
    """The importable entries a distribution installed (packages, modules, extension modules,
    its bundled .libs folder) and its own metadata folder, as paths."""
    names: dict[str, Path] = {}
    for f in dist.files or []:
        parts = Path(str(f)).parts
        if not parts or parts[0] in ("..", "__pycache__") or parts[0].endswith((".pth", ".data")):
            continue
        names.setdefault(parts[0], Path(dist.locate_file(parts[0])))
    return [p for p in names.values() if p.exists()]


@functools.cache
def offered(packages: tuple[str, ...]) -> Offered:
    """The declared distributions and what they need, as top-level paths; EnvironmentUnavailable
    when one is not installed or would bring what the child must never see."""
    declared = {_canonical(p) for p in packages}
    seen: set[str] = set(ALWAYS)
    todo = [p for p in packages if _canonical(p) not in ALWAYS]
    missing, entries = [], {}
    brought_by: dict[str, str] = {}
    while todo:
        name = todo.pop()
        key = _canonical(name)
        if key in seen:
            continue
        seen.add(key)
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            missing.append(name)
            continue
        for path in _top_level(dist):
            entries.setdefault(path.name, path)
            brought_by.setdefault(_module_name(path), name)
        todo += _requirements(dist)
    if missing:
        raise EnvironmentUnavailable(
            f"the assignment's [environment] needs {', '.join(sorted(missing))}, which the grader does not have: "
            f"install it where the grader runs (pip install {' '.join(sorted(missing))}; for the built-in course "
            "packs: pip install \"backprop-harness[courses]\"), or remove it from the assignment")
    modules = {_module_name(p) for p in entries.values()}
    never = sorted(modules & set(NEVER_MODULES))
    if never:
        raise EnvironmentUnavailable(f"the assignment's [environment] would bring {', '.join(never)} (the grader "
                                     "and its reference solutions) into the sandbox; that is never allowed")
    frameworks = sorted(m for m in modules & set(FRAMEWORK_MODULES))
    smuggled = [m for m in frameworks if _canonical(brought_by[m]) not in declared]
    if smuggled:
        raise EnvironmentUnavailable(
            f"the assignment's [environment] would bring the autodiff framework(s) {', '.join(smuggled)} into the "
            f"sandbox as a dependency of {', '.join(sorted({brought_by[m] for m in smuggled}))}; name them in "
            "packages yourself if submissions may use them (reports then say so)")
    return Offered(tuple(entries[k] for k in sorted(entries)), tuple(frameworks))


def check(packages: tuple[str, ...]) -> Offered:
    """offered(), for the batch's start: one environment error, before any submission runs."""
    return offered(tuple(packages))


def installed_but_not_offered(module: str, offered_modules: frozenset[str]) -> str | None:
    """The distribution that provides top-level `module` on the grader, when the assignment does
    not offer it (None: not installed, or offered)."""
    top = module.split(".")[0]
    if not top or top in offered_modules or top in ALWAYS:
        return None
    dists = _distributions_of().get(top)
    return dists[0] if dists else None


@functools.cache
def _distributions_of() -> dict:
    return metadata.packages_distributions()


_NO_MODULE = re.compile(r"No module named '([\w.]+)'")


def explain_import(problem, offered_modules: frozenset[str], packages: tuple[str, ...]):
    """An IMPORT ERROR for a module the grader has but the assignment does not offer, said to
    staff as such (a Problem, or the same one)."""
    import dataclasses
    found = _NO_MODULE.search(problem.message)
    dist = found and installed_but_not_offered(found.group(1), offered_modules)
    if not dist:
        return problem
    top = found.group(1).split(".")[0]
    framework = " (an autodiff framework)" if top in FRAMEWORK_MODULES else ""
    listed = ", ".join(f'"{p}"' for p in (*packages, dist))
    return dataclasses.replace(problem, message=f"{problem.message}: {top}{framework} is installed on the grader but "
                                                f"this assignment does not offer it (to allow it, course staff add it "
                                                f"to the assignment: [environment] packages = [{listed}])")
