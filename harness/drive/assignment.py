"""Assignments: one TOML file describes a student API once (the adapter), the net it must
implement (a spec), the cases it is graded on and what each check is worth.

The five built-in assignments (harness/drive/assignments/*.toml) are the reference styles; the
reference nets are driven through those very files, so they are graded exactly like students.
"""
from __future__ import annotations

import dataclasses
import functools
import re
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from ..core.layer_math import INPUT_NAMES
from ..core.losses import L2_FORMS
from ..core.params import LAYOUTS
from ..core.spec import Spec, SpecError, get_spec
from .adapter import LAYER_VALUES, NET_VALUES, SPEC_VALUES, Adapter, Call, Param

try:
    import tomllib
except ModuleNotFoundError:         # Python 3.10
    import tomli as tomllib

BUILTIN_DIR = Path(__file__).parent / "assignments"
VISIBILITIES = ("visible", "hidden", "after_due_date", "after_published")   # Gradescope's
# What each kind of call may return (besides values of the code's own, kept for later calls).
RETURNS = {"forward": ("output", "loss"), "loss": ("loss",), "gradients": ("grads", "loss"), "update": ("model",),
           "layer": LAYER_VALUES}
INIT_VALUES = ("lr", "seed", "dtype", "l2", "sizes", "module")   # and sizes.<i>; module: the submission itself
CALL_ARGS = ("model", "X", "T", "lr", "rows", "pairs", "epochs", "output", "labels", "x", "t")   # x, t: with per_row
DATA = ("rows", "columns")
BIAS_SHAPES = ("exact", "lenient")
WRITES = ("in_place", "replace")
MAX_LOG_EPS = 1e-6
# The type each key must have, checked before anything uses it.
_TYPES = {"name": str, "title": str, "spec": str, "loss": str, "reference": str, "file": str, "dtype": str,
          "visibility": str, "batch": int, "seed": int, "lr": (int, float), "weight": (int, float),
          "timeout_s": (int, float), "memory_mb": int, "sizes": list, "activations": list, "l2": (int, float),
          "l2_form": str, "l2_forms_accepted": list, "run": str,
          "log_eps": (int, float), "data": str, "bias_shapes": str, "support": str, "write": str,
          "init_scale": (int, float), "logit_offset": (int, float), "absent_classes": int}


def _check_types(table: dict, where: str) -> dict:
    for key, value in table.items():
        kind = _TYPES.get(key)
        if kind and (isinstance(value, bool) or not isinstance(value, kind)):
            words = {str: "a string", int: "a whole number", list: "a list"}.get(kind, "a number")
            raise AssignmentError(f"{where}: {key} = {value!r} must be {words}")
    for key, item in (("sizes", int), ("activations", str)):
        if key in table and not all(isinstance(v, item) and not isinstance(v, bool) for v in table[key]):
            raise AssignmentError(f"{where}: {key} = {table[key]!r} must list {'whole numbers' if item is int else 'names'}")
    return table


class AssignmentError(ValueError):
    """An assignment file is missing, unreadable or describes something invalid."""


@dataclass(frozen=True)
class Environment:
    """The course's environment: distributions (pip names) every submission may import, offered
    read-only from the grader's own installation (harness.grade.environment); numpy always."""
    packages: tuple[str, ...] = ()

    @property
    def install_command(self) -> str:
        return f"pip install {' '.join(self.packages)}" if self.packages else ""


_DISTRIBUTION = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?$")      # a pip name, PEP 508
NEVER_OFFERED = ("backprop-harness", "harness", "reference-impls", "reference_impls")


def _environment(data: dict) -> Environment:
    """[environment] packages = ["matplotlib", "future"]: the course's packages."""
    table = _table(data, "environment", ("packages",), "environment")
    packages = table.get("packages", [])
    if not isinstance(packages, list) or not all(isinstance(p, str) and _DISTRIBUTION.match(p) for p in packages):
        raise AssignmentError(f"[environment] packages = {packages!r} must list pip distribution names, e.g. "
                              "packages = [\"matplotlib\", \"future\"] (future provides past.builtins)")
    never = [p for p in packages if p.lower().replace("_", "-") in NEVER_OFFERED]
    if never:
        raise AssignmentError(f"[environment] packages: {', '.join(never)} is the grader itself; submissions never "
                              "get it")
    return Environment(tuple(dict.fromkeys(packages)))


@dataclass(frozen=True)
class Scoring:
    """Points per case for each kind of check (gradients: split evenly over the parameters)."""
    forward: float = 1.0
    loss: float = 1.0
    gradients: float = 8.0
    step: float = 0.0
    inputs: float = 0.0


SCORED = tuple(f.name for f in dataclasses.fields(Scoring))


@dataclass(frozen=True)
class Case:
    name: str
    spec: Spec
    visibility: str = "visible"
    weight: float = 1.0


@dataclass(frozen=True)
class Assignment:
    kind: ClassVar[str] = "net"      # the task kind (harness.grade.tasks)
    checkable: ClassVar[bool] = True # harness check / assert_backprop can compare it with the frameworks
    name: str
    title: str
    spec: Spec
    adapter: Adapter                 # module is a placeholder until adapter_for(submission)
    cases: tuple[Case, ...]
    scoring: Scoring
    timeout_s: float = 60.0
    memory_mb: int = 2048
    reference: str | None = None     # module or file of a correct solution, if given
    file: str | None = None          # the submission's file name inside a per-student folder
    show_output: bool = False        # Gradescope: show the code's own stdout/stderr to the student
    source: str = ""                 # where it was read from
    log_eps: float = 0.0             # a loss written with log(p + log_eps) is accepted (0: only the exact log)
    l2_forms_accepted: tuple[str, ...] = ()   # other L2 forms passed (loss and gradients both in that form), noted
    support: str | None = None       # a folder of the course's support modules every submission may import
    skip_cells: tuple[str, ...] = () # notebook cells not run: a tag, or text in the cell's first line
    load: str = "module"             # "definitions": a script's top-level code is not run (runner.load_definitions)
    environment: Environment = Environment()
    float64_results: str = "fail"    # "accept": float64 results for float32 inputs pass (the course runs float64)

    def adapter_for(self, submission: str) -> Adapter:
        return dataclasses.replace(self.adapter, module=str(submission))

    def probes(self) -> tuple[Spec, ...]:
        """Unscored runs for the diagnosis: the smallest case at other batch sizes and learning
        rates, so that a factor of N, K, lr or a hard-coded batch size can be told apart."""
        usual = [c.spec for c in self.cases if not c.spec.extreme and not c.spec.absent_classes]
        base = min(usual or [c.spec for c in self.cases], key=lambda s: (s.n_weights, not s.l2))
        base = base.replace(dtype="float64", init_scale=1.0, logit_offset=0.0, absent_classes=0)
        return tuple(base.replace(batch=n, lr=base.lr * f, seed=100 + i)
                     for i, (n, f) in enumerate(((3, 1.0), (5, 1.0), (5, 0.25))))


def builtin_names() -> list[str]:
    return sorted(p.stem for p in BUILTIN_DIR.glob("*.toml"))


def load(ref: str) -> Assignment:
    """A built-in assignment by name, or an assignment file by path."""
    path = Path(ref)
    if ref in builtin_names():
        path = BUILTIN_DIR / f"{ref}.toml"
    elif not (ref.endswith(".toml") or path.is_file()):
        raise AssignmentError(f"unknown assignment {ref!r}; built-in: {', '.join(builtin_names())} "
                              "(or give the path of a .toml file)")
    if not path.is_file():
        raise AssignmentError(f"no such assignment file: {ref}")
    try:
        data = tomllib.loads(path.read_text())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise AssignmentError(f"{path}: not valid TOML: {exc}") from None
    try:
        return _parse(data, str(path))
    except (SpecError, AssignmentError) as exc:
        raise AssignmentError(f"{path}: {exc}") from None
    except (TypeError, ValueError, AttributeError) as exc:   # a value of a type no check above foresaw
        raise AssignmentError(f"{path}: a value has the wrong type ({type(exc).__name__}: {exc})") from None


@functools.cache
def reference_adapter(name: str) -> Adapter:
    """The adapter that drives reference_impls/<name>.py: the built-in assignment's, with the
    optional constructor arguments (seed, dtype) that the reference nets take."""
    a = load(name)
    return a.adapter_for(a.reference)


# --- parsing -------------------------------------------------------------------------------
def _table(data: dict, key: str, allowed: tuple, where: str, required: tuple = ()) -> dict:
    value = data.get(key, {})
    if not isinstance(value, dict):
        raise AssignmentError(f"[{where}] must be a table")
    unknown = sorted(set(value) - set(allowed))
    if unknown:
        raise AssignmentError(f"[{where}]: unknown key(s) {', '.join(unknown)}; valid: {', '.join(allowed)}")
    missing = [k for k in required if k not in value]
    if missing:
        raise AssignmentError(f"[{where}]: missing {', '.join(missing)}")
    return value


def _call(value, where: str, kind: str) -> Call:
    if isinstance(value, str):
        value = {"call": value}
    spec = _table({"c": value}, "c", ("call", "args", "kwargs", "returns", "per_row"), where, ("call",))
    returns = spec.get("returns", "none")
    if not isinstance(returns, str):
        raise AssignmentError(f"{where}: returns must be a string, e.g. returns = \"{RETURNS[kind][0]}\"")
    args, per_row = spec.get("args", []), spec.get("per_row", False)
    if not isinstance(spec["call"], str) or not isinstance(args, list) or not isinstance(per_row, bool):
        raise AssignmentError(f"{where}: call must be a name, args a list of names, per_row true or false")
    kwargs = spec.get("kwargs", {})
    if not isinstance(kwargs, dict) or not all(isinstance(v, (int, float, str, bool)) for v in kwargs.values()):
        raise AssignmentError(f"{where}: kwargs must be a table of constants, e.g. kwargs = {{ reg = 0.05 }}")
    named = [v for v in kwargs.values() if isinstance(v, str) and v.startswith("$") and v not in SPEC_VALUES]
    if named:
        raise AssignmentError(f"{where}: kwargs value {named[0]!r}; values taken from the case: {', '.join(SPEC_VALUES)}")
    call = Call(spec["call"], tuple(args), returns, per_row, tuple(kwargs.items()))
    _check_returns(call, where, kind)
    return call


def _check_returns(call: Call, where: str, kind: str) -> None:
    names = call.returned
    valid = RETURNS[kind]
    bad = [n for n in names if not n.isidentifier() or (n in NET_VALUES + LAYER_VALUES and n not in valid)]
    if bad or len(set(names)) != len(names) or (call.returns == "none") != (not names) or "none" in names[1:]:
        raise AssignmentError(f"{where}: returns = {call.returns!r}; a {kind} call returns \"none\" or names "
                              f"separated by commas, one per returned value: {', '.join(valid)}, or a name of your "
                              "own for a value a later call takes (\"output,caches\")")
    if kind == "gradients" and "grads" not in names:
        raise AssignmentError(f"{where}: returns = {call.returns!r} must name the gradients: grads")
    if kind == "forward" and not ({"output", "loss"} & set(names)):
        raise AssignmentError(f"{where}: returns = {call.returns!r} must name the output (or the loss)")
    if call.per_row and call.kept:
        raise AssignmentError(f"{where}: a per_row call cannot keep values for later calls ({', '.join(call.kept)})")


def _check_args(calls: list[tuple[str, Call]]) -> None:
    """Every argument is a value the harness hands over, or one an earlier call keeps."""
    kept: list[str] = []
    for where, call in calls:
        valid = [a for a in CALL_ARGS if call.per_row or a not in ("x", "t")] + kept
        unknown = [a for a in call.args if a not in valid]
        if unknown:
            raise AssignmentError(f"{where}: unknown argument(s) {', '.join(map(repr, unknown))}; valid: "
                                  f"{', '.join(valid)}" + ("" if call.per_row else
                                                          " (x, t: one row of X and of T, with per_row = true)"))
        kept += call.kept


def _init(mapping: dict, spec: Spec, where: str) -> tuple:
    if not isinstance(mapping, dict):
        raise AssignmentError(f"{where} must be a table of keyword = value, e.g. {{ n_in = \"sizes.0\" }}")
    out = []
    for kw, value in mapping.items():
        ok = isinstance(value, str) and (value in INIT_VALUES or value.startswith("sizes.") and value[6:].isdigit()
                                         and int(value[6:]) < len(spec.sizes))
        if not ok:
            raise AssignmentError(f"{where}.{kw} = {value!r}; valid: {', '.join(INIT_VALUES)} or "
                                  f"sizes.0 .. sizes.{len(spec.sizes) - 1}")
        out.append((kw, value))
    return tuple(out)


def _adapter(code: dict, spec: Spec, name: str) -> Adapter:
    code = _table({"code": code}, "code", ("factory", "init", "optional_init", "params", "forward", "loss",
                                             "gradients", "update", "lr_attr", "update_per_sample", "data",
                                             "bias_shapes", "write"),
                  "code", ("factory", "params"))
    _check_types({k: code[k] for k in ("data", "bias_shapes", "write") if k in code}, "[code]")
    choices = {"data": DATA, "bias_shapes": BIAS_SHAPES, "write": WRITES}
    for key, valid in choices.items():
        if code.get(key, valid[0]) not in valid:
            raise AssignmentError(f"[code]: {key} = {code[key]!r}; valid: {' | '.join(valid)}")
    data, bias_shapes = code.get("data", "rows"), code.get("bias_shapes", "exact")
    params = []
    given = code["params"]
    if sorted(given) != sorted(spec.param_names):
        raise AssignmentError(f"[code.params] must name exactly {', '.join(spec.param_names)} "
                              f"(the spec's parameters), got {', '.join(given) or 'none'}")
    for pname in spec.param_names:
        p = _table(given, pname, ("path", "layout", "grad_key"), f"code.params.{pname}", ("path", "layout"))
        if p["layout"] not in LAYOUTS:
            raise AssignmentError(f"code.params.{pname}: layout {p['layout']!r}; valid: {', '.join(LAYOUTS)}")
        params.append(Param(pname, p["path"], p["layout"], p.get("grad_key")))
    update = code.get("update", [])
    update = tuple(_call(u, f"code.update[{i}]", "update")
                   for i, u in enumerate(update if isinstance(update, list) else [update]))
    forward = _call(code["forward"], "code.forward", "forward") if "forward" in code else None
    loss = _call(code["loss"], "code.loss", "loss") if "loss" in code else None
    gradients = _call(code["gradients"], "code.gradients", "gradients") if "gradients" in code else None
    if gradients is None and not update:
        raise AssignmentError("[code] needs `gradients` (a call returning them) or `update` (calls doing one "
                              "SGD step), or both")
    _check_args([(w, c) for w, c in (("code.forward", forward), ("code.loss", loss), ("code.gradients", gradients))
                 if c is not None] + [(f"code.update[{i}]", u) for i, u in enumerate(update)])
    return Adapter(name=name, module="<submission>", factory=code["factory"], params=tuple(params), forward=forward,
                   init=_init(code.get("init", {}), spec, "code.init"),
                   optional_init=_init(code.get("optional_init", {}), spec, "code.optional_init"),
                   loss=loss, gradients=gradients, update=update, lr_attr=code.get("lr_attr"),
                   update_per_sample=bool(code.get("update_per_sample", False)), columns=data == "columns",
                   bias_shapes=bias_shapes, write=code.get("write", "in_place"))


def _spec(head: dict) -> Spec:
    base = get_spec(head.get("spec", ""))
    overrides = {k: head[k] for k in ("sizes", "activations", "loss", "batch", "lr", "seed", "l2", "l2_form") if k in head}
    if "l2_biases" in head:
        overrides["l2_biases"] = _flag(head, "l2_biases")
    if "activations" in overrides:
        overrides["activations"] = tuple(overrides["activations"])
    return base.replace(name=head["name"], **overrides) if overrides else base.replace(name=head["name"])


def _check_resolvable(cases, adapter: Adapter) -> None:
    """Every case's gradients must stand out of round-off, or it could only be INCONCLUSIVE: refuse
    when the file loads an lr so small that gradients recovered from the code's update drown in the
    update's round-off, and weights so large that the gradients underflow."""
    from ..core.case_data import net_data
    from ..core.tolerance import BLIND_FRACTION, blindness_reason, recovery_blindness, underflow_blindness
    for case in cases:
        spec, data = case.spec, net_data(case.spec)
        params, mags = data.params, data.magnitudes
        if underflow := underflow_blindness(spec, params, mags):
            raise AssignmentError(f"case {case.name!r}: {underflow}")
        if adapter.gradients is not None:
            continue
        worst = recovery_blindness(spec, params, mags, spec.batch if adapter.update_per_sample else 1)
        if worst > BLIND_FRACTION:
            raise AssignmentError(f"case {case.name!r}: the code only updates in place, and {blindness_reason(spec, worst)}")


def _case(raw: dict, i: int, spec: Spec) -> Case:
    c = _check_types(_table({"c": raw}, "c", ("name", "sizes", "batch", "seed", "dtype", "lr", "l2", "init_scale",
                                              "logit_offset", "absent_classes", "visibility", "weight"), f"cases[{i}]"),
                     f"cases[{i}]")
    visibility = c.get("visibility", "visible")
    if visibility not in VISIBILITIES:
        raise AssignmentError(f"cases[{i}]: visibility {visibility!r}; valid: {', '.join(VISIBILITIES)}")
    sizes = c.get("sizes")
    if sizes is not None and len(sizes) != len(spec.sizes):
        raise AssignmentError(f"cases[{i}]: sizes {sizes} must have {len(spec.sizes)} entries like the spec's")
    case_spec = spec.replace(sizes=sizes, batch=c.get("batch"), seed=c.get("seed"), dtype=c.get("dtype"), lr=c.get("lr"),
                             l2=c.get("l2"), init_scale=c.get("init_scale"), logit_offset=c.get("logit_offset"),
                             absent_classes=c.get("absent_classes"))
    weight = c.get("weight", 1.0)
    if not isinstance(weight, (int, float)) or weight < 0:
        raise AssignmentError(f"cases[{i}]: weight must be a number >= 0, got {weight!r}")
    return Case(c.get("name", f"case {i + 1}"), case_spec, visibility, float(weight))


def _parse(data: dict, source: str) -> Assignment | LayerAssignment:
    tables = ("assignment", "code", "scoring", "cases", "layers", "environment")
    unknown = sorted(set(data) - set(tables))
    if unknown:
        raise AssignmentError(f"unknown table(s) {', '.join(unknown)}; valid: {', '.join(tables)}")
    if "layers" in data:
        return _parse_layers(data, source)
    head = _check_types(_table(data, "assignment", (*COMMON_KEYS, "spec", "sizes", "activations", "loss", "batch",
                                                    "lr", "seed", "l2", "l2_form", "l2_biases", "log_eps",
                                                    "l2_forms_accepted"),
                               "assignment", ("name", "spec")), "[assignment]")
    common = _common(head, data, source)
    spec = _spec(head)
    points = _points(data)
    adapter = _adapter(data.get("code", {}), spec, head["name"])
    if not adapter.reports_loss:
        if points.get("loss", 0) > 0:
            raise AssignmentError(f"[scoring] loss = {points['loss']!r}, but the code reports no loss (no `loss` call, "
                                  "and forward does not return one): the points would go to the harness's own "
                                  "computation; set loss = 0, or name the call that returns the code's loss")
        points["loss"] = 0
    if adapter.forward is None:
        if points.get("forward", 0) > 0:
            raise AssignmentError(f"[scoring] forward = {points['forward']!r}, but [code] names no forward call: "
                                  "set forward = 0, or name the call that returns the output")
        points["forward"] = 0
    log_eps = _log_eps(head, spec)
    scoring = Scoring(**{kind: float(value) for kind, value in points.items()})
    raw_cases = data.get("cases") or [{"name": "default sizes"}]
    if not isinstance(raw_cases, list):
        raise AssignmentError("cases must be an array of tables: [[cases]]")
    cases = tuple(_case(c, i, spec) for i, c in enumerate(raw_cases))
    _check_resolvable(cases, adapter)
    names = [c.name for c in cases]
    if len(set(names)) != len(names):
        raise AssignmentError(f"case names must be unique, got {names}")
    _check_support_factory(adapter.factory, common["support"])
    return Assignment(**common, spec=spec, adapter=adapter, cases=cases, scoring=scoring, log_eps=log_eps,
                      l2_forms_accepted=_l2_forms_accepted(head, spec))


# The [assignment] keys every task kind has (parsed by _common).
COMMON_KEYS = ("name", "title", "timeout_s", "memory_mb", "file", "show_output", "support", "skip_cells", "reference",
               "float64_results", "run")


def _common(head: dict, data: dict, source: str) -> dict:
    """The settings every task kind has, each validated the same way for every kind."""
    timeout, memory = head.get("timeout_s", 60), head.get("memory_mb", 2048)
    if not (timeout > 0 and memory >= 256):
        raise AssignmentError(f"timeout_s must be > 0 and memory_mb an integer >= 256, got {timeout!r}, {memory!r}")
    reference = head.get("reference")
    if reference and (reference.endswith(".py") or "/" in reference):
        reference = str((Path(source).parent / reference).resolve())
    return {"name": head["name"], "title": head.get("title", head["name"]), "timeout_s": float(timeout),
            "memory_mb": memory, "reference": reference, "file": head.get("file"),
            "show_output": _flag(head, "show_output"), "source": source, "support": _support(head, source),
            "skip_cells": _strings(head, "skip_cells"), "environment": _environment(data),
            "float64_results": _float64_results(head), "load": _load(head)}


def _points(data: dict) -> dict:
    """[scoring]: points per kind of check, each a number >= 0."""
    points = _table(data, "scoring", SCORED, "scoring")
    for kind, value in points.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            raise AssignmentError(f"[scoring] {kind} must be a number >= 0, got {value!r}")
    return points


RUNS = {"all": "the whole file runs, as `python file.py` would import it",
        "definitions": "only imports, functions, classes and constants: a script that trains at the top level"}


def _load(head: dict) -> str:
    value = _choice(head, "run", RUNS)
    return "module" if value == "all" else value


def _choice(head: dict, key: str, valid: dict[str, str]) -> str:
    """[assignment] key, one of `valid` (the first is the default), each with what it means."""
    value = head.get(key, next(iter(valid)))
    if value not in valid:
        raise AssignmentError(f"[assignment] {key} = {value!r}; valid: "
                              + " or ".join(f'"{k}" ({means})' for k, means in valid.items()))
    return value


def _l2_forms_accepted(head: dict, spec: Spec) -> tuple[str, ...]:
    forms = _strings(head, "l2_forms_accepted")
    for form in forms:
        if form not in L2_FORMS:
            raise AssignmentError(f"[assignment] l2_forms_accepted: unknown L2 form {form!r}; valid: "
                                  + ", ".join(f"{k} ({f.written})" for k, f in L2_FORMS.items()))
    return tuple(f for f in forms if f != spec.l2_form)


def _strings(head: dict, key: str) -> tuple[str, ...]:
    value = head.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise AssignmentError(f"[assignment] {key} must be a list of non-empty strings, e.g. {key} = [\"# train\"]")
    return tuple(value)


def _support(head: dict, source: str) -> str | None:
    folder = head.get("support")
    if folder is None:
        return None
    path = (Path(source).parent / folder).resolve()
    if not path.is_dir():
        raise AssignmentError(f"[assignment] support = {folder!r}: no such folder beside the assignment file "
                              f"({path})")
    return str(path)


def _check_support_factory(factory: str, support: str | None) -> None:
    """factory = "module.Name" names a class of the assignment's support modules: the module must
    be there (a missing one is the assignment's mistake, said before any submission runs)."""
    if "." not in factory:
        return
    module = factory.rpartition(".")[0]
    if support is None or not (Path(support) / (module.replace(".", "/") + ".py")).is_file():
        raise AssignmentError(f"[code] factory = {factory!r} names a support module {module!r}, but "
                              + (f"{support} has no {module.replace('.', '/')}.py" if support else
                                 "the assignment has no support folder ([assignment] support = \"...\")"))


def _log_eps(head: dict, spec: Spec) -> float:
    eps = head.get("log_eps", 0.0)
    if not 0 <= eps <= MAX_LOG_EPS:
        raise AssignmentError(f"[assignment] log_eps = {eps!r}: a stabilizer log(p + eps) is accepted for "
                              f"0 < eps <= {MAX_LOG_EPS:g} (0: only the exact log)")
    if eps and spec.loss_record.with_log_eps is None:
        raise AssignmentError(f"[assignment] log_eps: the loss {spec.loss} takes no log")
    return float(eps)


# --- layer assignments: single layers, each checked alone -----------------------------------------
@dataclass(frozen=True)
class LayerCaseDef:
    """A case of a layer assignment, made concrete per layer kind by for_layer()."""
    name: str
    batch: int = 4
    sizes: tuple[int, ...] = (5, 3)      # (inputs D, outputs M); M only for affine layers
    x_dims: tuple[int, ...] = ()
    seed: int = 0
    dtype: str = "float64"
    scale: float = 1.0
    visibility: str = "visible"
    weight: float = 1.0

    def for_layer(self, kind: str):
        from ..core.layer_kinds import LayerCase, role, validate
        affine = role(kind) == "affine"
        return validate(LayerCase(kind, self.batch, self.sizes[0], self.sizes[1] if affine else 0, self.seed,
                                  self.dtype, self.x_dims if affine else (), self.scale))


@dataclass(frozen=True)
class LayerAssignment:
    """Single layers (forward/backward pairs), each checked alone on every case."""
    kind: ClassVar[str] = "layers"
    checkable: ClassVar[bool] = False
    name: str
    title: str
    layers: tuple
    cases: tuple[LayerCaseDef, ...]
    scoring: Scoring
    timeout_s: float = 60.0
    memory_mb: int = 2048
    file: str | None = None
    show_output: bool = False
    source: str = ""
    support: str | None = None
    skip_cells: tuple[str, ...] = ()
    reference: str | None = None
    environment: Environment = Environment()
    float64_results: str = "fail"
    load: str = "module"
    bias_shapes: str = "exact"       # "lenient": a db of shape (1, M) or (M, 1) read as (M,), noted

    def runs(self) -> dict:
        """Run id -> (the layer, its LayerCase), layer by layer, case by case."""
        return {f"{layer.name}: {case.name}": (layer, case.for_layer(layer.kind)) for layer in self.layers
                for case in self.cases}


def _parse_layers(data: dict, source: str) -> LayerAssignment:
    head = _check_types(_table(data, "assignment", (*COMMON_KEYS, "bias_shapes"), "assignment", ("name",)),
                        "[assignment]")
    common = _common(head, data, source)
    raw = data["layers"]
    if not isinstance(raw, list) or not raw:
        raise AssignmentError("layers must be an array of tables: [[layers]]")
    layers = [_layer(item, f"layers[{i}]") for i, item in enumerate(raw)]
    names = [la.name for la in layers]
    if len(set(names)) != len(names):
        raise AssignmentError(f"layer names must be unique, got {names}")
    scoring = Scoring(**{k: float(v) for k, v in _points(data).items() if k in ("forward", "gradients", "inputs")})
    cases = tuple(_layer_case(c, i, layers) for i, c in enumerate(data.get("cases") or [{"name": "default"}]))
    return LayerAssignment(**common, layers=tuple(layers), cases=cases, scoring=scoring, bias_shapes=_bias_shapes(head))


LAYER_NEEDS = {"affine": {"out", "dx", "dw", "db"}, "activation": {"out", "dx"}, "loss": {"loss", "dx"}}


def _layer(item, where: str):
    """[[layers]]: one layer's calls (or class) and what they return."""
    from ..core.layer_kinds import kinds, role
    from .layer_driver import LayerAdapter
    t = _table({"l": item}, "l", ("name", "kind", "forward", "backward", "factory", "init", "set", "attrs"), where,
               ("name", "kind", "forward"))
    if t["kind"] not in kinds():
        raise AssignmentError(f"{where}: kind {t['kind']!r}; valid: {', '.join(kinds())}")
    calls = [_layer_call(t["forward"], f"{where}.forward")] + \
        ([_layer_call(t["backward"], f"{where}.backward")] if "backward" in t else [])
    valid_args = list(INPUT_NAMES)
    for call in calls:
        unknown = [a for a in call.args if a not in valid_args]
        if unknown:
            raise AssignmentError(f"{where}: {call.target}: unknown argument(s) {', '.join(map(repr, unknown))}; "
                                  f"valid: {', '.join(valid_args)}")
        valid_args += list(call.kept)
    maps = {k: _mapping(t.get(k, {}), f"{where}.{k}") for k in ("init", "set", "attrs")}
    _check_layer_maps(maps, where, "factory" in t)
    got = {n for c in calls for n in c.returned} | {k for k, _ in maps["attrs"]}
    need = LAYER_NEEDS[role(t["kind"])]
    if not need <= got:
        raise AssignmentError(f"{where} ({t['kind']}): its calls' returns and attrs must give "
                              f"{', '.join(sorted(need))}; missing {', '.join(sorted(need - got))}")
    return LayerAdapter(t["name"], t["kind"], calls[0], calls[1] if len(calls) > 1 else None,
                        t.get("factory"), maps["init"], maps["set"], maps["attrs"])


def _check_layer_maps(maps: dict, where: str, has_factory: bool) -> None:
    inputs = {*INPUT_NAMES, "inputs", "outputs"}
    bad = [v for k in ("init", "set") for _, v in maps[k] if v not in inputs] + \
          [k for k, _ in maps["attrs"] if k not in RETURNS["layer"]]
    if bad:
        raise AssignmentError(f"{where}: {bad[0]!r}; init/set values: {', '.join(sorted(inputs))}; attrs keys: "
                              f"{', '.join(RETURNS['layer'])}")
    if (maps["init"] or maps["set"] or maps["attrs"]) and not has_factory:
        raise AssignmentError(f"{where}: init, set and attrs need a factory (the layer's class)")


def _layer_case(raw, i: int, layers: list) -> LayerCaseDef:
    """[[cases]] of a layer assignment, valid for every layer's kind."""
    from ..core.layer_kinds import LayerError
    c = _check_types(_table({"c": raw}, "c", ("name", "batch", "sizes", "x_dims", "seed", "dtype", "scale",
                                              "visibility", "weight"), f"cases[{i}]"), f"cases[{i}]")
    case = LayerCaseDef(c.get("name", f"case {i + 1}"), c.get("batch", 4), tuple(c.get("sizes", (5, 3))),
                        tuple(c.get("x_dims", ())), c.get("seed", 0), c.get("dtype", "float64"),
                        float(c.get("scale", 1.0)), c.get("visibility", "visible"), float(c.get("weight", 1.0)))
    if len(case.sizes) != 2 or case.visibility not in VISIBILITIES:
        raise AssignmentError(f"cases[{i}]: sizes = [inputs, outputs] and visibility one of "
                              f"{', '.join(VISIBILITIES)}; got {list(case.sizes)}, {case.visibility!r}")
    try:
        for layer in layers:
            case.for_layer(layer.kind)
    except LayerError as exc:
        raise AssignmentError(f"cases[{i}]: {exc}") from None
    return case


def _bias_shapes(head: dict) -> str:
    return _choice(head, "bias_shapes", {"exact": "every array in its layout's shape",
                                         "lenient": "a bias gradient of shape (1, M) or (M, 1) read as (M,)"})


def _layer_call(value, where: str) -> Call:
    return _call(value, where, "layer")


def _mapping(value, where: str) -> tuple[tuple[str, str], ...]:
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise AssignmentError(f"{where} must be a table of name = \"value\"")
    return tuple(value.items())


FLOAT64_RESULTS = {"fail": "float32 inputs must give float32 results",
                   "accept": "float64 results pass, as where the course computes in float64"}


def _float64_results(head: dict) -> str:
    return _choice(head, "float64_results", FLOAT64_RESULTS)


def _flag(head: dict, key: str) -> bool:
    value = head.get(key, False)
    if not isinstance(value, bool):
        raise AssignmentError(f"[assignment] {key} must be true or false, got {value!r}")
    return value
