"""Running foreign numpy code through its Adapter.

A `Session` is one imported module driven by one adapter at one spec; its methods are the named
steps every use of foreign code is made of: build a model and write the canonical weights into
it, read them back, forward + loss, gradients from a call, gradients recovered from updates,
one step, and which inputs the code modified in place. `observe()` composes them into the raw
Observation of one run (in the grading child, or in process: harness.drive.derive judges it);
`Driver` keeps one model across calls (training). Both use the same steps, so they cannot drift
apart.
"""
from __future__ import annotations

import ast
import importlib
import importlib.util
import itertools
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..core.params import LayoutError, row_or_column, store, to_canonical
from .adapter import Adapter, AdapterError, Call
from .objects import assign, numeric, resolve, returned
from .protocol import Observation, per_sample_updates

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


def _what(call: Call, name: str) -> str:
    """How a message names one returned value."""
    return call.target if len(call.returned) == 1 else f"{call.target} ({name})"


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
                stored = resolve(model, p.path)
                if not isinstance(stored, np.ndarray):
                    raise AdapterError(f"{p.path!r} holds a {type(stored).__name__}, not a numpy array")
                if self.adapter.write == "replace":
                    stored = fresh[p.path] = np.empty(stored.shape, params[p.name].dtype)
            try:
                store(p.layout, stored, self._bias_as_kept(p, stored, params[p.name]))
            except LayoutError as exc:
                raise AdapterError(f"{p.name} at {p.path!r} (layout {p.layout}): {exc}") from None
        for path, array in fresh.items():
            assign(model, path, array)

    def read(self, model) -> dict:
        """The parameters, read back into the canonical layout."""
        try:
            return {p.name: self._bias_as_canonical(p, numeric(to_canonical(p.layout, resolve(model, p.path)),
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
            values = [returned(v, f) for v in value]
            out = np.asarray([numeric(v.get("output"), f.target) for v in values]).reshape(len(values), -1)
            env["output"] = out
            return out, None
        values = returned(value, f)
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
            values = returned(self.call(model, call, env), call)
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
            values = returned(raw, g)
            self._keep(env, g, values)
            loss = numeric(values["loss"], f"{g.target} (loss)") if "loss" in values else None
            return self._grads_of(values.get("grads")), loss
        rows = [returned(r, g) for r in raw]
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
                value = raw[key] if isinstance(raw, dict) and key in raw else resolve(raw, key)
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
            values = returned(self.call(model, call, env), call)
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
def per_sample_scale(spec: Spec, n: int) -> float:
    """What the sum of n one-row gradients is multiplied by to give the batch's: 1 for a loss
    summed over the batch, 1/n for one averaged over it (from the Loss record's coefficient)."""
    loss, k = spec.loss_record, spec.sizes[-1]
    return loss.coefficient(n, k) / loss.coefficient(1, k)


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


def step_from_gradients(loaded: dict, grads: dict, lr: float) -> dict:
    """p - lr g for each parameter (NaN where the gradient is missing or of the wrong shape:
    already reported)."""
    stepped = {}
    for k, p in loaded.items():
        g = np.asarray(grads.get(k, np.full(p.shape, np.nan)))
        stepped[k] = p - np.asarray(lr, p.dtype) * g if g.shape == p.shape else np.full(g.shape, np.nan)
    return stepped


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
