"""Running foreign numpy code through its Adapter.

A `Session` is one imported module driven by one adapter at one spec; its methods are the named
steps every use of foreign code is made of: build a model and write the canonical weights into
it, read them back, forward + loss, gradients from a call, gradients recovered from updates,
one step, and which inputs the code modified in place. `run_adapter()` composes them into a
Run (check and grade); `Driver` keeps one model across calls (training). Both use the same
steps, so they cannot drift apart.
"""
from __future__ import annotations

import ast
import dataclasses
import importlib
import importlib.util
import itertools
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..core.params import LayoutError, row_or_column, store, to_canonical
from ..core.run import Run
from .adapter import Adapter, AdapterError, Call, ShapeError

if TYPE_CHECKING:
    from ..core.spec import Spec

_counter = itertools.count()


def load_module(ref: str):
    if ref.endswith(".py") or "/" in ref:
        path = Path(ref)
        if not path.is_file():
            raise AdapterError(f"no such file: {ref}")
        name = f"_bph_student_{next(_counter)}_{path.stem}"
        mod_spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(mod_spec)
        sys.modules[name] = module
        mod_spec.loader.exec_module(module)
        return module
    return importlib.import_module(ref)


CELL_MARK = "# --- cell "            # harness.drive.notebook starts each cell's lines with it


def load_statements(ref: str):
    """A notebook's script as Jupyter would have run its cells: cell by cell and statement by
    statement, each in the module's namespace; a cell that does not parse, or a statement that
    raises (a test cell importing the course's unshipped test helpers), is skipped and the rest
    still run. Returns (module, [(exception, lineno)]) for what was skipped."""
    import types
    path = Path(ref)
    if not path.is_file():
        raise AdapterError(f"no such file: {ref}")
    name = f"_bph_student_{next(_counter)}_{path.stem}"
    module = types.ModuleType(name)
    module.__file__ = str(path)
    sys.modules[name] = module
    skipped = []
    for first, cell in _cells(path.read_text()):
        try:
            tree = ast.parse(cell, str(path))
        except SyntaxError as exc:
            exc.lineno = (exc.lineno or 1) + first - 1
            skipped.append((exc, exc.lineno))
            continue
        ast.increment_lineno(tree, first - 1)
        for node in tree.body:
            try:
                exec(compile(ast.Module([node], []), str(path), "exec"), module.__dict__)
            except (SystemExit, MemoryError):
                raise
            except Exception as exc:          # noqa: BLE001 - the notebook's own statement
                skipped.append((exc, node.lineno))
    return module, skipped


DEFINITIONS = ("Import", "ImportFrom", "FunctionDef", "AsyncFunctionDef", "ClassDef")


def load_definitions(ref: str):
    """A script's definitions only: its imports, functions and classes, and assignments whose value
    is a constant, run in order; every other top-level statement (a training loop, a seeding call
    such as nnfs.init(), plots, prints) is left out."""
    path = Path(ref)
    if not path.is_file():
        raise AdapterError(f"no such file: {ref}")
    tree = ast.parse(path.read_text(), str(path))
    kept = [n for n in tree.body if type(n).__name__ in DEFINITIONS or _constant_assignment(n)]
    name = f"_bph_student_{next(_counter)}_{path.stem}"
    module = importlib.util.module_from_spec(importlib.util.spec_from_loader(name, loader=None, origin=str(path)))
    module.__file__ = str(path)
    sys.modules[name] = module
    exec(compile(ast.Module(kept, []), str(path), "exec"), module.__dict__)
    return module


def _constant_assignment(node) -> bool:
    return isinstance(node, ast.Assign) and all(isinstance(t, ast.Name) for t in node.targets) and \
        isinstance(node.value, ast.Constant)


def _cells(text: str) -> list[tuple[int, str]]:
    """(first line number, source) of each cell of a notebook script."""
    cells, start, lines = [], 1, []
    for number, line in enumerate(text.splitlines(), start=1):
        if line.startswith(CELL_MARK):
            if lines:
                cells.append((start, "\n".join(lines)))
            start, lines = number + 1, []
        else:
            lines.append(line)
    if lines:
        cells.append((start, "\n".join(lines)))
    return cells


def module_name(module) -> str:
    return getattr(module, "__file__", None) or getattr(module, "__name__", "?")


# --- small pieces ----------------------------------------------------------------------------
def _resolve(obj, path: str):
    """Follow a dotted path: attribute, dict key or list index at each step."""
    for part in path.split("."):
        obj = _step(obj, part, path)
    return obj


def _assign(obj, path: str, value) -> None:
    """Put `value` where a dotted path leads (attribute, dict key or list index)."""
    *head, last = path.split(".")
    holder = _resolve(obj, ".".join(head)) if head else obj
    if isinstance(holder, dict):
        holder[last] = value
    elif isinstance(holder, list) and last.lstrip("-").isdigit():
        holder[int(last)] = value
    else:
        setattr(holder, last, value)


def _step(obj, part, path):
    if isinstance(obj, dict):
        if part in obj:
            return obj[part]
    elif isinstance(obj, (list, tuple)) and part.lstrip("-").isdigit():
        return obj[int(part)]
    elif hasattr(obj, part):
        return getattr(obj, part)
    raise AdapterError(f"cannot find {path!r}: no {part!r} on {type(obj).__name__}")


def _support_factory(ref: str):
    """factory = "course_module.Name": a class of the assignment's support modules that builds the
    model from the submission's own classes (it gets the submission as init value "module")."""
    module_name, _, name = ref.rpartition(".")
    try:
        return getattr(importlib.import_module(module_name), name)
    except (ImportError, AttributeError) as exc:
        raise AdapterError(f"the assignment's factory {ref!r} cannot be loaded from its support modules: {exc}") from None


def _init_value(key: str, spec: Spec):
    if key.startswith("sizes."):
        return spec.sizes[int(key.split(".", 1)[1])]
    if key == "dtype":
        return np.dtype(spec.dtype).type
    if key == "sizes":
        return list(spec.sizes)
    return {"lr": spec.lr, "seed": spec.seed, "l2": spec.l2}[key]


def _keywords(factory) -> set | None:
    """Keyword arguments a callable accepts (None: any, it takes **kwargs)."""
    try:
        import inspect  # here: the grading child imports this module on every start
        sig = inspect.signature(factory)
    except (TypeError, ValueError):
        return set()
    if any(p.kind is p.VAR_KEYWORD for p in sig.parameters.values()):
        return None
    return {n for n, p in sig.parameters.items() if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}


def _check_accepts(factory, name: str, kwargs: dict) -> None:
    """The constructor takes the assignment's keyword arguments, or an AdapterError saying so."""
    import inspect
    try:
        sig = inspect.signature(factory)
    except (TypeError, ValueError):
        return                                   # no signature to read (a builtin): let the call decide
    try:
        sig.bind(**kwargs)
    except TypeError as exc:
        raise AdapterError(f"{name}{sig} cannot be called with the assignment's arguments "
                           f"{', '.join(f'{k}=' for k in kwargs) or '(none)'}: {exc}") from None


def numeric(value, what: str) -> np.ndarray:
    """The value as a float array, or an AdapterError that says what came back instead."""
    if value is None:
        raise AdapterError(f"{what} returned None (a missing `return`?)")
    try:
        arr = np.asarray(value)
    except Exception as exc:   # ragged lists and the like
        raise AdapterError(f"{what} returned a {type(value).__name__} that is not an array of numbers ({exc})") from None
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
        raise AdapterError(f"{what} returned a {type(value).__name__} of {arr.dtype}, not numbers")
    if np.issubdtype(arr.dtype, np.complexfloating):
        raise AdapterError(f"{what} returned complex numbers ({arr.dtype}); a net's values are real")
    return arr if np.issubdtype(arr.dtype, np.floating) else arr.astype(np.float64)


def _what(call: Call, name: str) -> str:
    """How a message names one returned value."""
    return call.target if len(call.returned) == 1 else f"{call.target} ({name})"


def _returned(value, call: Call) -> dict:
    """A call's return value, by the names its `returns` gives them."""
    names = call.returned
    if len(names) <= 1:
        return dict.fromkeys(names, value)
    if not (isinstance(value, (tuple, list)) and len(value) == len(names)):
        got = f"{len(value)} values" if isinstance(value, (tuple, list)) else f"a {type(value).__name__}"
        raise AdapterError(f"{call.target} should return {len(names)} values ({', '.join(names)}), got {got}")
    return dict(zip(names, value, strict=True))


def _same(a, b) -> bool:
    return isinstance(a, np.ndarray) and a.shape == b.shape and bool(np.array_equal(a, b, equal_nan=True))


def _same_shapes(before: dict, after: dict) -> dict:
    for k, v in after.items():
        if v.shape != before[k].shape:
            hint = " (a transposed gradient?)" if v.shape == before[k].shape[::-1] else ""
            raise ShapeError(f"the update changed the shape of {k} from {before[k].shape} to {v.shape}{hint}")
    return after


def call_env(X, T, lr, columns: bool = False) -> dict:
    """The values a Call may name as arguments (besides model, output, x, t and kept values):
    copies, so that what the code does to them can be told apart from the originals; in the
    code's orientation (columns: X is (features, N))."""
    Xc, Tc = (X.T, T.T) if columns else (X, T)
    pairs = [(x.reshape(-1, 1), t.reshape(-1, 1)) if columns else (x, t) for x, t in zip(X.copy(), T.copy(), strict=True)]
    return {"X": Xc.copy(), "T": Tc.copy(), "lr": lr, "epochs": 1, "labels": T.argmax(axis=1),
            "rows": np.hstack([X, T]), "pairs": pairs}


def _canonical_inputs(env: dict, columns: bool) -> tuple:
    """(X, T, rows) as the code left them, in the harness's row orientation."""
    return (env["X"].T, env["T"].T, env["rows"]) if columns else (env["X"], env["T"], env["rows"])


# --- the steps -------------------------------------------------------------------------------
class Session:
    """One module driven by one adapter at one spec: the named steps."""

    def __init__(self, adapter: Adapter, spec: Spec, module=None):
        self.adapter, self.spec = adapter, spec
        self.module = module if module is not None else load_module(adapter.module)
        self.handed: list[dict] = []            # every call env handed to the code, in order
        self.misshaped: dict[str, np.ndarray] = {}   # gradients returned in a shape their layout cannot read

    def new_model(self, params):
        """Construct the model and write the canonical weights into it."""
        model = self._construct()
        self.write(model, params)
        return model

    def _construct(self):
        a, module = self.adapter, self.module
        factory = _support_factory(a.factory) if "." in a.factory else getattr(module, a.factory, None)
        if factory is None:
            defined = sorted(n for n, v in vars(module).items() if not n.startswith("_") and
                             (isinstance(v, type) or callable(v)) and getattr(v, "__module__", None) == module.__name__)
            raise AdapterError(f"{a.module} defines no {a.factory!r}"
                               + (f" (it defines: {', '.join(defined)}; is this the right assignment?)" if defined else ""))
        if not callable(factory):
            raise AdapterError(f"{a.factory!r} in {a.module} is a {type(factory).__name__}, not a class or function")
        kwargs = {kw: module if key == "module" else _init_value(key, self.spec) for kw, key in a.init}
        if a.optional_init:
            accepted = _keywords(factory)
            kwargs.update({kw: _init_value(key, self.spec) for kw, key in a.optional_init
                           if accepted is None or kw in accepted})
        _check_accepts(factory, a.factory, kwargs)
        return factory(**kwargs)

    def write(self, model, params) -> None:
        """The canonical weights into the code's arrays: in place, or (write = "replace") as new
        arrays of the weights' dtype put where the old ones were (float32 cases for code that
        makes its arrays float64)."""
        fresh: dict[str, np.ndarray] = {}          # replace: one new array per path (packed layouts share one)
        for p in self.adapter.params:
            stored = fresh.get(p.path)
            if stored is None:
                stored = _resolve(model, p.path)
                if not isinstance(stored, np.ndarray):
                    raise AdapterError(f"{p.path!r} holds a {type(stored).__name__}, not a numpy array")
                if self.adapter.write == "replace":
                    stored = fresh[p.path] = np.empty(stored.shape, params[p.name].dtype)
            try:
                store(p.layout, stored, self._bias_as_kept(p, stored, params[p.name]))
            except LayoutError as exc:
                raise AdapterError(f"{p.name} at {p.path!r} (layout {p.layout}): {exc}") from None
        for path, array in fresh.items():
            _assign(model, path, array)

    def read(self, model) -> dict:
        """The parameters, read back into the canonical layout."""
        try:
            return {p.name: self._bias_as_canonical(p, numeric(to_canonical(p.layout, _resolve(model, p.path)),
                                                               f"parameter {p.name} at {p.path!r}"))
                    for p in self.adapter.params}
        except LayoutError as exc:
            raise AdapterError(str(exc)) from None

    def _lenient(self, p, shape: tuple, size: int) -> bool:
        """bias_shapes = "lenient" and a bias of the layout "vec" kept as (1, n) or (n, 1)."""
        return self.adapter.bias_shapes == "lenient" and p.layout == "vec" and row_or_column(shape, size)

    def _bias_as_kept(self, p, stored: np.ndarray, value: np.ndarray) -> np.ndarray:
        return value.reshape(stored.shape) if self._lenient(p, stored.shape, value.size) else value

    def _bias_as_canonical(self, p, value: np.ndarray) -> np.ndarray:
        return value.reshape(-1) if self._lenient(p, value.shape, value.size) else value

    def batch(self, X, T) -> dict:
        env = call_env(X, T, self.spec.lr, self.adapter.columns)
        self.handed.append(env)
        return env

    def call(self, model, call: Call, env: dict):
        """The call's return value; with per_row, the list of its return values, one per row."""
        owner, _, attr = call.target.rpartition(".")
        holder = self.module if owner == "module" else model
        fn = getattr(holder, attr, None)
        if fn is None:
            where = f"module {module_name(self.module)}" if owner == "module" else type(model).__name__
            raise AdapterError(f"{call.target!r} does not exist: {where} has no attribute {attr!r}")
        if not callable(fn):
            raise AdapterError(f"{call.target!r} is a {type(fn).__name__}, not a function or method")
        env = dict(env, model=model)
        unknown = [a for a in call.args if a not in env and a not in ("x", "t")]
        if unknown:
            raise AdapterError(f"{call.target}: unknown argument name(s) {unknown}; valid: {sorted(env)} and x, t")
        kwargs = {k: self._constant(v) for k, v in call.kwargs}
        if not call.per_row:
            return fn(*(env[a] for a in call.args), **kwargs)
        return [fn(*(dict(env, x=x, t=t)[a] for a in call.args), **kwargs) for x, t in env["pairs"]]

    def _constant(self, value):
        return {"$l2": self.spec.l2, "$lr": self.spec.lr}.get(value, value) if isinstance(value, str) else value

    def _keep(self, env: dict, call: Call, values: dict) -> None:
        env.update({name: values[name] for name in call.kept})

    def forward(self, model, env: dict):
        """-> (output in rows, loss or None) from the forward call (None, None without one). The
        code's own output (its orientation) is kept in env["output"] for later calls."""
        f = self.adapter.forward
        if f is None:
            return None, None
        value = self.call(model, f, env)
        if f.per_row:
            values = [_returned(v, f) for v in value]
            out = np.asarray([numeric(v.get("output"), f.target) for v in values]).reshape(len(values), -1)
            env["output"] = out
            return out, None
        values = _returned(value, f)
        self._keep(env, f, values)
        out = numeric(values["output"], _what(f, "output")) if "output" in values else None
        if out is not None:
            env["output"] = values["output"]
            out = out.T if self.adapter.columns and out.ndim == 2 else out
        loss = numeric(values["loss"], _what(f, "loss")) if "loss" in values else None
        return out, loss

    def loss(self, model, env: dict, loss):
        """The loss: the loss call's, the forward call's, or None when the code reports none."""
        call = self.adapter.loss
        if call is not None:
            values = _returned(self.call(model, call, env), call)
            self._keep(env, call, values)
            loss = numeric(values.get("loss"), f"{call.target} (loss)")
        return loss

    def gradients_from_call(self, model, env: dict) -> tuple[dict, np.ndarray | None]:
        """The gradients the call returns, canonical (a key it lacks is left out: it costs only
        that parameter's check, see derive), and the loss when the call returns one too. A
        per-row call's gradients (and losses) are summed over the rows: derive() scales them as
        the loss averages (the grading child knows no loss)."""
        g = self.adapter.gradients
        raw = self.call(model, g, env)
        if not g.per_row:
            values = _returned(raw, g)
            self._keep(env, g, values)
            loss = numeric(values["loss"], f"{g.target} (loss)") if "loss" in values else None
            return self._grads_of(values.get("grads")), loss
        rows = [_returned(r, g) for r in raw]
        grads = [self._grads_of(r.get("grads")) for r in rows]
        summed = {k: sum(gr[k] for gr in grads) for k in grads[0] if all(k in gr for gr in grads)}
        loss = sum(numeric(r["loss"], f"{g.target} (loss)") for r in rows) if "loss" in g.returned else None
        return summed, loss

    def _grads_of(self, raw) -> dict:
        g = self.adapter.gradients
        if not isinstance(raw, (dict, list, tuple)):
            raise AdapterError(f"{g.target} returned {type(raw).__name__} for the gradients, expected a dict "
                               "(or a list/tuple the assignment's grad_key paths index)")
        found = {}
        for p in self.adapter.params:
            key = p.grad_key or p.name
            try:
                value = raw[key] if isinstance(raw, dict) and key in raw else _resolve(raw, key)
            except (AdapterError, IndexError, KeyError, TypeError):
                continue
            array = numeric(value, f"{g.target}[{key!r}]")
            try:
                found[p.name] = to_canonical(p.layout, array)
            except LayoutError:
                self.misshaped[p.name] = array        # that gradient's check fails on its shape (derive)
        if not found and not self.misshaped:
            keys = ", ".join(repr(p.grad_key or p.name) for p in self.adapter.params)
            what = f"a dict with keys {sorted(map(str, raw))}" if isinstance(raw, dict) else \
                f"a {type(raw).__name__} of {len(raw)}"
            raise AdapterError(f"{g.target} returned {what}: none of the gradients {keys} is in it")
        return found

    def update(self, model, env: dict):
        """One update, in the code's own way: -> (the parameters after it, the model after it: the
        same one, or the one an update call returns)."""
        if self.adapter.lr_attr:
            setattr(model, self.adapter.lr_attr, self.spec.lr)
        for call in self.adapter.update:
            values = _returned(self.call(model, call, env), call)
            self._keep(env, call, values)
            if "model" in values:
                model = values["model"]
        return self.read(model), model

    def update_needs_forward(self) -> bool:
        """An update call takes the output, or a value the forward call keeps (its caches)."""
        kept = ("output", *(self.adapter.forward.kept if self.adapter.forward else ()))
        return any(a in kept for call in self.adapter.update for a in call.args)

    def update_fresh(self, params, X, T) -> dict:
        """The parameters after one update on (X, T) from freshly written weights."""
        model = self.new_model(params)
        env = self.batch(X, T)
        if self.update_needs_forward():
            self.forward(model, env)
        return self.update(model, env)[0]


# --- observe (where the code runs) and derive (where it is judged) -----------------------------
@dataclass(frozen=True)
class Observation:
    """The raw numbers one run of foreign code returned, and nothing else: everything a verdict
    depends on (flags, recovered gradients, steps, mutated inputs, the loss when the code reports
    none) is derived from them by derive(), in the grader's own process."""
    loaded: dict                      # parameters read back right after writing the canonical ones
    output: np.ndarray | None         # None: the code has no forward call
    loss: np.ndarray | None           # None: the code reports no loss
    grads: dict | None = None         # from the gradients call, canonical layout
    stepped: dict | None = None       # after one update of the whole batch
    per_sample: tuple = ()            # after each single-row update from fresh weights (update_per_sample)
    chained: dict | None = None       # per-sample code: one row per call, each call from the last one's weights
    inputs: tuple = ()                # (X, T, rows) as the code left them, per batch handed to it, in order
    after_gradients: dict | None = None   # the parameters read back after the gradients call
    misshaped: dict | None = None     # gradients in a shape their parameter's layout cannot read, as returned
    update_error: BaseException | None = None   # the code's update raised after its gradients came back
                                                # (not an array: the grading child reports it as an event)


def per_sample_scale(spec: Spec, n: int) -> float:
    """What the sum of n one-row gradients is multiplied by to give the batch's: 1 for a loss
    summed over the batch, 1/n for one averaged over it (from the Loss record's coefficient)."""
    loss, k = spec.loss_record, spec.sizes[-1]
    return loss.coefficient(n, k) / loss.coefficient(1, k)


def per_sample_updates(adapter: Adapter, n: int) -> bool:
    return bool(adapter.update) and adapter.update_per_sample and n > 1


def observe(adapter: Adapter, spec: Spec, params, X, T, module=None, forward_only: bool = False) -> Observation:
    """Drive the code once: write `params`, read them back, forward, loss, then its gradients
    call and/or its update (per sample, or on the batch). Raw results only."""
    s = Session(adapter, spec, module)
    model = s.new_model(params)
    loaded = s.read(model)
    env = s.batch(X, T)
    output, loss = s.forward(model, env)
    try:
        loss = s.loss(model, env, loss)
    except Exception:          # noqa: BLE001
        if not forward_only:
            raise
        loss = None            # after a failed run: the forward pass keeps its credit, the loss has none
    grads = stepped = after_gradients = chained = update_error = None
    per_sample = ()
    if not forward_only:
        if adapter.gradients is None and not adapter.update:
            raise AdapterError("the adapter names neither a gradients call nor an update")
        if adapter.gradients is not None:
            grads, loss_of_call = s.gradients_from_call(model, env)
            after_gradients = s.read(model)
            loss = loss if loss is not None else loss_of_call
        if per_sample_updates(adapter, len(X)):
            per_sample = tuple(s.update_fresh(params, X[i:i + 1], T[i:i + 1]) for i in range(len(X)))
            chained = per_sample[0]
            for i in range(1, len(X)):
                chained = s.update_fresh(chained, X[i:i + 1], T[i:i + 1])
            stepped = s.update_fresh(params, X, T)      # all the rows in one call
        elif adapter.update and grads is None:       # the model just run takes the step
            stepped = s.update(model, env)[0]
        elif adapter.update:                         # gradients came from a call: step a fresh model
            handed = len(s.handed)
            try:
                stepped = s.update_fresh(params, X, T)
            except Exception as exc:                 # noqa: BLE001 - the gradients still count; the step fails
                update_error = exc
                del s.handed[handed:]
    inputs = tuple(_canonical_inputs(e, adapter.columns) for e in s.handed)
    return Observation(loaded, output, loss, grads, stepped, per_sample, inputs=inputs, after_gradients=after_gradients,
                       chained=chained, misshaped=s.misshaped or None, update_error=update_error)


def handed_batches(adapter: Adapter, X, T, obs: Observation) -> list[tuple[np.ndarray, np.ndarray]]:
    """The batches observe() handed to the code, in order (to tell what it modified)."""
    batches = [(X, T)]
    if obs.per_sample:
        rows = [(X[i:i + 1], T[i:i + 1]) for i in range(len(X))]
        batches += rows + rows[1:] + [(X, T)]           # each row fresh, then chained, then all in one call
    elif obs.stepped is not None and adapter.gradients is not None:
        batches.append((X, T))
    return batches


def derive(adapter: Adapter, spec: Spec, params, X, T, obs: Observation, backend: str = "numpy") -> Run:
    """The Run, decided here from the raw observation: the weights read back must be the ones
    written (exactly), shapes must be the spec's, gradients recovered from updates as
    (before - after) / lr, the step computed from gradients when the code does not update, the
    loss computed from the output when the code reports none, and the inputs it modified."""
    for name, value in params.items():
        got = obs.loaded.get(name)
        if got is None or got.shape != value.shape or not np.array_equal(np.asarray(got, np.float64),
                                                                         np.asarray(value, np.float64)):
            narrower = got is not None and got.shape == value.shape and got.dtype.itemsize < value.dtype.itemsize
            raise AdapterError(f"the weights read back differ from those written ({name}): " + (
                f"the code keeps them as {got.dtype} where the case is {value.dtype}" if narrower else
                "the code keeps them elsewhere or in another layout than the assignment says"))
    loaded = {k: np.asarray(v) for k, v in obs.loaded.items()}
    _check_output_shape(adapter, obs.output, (len(X), spec.sizes[-1]))
    notes: list[str] = []
    obs = _scale_row_sums(adapter, spec, obs, len(X))
    loss = obs.loss
    if loss is None and adapter.reports_loss:      # its loss call raised: nothing to credit
        loss = np.asarray(np.nan)
    elif loss is None and obs.output is not None:
        loss = harness_loss(spec, obs.output, T, loaded)
        notes.append("loss computed by the harness from the output (the code reports none)")
    elif loss is None:
        loss = np.asarray(np.nan)
        notes.append("the code reports no output and no loss: only its gradients are graded")
    if obs.grads is None and obs.stepped is None and not obs.per_sample:     # forward only
        return Run(backend=backend, loaded=loaded, output=obs.output, loss=loss, grads={}, stepped={},
                   notes=tuple(notes))
    grads, stepped, updates_summed, one_call, chained = obs.grads, obs.stepped, 1, None, None
    if obs.per_sample:
        if len(obs.per_sample) != len(X):
            raise AdapterError(f"{len(obs.per_sample)} per-sample updates for {len(X)} rows")
        recovered = {k: np.zeros_like(v) for k, v in loaded.items()}
        scale = per_sample_scale(spec, len(X))
        for after in obs.per_sample:
            for k in recovered:
                recovered[k] += (loaded[k] - _same_shapes(loaded, after)[k]) / spec.lr * scale
        notes.append("the update steps per sample: each row's gradient taken from fresh weights and summed")
        if grads is None:
            grads, updates_summed = recovered, len(X)
        if obs.stepped is None or obs.chained is None:
            raise AdapterError("a per-sample run without its all-rows step")
        one_call, chained = _same_shapes(loaded, obs.stepped), _same_shapes(loaded, obs.chained)
        stepped = None
    elif stepped is not None:
        stepped = _same_shapes(loaded, stepped)
        if grads is None:
            grads = {k: (loaded[k] - stepped[k]) / spec.lr for k in loaded}
    grads = _lenient_bias_shapes(adapter, loaded, grads, notes) if grads is not None else None
    misshaped = {k: tuple(v.shape) for k, v in (obs.misshaped or {}).items() if grads is not None and k not in grads}
    for k in misshaped:            # compared in values when they fit; their check fails on the shape (evaluate)
        raw = obs.misshaped[k]
        grads[k] = raw.reshape(loaded[k].shape) if raw.size == loaded[k].size else raw
    missing = [p for p in adapter.params if grads is not None and p.name not in grads]
    if missing:
        notes.append(f"{adapter.gradients.target} returned no {', '.join(repr(p.grad_key or p.name) for p in missing)}: "
                     f"only {', '.join(p.name for p in missing)} lose their points")
    from_update = adapter.gradients is None
    if from_update:
        notes.append("gradients recovered from the in-place update as (before - after) / lr")
    if stepped is None:
        stepped = step_from_gradients(loaded, grads, spec.lr)
        notes.append("step computed by the harness from the reported gradients")
    mutated = _mutated(handed_batches(adapter, X, T, obs), obs.inputs)
    if mutated:
        notes.append(f"the code modified its input array(s) {', '.join(mutated)} in place")
    changed = _changed(loaded, obs.after_gradients)
    if changed:
        notes.append(f"{adapter.gradients.target} changed the parameter(s) {', '.join(changed)}: computing "
                     "gradients must leave the weights as they are")
        mutated += tuple(f"{name} (in {adapter.gradients.target})" for name in changed)
    return Run(backend=backend, loaded=loaded, output=obs.output, loss=loss, grads=grads, stepped=stepped,
               notes=tuple(notes), grads_from_update=from_update, updates_summed=updates_summed, mutated=mutated,
               one_call=one_call, chained=chained, misshaped=misshaped)


def _scale_row_sums(adapter: Adapter, spec: Spec, obs: Observation, n: int) -> Observation:
    """A per-row gradients call's sums over the rows, scaled to the batch's gradient (and loss,
    when that call is where the loss comes from)."""
    g = adapter.gradients
    if g is None or not g.per_row or obs.grads is None:
        return obs
    scale = per_sample_scale(spec, n)
    grads = {k: v * np.asarray(scale, v.dtype) for k, v in obs.grads.items()}
    loss_from_rows = "loss" in g.returned and adapter.loss is None and "loss" not in (adapter.forward.returned
                                                                                     if adapter.forward else ())
    loss = obs.loss * np.asarray(scale, obs.loss.dtype) if loss_from_rows and obs.loss is not None else obs.loss
    return dataclasses.replace(obs, grads=grads, loss=loss)


def _check_output_shape(adapter: Adapter, output, expected: tuple) -> None:
    if output is None or output.shape == expected:
        return
    got, want = (output.shape[::-1], expected[::-1]) if adapter.columns and output.ndim == 2 else (output.shape, expected)
    layout = "one column per sample, one row per output" if adapter.columns else "one row per sample, one column per output"
    raise ShapeError(f"{adapter.forward.target} returned an output of shape {got}, expected {want} ({layout})")


def _lenient_bias_shapes(adapter: Adapter, loaded: dict, grads: dict, notes: list) -> dict:
    """With bias_shapes = "lenient": a bias gradient of shape (1, n) or (n, 1) for a bias of n
    entries is read as (n,), and a note says so."""
    if adapter.bias_shapes != "lenient":
        return grads
    out, reshaped = dict(grads), []
    for k, g in grads.items():
        want = loaded[k].shape
        if k.startswith("b") and g.shape != want and row_or_column(g.shape, int(np.prod(want))):
            out[k] = g.reshape(want)
            reshaped.append(f"{k} {g.shape}")
    if reshaped:
        notes.append(f"bias gradient(s) {', '.join(reshaped)} read as shape (n,): the assignment accepts either shape")
    return out


def _changed(loaded: dict, after: dict | None) -> tuple[str, ...]:
    """The parameters a gradients call changed."""
    if after is None:
        return ()
    return tuple(k for k, v in loaded.items() if k not in after or not _same(np.asarray(after[k]), v))


def _mutated(handed, after) -> tuple[str, ...]:
    if len(handed) != len(after):
        raise AdapterError(f"{len(after)} input batches reported for {len(handed)} handed to the code")
    out = set()
    for (X, T), (Xa, Ta, rows) in zip(handed, after, strict=True):
        out |= {name for name, orig, now in (("X", X, Xa), ("T", T, Ta)) if not _same(now, orig)}
        out |= {"rows"} if not _same(rows, np.hstack([X, T])) else set()
    return tuple(sorted(out))


def harness_loss(spec: Spec, output, T, params) -> np.ndarray:
    """The spec's loss of the code's output, for code that reports none (in the output's dtype)."""
    from ..core import net  # imported here: the grading child never needs the spec's math
    return np.asarray(net.loss(spec, output.astype(np.float64), T.astype(np.float64), params), output.dtype)


def step_from_gradients(loaded: dict, grads: dict, lr: float) -> dict:
    """p - lr g for each parameter (NaN where the gradient is missing or of the wrong shape:
    already reported)."""
    stepped = {}
    for k, p in loaded.items():
        g = np.asarray(grads.get(k, np.full(p.shape, np.nan)))
        stepped[k] = p - np.asarray(lr, p.dtype) * g if g.shape == p.shape else np.full(g.shape, np.nan)
    return stepped


def run_adapter(adapter: Adapter, spec: Spec, params, X, T, backend: str = "numpy", module=None,
                forward_only: bool = False) -> Run:
    """Drive the code once and judge it in this process (check, assert_backprop): observe, derive.
    `module` reuses an already imported module; forward_only stops after the loss."""
    obs = observe(adapter, spec, params, X, T, module, forward_only)
    if obs.update_error is not None:
        raise obs.update_error
    return derive(adapter, spec, params, X, T, obs, backend)


class Driver:
    """One model of the code, kept across calls (training): forward, one SGD step in the code's
    own way (its update, or its gradients and p - lr*g), parameters in and out."""

    def __init__(self, adapter: Adapter, spec: Spec, params, module=None):
        self.session = Session(adapter, spec, module)
        self.adapter, self.spec = adapter, spec
        self.model = self.session.new_model(params)

    def _env(self, X, T) -> dict:
        return call_env(X, T, self.spec.lr, self.adapter.columns)

    def output(self, X) -> np.ndarray:
        return self.session.forward(self.model, self._env(X, np.zeros((len(X), self.spec.sizes[-1]), X.dtype)))[0]

    def params(self) -> dict:
        return self.session.read(self.model)

    def load(self, params) -> None:
        self.session.write(self.model, params)

    def sgd_step(self, X, T, want_output: bool = True) -> np.ndarray | None:
        """One step on (X, T); returns the forward output before it. Without want_output the
        forward pass is skipped when the update takes X (it runs its own) and not the output."""
        env = self._env(X, T)
        needs_x = any("X" in call.args for call in self.adapter.update)
        out = None
        if want_output or not self.adapter.update or self.session.update_needs_forward() or not needs_x:
            out = self.session.forward(self.model, env)[0]
        if self.adapter.update:
            self.model = self.session.update(self.model, env)[1]
        else:
            self.load(step_from_gradients(self.params(), self.gradients(X, T, env), self.spec.lr))
        return out

    def gradients(self, X, T, env: dict | None = None) -> dict:
        """The code's gradients at the current parameters (recovered from one update, then
        undone, when it only updates in place)."""
        g = self.adapter.gradients
        if g is not None:
            grads = self.session.gradients_from_call(self.model, env or self._env(X, T))[0]
            scale = per_sample_scale(self.spec, len(X)) if g.per_row else 1.0
            return {k: v * np.asarray(scale, v.dtype) for k, v in grads.items()}
        before = self.params()
        self.sgd_step(X, T)
        after = self.params()
        self.load(before)
        return {k: (before[k] - after[k]) / self.spec.lr for k in before}
