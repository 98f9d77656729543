"""An oracle for real course code that shares nothing with the grader.

For one student's folder it runs the code as the course runs it (the folder on sys.path, the
course's packages importable, plots headless, a notebook cell by cell as Jupyter would), calls the
course's API on seeded inputs, and compares every output with this file's own numpy math (itself
checked against central finite differences by `python oracle.py --self-test`). It imports nothing
from `harness`: it is the independent measure the grader's verdicts are compared with
(measure.py).

    python benchmarks/real_code/oracle.py PACK FOLDER        one student's folder -> one JSON line

The verdicts: `correct` (every scored quantity agrees), `wrong` (the items that disagree, named),
`crash` (the code raised on the course's own call: the exception), `python2` (only runs under
Python 2: the math is then checked on a 2to3 conversion, kept in `python2_math`), `not_api`
(the file does not offer the course's API). `info` lists what is not scored by the course's
standard (in-place edits, large-score overflow, float64 results).
"""
from __future__ import annotations

import ast
import contextlib
import importlib.abc
import importlib.machinery
import importlib.util
import io
import json
import os
import sys
import traceback
import types
from pathlib import Path

import numpy as np

RTOL = 1e-7                 # float64 results against float64 math: agreement is ~1e-15, bugs are >1e-3
COURSE_TESTS = ("testCases", "public_tests", "test_utils", "testCases_v2", "testCases_v3", "testCases_v4",
                "testCases_v4a")


class NotAPI(Exception):
    """The file does not offer the course's API."""


# --- the oracle's own math ------------------------------------------------------------------

def relu(z):
    return np.maximum(z, 0.0)


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def log_softmax(s):
    s = s - s.max(axis=1, keepdims=True)
    return s - np.log(np.exp(s).sum(axis=1, keepdims=True))


def two_layer(W1, b1, W2, b2, X, y, reg, half):
    """CS231n / DLFS two-layer net: scores, mean softmax CE (+ L2), and its gradients."""
    h = relu(X @ W1 + b1)
    scores = h @ W2 + b2
    n = X.shape[0]
    logp = log_softmax(scores)
    k = 0.5 if half else 1.0
    loss = -logp[np.arange(n), y].mean() + k * reg * ((W1 ** 2).sum() + (W2 ** 2).sum())
    d = np.exp(logp)
    d[np.arange(n), y] -= 1
    d /= n
    dW2 = h.T @ d + 2 * k * reg * W2
    dh = d @ W2.T * (h > 0)
    return scores, loss, {"W1": X.T @ dh + 2 * k * reg * W1, "b1": dh.sum(0), "W2": dW2, "b2": d.sum(0)}


def deep_forward(params, X, L):
    """deeplearning.ai C1W4: [LINEAR->RELU]*(L-1) -> LINEAR->SIGMOID, data in columns."""
    A, cache = X, []
    for k in range(1, L + 1):
        Z = params[f"W{k}"] @ A + params[f"b{k}"]
        cache.append((A, Z))
        A = sigmoid(Z) if k == L else relu(Z)
    return A, cache


def deep_grads(params, X, Y, L):
    AL, cache = deep_forward(params, X, L)
    m = X.shape[1]
    cost = -(Y * np.log(AL) + (1 - Y) * np.log(1 - AL)).sum() / m
    dZ = (AL - Y) / m
    grads = {}
    for k in range(L, 0, -1):
        A_prev, Z = cache[k - 1]
        grads[f"dW{k}"] = dZ @ A_prev.T
        grads[f"db{k}"] = dZ.sum(axis=1, keepdims=True)
        if k > 1:
            dZ = (params[f"W{k}"].T @ dZ) * (cache[k - 2][1] > 0)
    return AL, cost, grads


def nielsen_grads(weights, biases, x, y):
    """One sample, quadratic cost 1/2 ||a - y||^2, sigmoid everywhere."""
    acts, zs, a = [x], [], x
    for W, b in zip(weights, biases, strict=True):
        z = W @ a + b
        zs.append(z)
        a = sigmoid(z)
        acts.append(a)
    delta = (a - y) * sigmoid(zs[-1]) * (1 - sigmoid(zs[-1]))
    nb, nw = [None] * len(weights), [None] * len(weights)
    nb[-1], nw[-1] = delta, delta @ acts[-2].T
    for i in range(2, len(weights) + 1):
        s = sigmoid(zs[-i])
        delta = weights[-i + 1].T @ delta * s * (1 - s)
        nb[-i], nw[-i] = delta, delta @ acts[-i - 1].T
    return a, nb, nw


def nnfs_net(W1, b1, W2, b2, X, y):
    """nnfs: dense - ReLU - dense - softmax + CE (probabilities clipped to [1e-7, 1-1e-7])."""
    h = relu(X @ W1 + b1)
    s = h @ W2 + b2
    p = np.exp(log_softmax(s))
    n = len(y)
    loss = -np.log(np.clip(p[np.arange(n), y], 1e-7, 1 - 1e-7)).mean()
    d = p.copy()
    d[np.arange(n), y] -= 1
    d /= n
    dh = d @ W2.T * (h > 0)
    return p, loss, {"W1": X.T @ dh, "b1": dh.sum(0, keepdims=True), "W2": h.T @ d, "b2": d.sum(0, keepdims=True)}


# --- comparing ------------------------------------------------------------------------------

class Report:
    def __init__(self):
        self.wrong: list[str] = []
        self.info: list[str] = []

    def close(self, what: str, got, want, rtol: float = RTOL, scored: bool = True) -> bool:
        try:
            g = np.asarray(got, dtype=float)
        except (TypeError, ValueError):
            return self._say(scored, f"{what}: not numeric ({type(got).__name__})")
        want = np.asarray(want, dtype=float)
        if g.size != want.size:
            return self._say(scored, f"{what}: {g.shape} values, expected {want.shape}")
        g = g.reshape(want.shape)
        if not np.all(np.isfinite(g)):
            return self._say(scored, f"{what}: not finite")
        err = np.abs(g - want).max(initial=0.0)
        if err > rtol * max(np.abs(want).max(initial=0.0), 1e-12) + 1e-13:
            ratio = (np.abs(g).sum() / max(np.abs(want).sum(), 1e-300))
            return self._say(scored, f"{what}: off by {err:.3g} (|got|/|want| {ratio:.4g})")
        return True

    def _say(self, scored: bool, text: str) -> bool:
        (self.wrong if scored else self.info).append(text)
        return False


def unchanged(report: Report, what: str, before, after) -> None:
    if not np.array_equal(before, after):
        report.info.append(f"{what} modified in place")


# --- loading as the course does ---------------------------------------------------------------

class _CourseTestsFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """The course's test helpers (not shipped with a learner's copy) import as empty modules: a
    cell that then calls one of their checks fails, as the oracle wants, alone."""

    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in COURSE_TESTS and not any(
                (Path(p) / f"{name}.py").exists() for p in sys.path if isinstance(p, str)):
            return importlib.machinery.ModuleSpec(name, self)
        return None

    def create_module(self, spec):
        return None

    def exec_module(self, module):
        """Nothing to run: the module stays empty."""


def course_environment(folder: Path, support: Path | None) -> None:
    os.environ["MPLBACKEND"] = "Agg"
    sys.path[:0] = [str(folder)] + ([str(support)] if support else [])
    sys.meta_path.append(_CourseTestsFinder())


def import_file(path: Path):
    spec = importlib.util.spec_from_file_location(f"student_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    with contextlib.redirect_stdout(io.StringIO()):
        spec.loader.exec_module(module)
    return module


def definitions_only(path: Path):
    """Run only the imports, functions, classes and constant assignments of a script (nnfs files
    train at module level)."""
    tree = ast.parse(path.read_text(errors="replace"), str(path))
    keep = (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.ClassDef)
    tree.body = [n for n in tree.body if isinstance(n, keep)]
    module = types.ModuleType(f"student_{path.stem}")
    module.__file__ = str(path)
    sys.modules[module.__name__] = module
    with contextlib.redirect_stdout(io.StringIO()):
        exec(compile(tree, str(path), "exec"), module.__dict__)
    return module


def notebook_namespace(path: Path) -> dict:
    """Every code cell in order, as Jupyter runs them: a cell stops at its first exception, the
    next cell runs; IPython magics and shell lines are left out."""
    nb = json.loads(path.read_text(errors="replace"))
    cells = nb.get("cells") or [c for ws in nb.get("worksheets", []) for c in ws.get("cells", [])]
    ns: dict = {"__name__": "__main__"}
    for cell in cells:
        if cell.get("cell_type") != "code":
            continue
        src = cell.get("source", cell.get("input", ""))
        src = "".join(src) if isinstance(src, list) else src
        if src.lstrip().startswith("%%"):
            continue
        lines = ["" if line.lstrip().startswith(("%", "!")) else line for line in src.splitlines()]
        try:
            with contextlib.redirect_stdout(io.StringIO()):
                exec(compile("\n".join(lines), str(path), "exec"), ns)
        except Exception:  # noqa: BLE001, S110 - a cell that raises is what Jupyter shows; go on
            pass
    return ns


def python3_source(path: Path) -> str | None:
    """The file's text as 2to3 would convert it, when it only parses under Python 2."""
    text = path.read_text(errors="replace")
    try:
        ast.parse(text)
        return None                           # Python 3 already
    except SyntaxError:
        import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from lib2to3 import refactor
    tool = refactor.RefactoringTool(refactor.get_fixers_from_package("lib2to3.fixes"))
    return str(tool.refactor_string(text + ("\n" if not text.endswith("\n") else ""), str(path)))


# --- the packs -----------------------------------------------------------------------------------

def rng_params(rng, sizes, scale=0.3):
    return [(rng.normal(0, scale, (a, b)), rng.normal(0, 0.1, b)) for a, b in zip(sizes, sizes[1:], strict=False)]


def labels(rng, n, classes, absent=0):
    return rng.integers(0, classes - absent, n)


TWO_LAYER_CASES = [  # (D, H, C, N, reg, absent classes, score offset, scored)
    ((4, 10, 3), 5, 0.05, 0, 0, True), ((4, 10, 3), 5, 0.0, 0, 0, True), ((6, 8, 5), 3, 0.1, 2, 0, True),
    ((10, 9, 4), 11, 0.5, 0, 0, True), ((4, 10, 3), 5, 0.0, 0, 800, False)]


def cs231n_two_layer(folder: Path, rep: Report) -> None:
    mod = import_file(folder / "neural_net.py")
    if not hasattr(mod, "TwoLayerNet"):
        raise NotAPI("no TwoLayerNet")
    forms = set()
    for i, ((D, H, C), n, reg, absent, offset, scored) in enumerate(TWO_LAYER_CASES):
        rng = np.random.default_rng(100 + i)
        (W1, b1), (W2, b2) = rng_params(rng, (D, H, C))
        b2 = b2 + offset
        X, y = rng.normal(size=(n, D)), labels(rng, n, C, absent)
        net = mod.TwoLayerNet(D, H, C)
        net.params = {"W1": W1.copy(), "b1": b1.copy(), "W2": W2.copy(), "b2": b2.copy()}
        tag = f"case {i}"
        scores, _, _ = two_layer(W1, b1, W2, b2, X, y, reg, False)
        rep.close(f"{tag} scores", net.loss(X.copy()), scores, scored=scored)
        out = net.loss(X, y, reg=reg)
        if not (isinstance(out, tuple) and len(out) == 2):
            rep._say(scored, f"{tag}: loss(X, y, reg) returned {type(out).__name__}, not (loss, grads)")
            continue
        loss, grads = out
        half = False
        if reg and rep_quiet_close(loss, two_layer(W1, b1, W2, b2, X, y, reg, True)[1]):
            half = True
        if reg:
            forms.add("0.5 reg" if half else "reg")
        _, want_loss, want = two_layer(W1, b1, W2, b2, X, y, reg, half)
        rep.close(f"{tag} loss", loss, want_loss, scored=scored)
        for k in ("W1", "b1", "W2", "b2"):
            rep.close(f"{tag} d{k}", (grads or {}).get(k), want[k], scored=scored)
    if "0.5 reg" in forms:
        rep.info.append("L2 as 0.5 * reg * sum(W^2) (older course years)")


def rep_quiet_close(got, want) -> bool:
    try:
        return abs(float(np.asarray(got).reshape(-1)[0]) - want) <= RTOL * abs(want)
    except (TypeError, ValueError, IndexError):
        return False


LAYER_CASES = [(4, (2, 3), 5, 0), (7, (5,), 3, 1), (6, (8,), 4, 4)]


def cs231n_layers(folder: Path, rep: Report) -> None:
    mod = import_file(folder / "layers.py")
    for name in ("affine_forward", "affine_backward", "relu_forward", "relu_backward", "softmax_loss"):
        if not hasattr(mod, name):
            raise NotAPI(f"no {name}")
    for i, (n, dims, m, seed) in enumerate(LAYER_CASES):
        rng = np.random.default_rng(200 + seed)
        x = rng.normal(size=(n, *dims))
        D = int(np.prod(dims))
        w, b = rng.normal(size=(D, m)), rng.normal(size=m)
        dout = rng.normal(size=(n, m))
        tag = f"case {i}"
        xs = [x.copy(), w.copy(), b.copy()]
        out, cache = mod.affine_forward(*xs)
        xf = x.reshape(n, D)
        rep.close(f"{tag} affine_forward", out, xf @ w + b)
        got = mod.affine_backward(dout.copy(), cache)
        for what, g, want in zip(("dx", "dw", "db"), got, (dout @ w.T, xf.T @ dout, dout.sum(0)), strict=False):
            rep.close(f"{tag} affine_backward {what}", g, want)
            if what == "dx" and np.size(g) == x.size and np.shape(g) != x.shape:
                rep.info.append(f"{tag} affine_backward dx shaped {np.shape(g)}, not x's {x.shape}")
        xr = x.reshape(n, D)[:, :m] if D >= m else rng.normal(size=(n, m))
        xr_in = xr.copy()
        out, cache = mod.relu_forward(xr_in)
        rep.close(f"{tag} relu_forward", out, relu(xr))
        d_in = dout.copy()
        rep.close(f"{tag} relu_backward", mod.relu_backward(d_in, cache), dout * (xr > 0))
        unchanged(rep, "relu_backward: dout", dout, d_in)
        unchanged(rep, "relu_forward: x", xr, xr_in)
        scores = rng.normal(size=(n, m))
        y = rng.integers(0, m, n)
        for offset, scored_here in ((0.0, True), (400.0, False)):
            s = scores * (1 + offset / 100) + offset
            logp = log_softmax(s)
            d = np.exp(logp)
            d[np.arange(n), y] -= 1
            loss, dx = mod.softmax_loss(s.copy(), y.copy())
            sub = f"{tag} softmax_loss" + (" at large scores" if offset else "")
            rep.close(f"{sub} loss", loss, -logp[np.arange(n), y].mean(), scored=scored_here)
            rep.close(f"{sub} dx", dx, d / n, scored=scored_here)


DLFS_CASES = [((8, 6, 4), 6, 0, 0.0), ((7, 5, 5), 3, 1, 0.0), ((12, 9, 10), 10, 0, 0.0), ((7, 5, 3), 4, 0, 800.0)]


def dlfs_two_layer(folder: Path, rep: Report) -> None:
    mod = import_file(folder / "two_layer_net.py")
    if not hasattr(mod, "TwoLayerNet"):
        raise NotAPI("no TwoLayerNet")
    for i, ((n_in, H, n_out), n, absent, offset) in enumerate(DLFS_CASES):
        rng = np.random.default_rng(300 + i)
        (W1, b1), (W2, b2) = rng_params(rng, (n_in, H, n_out))
        b2 = b2 + offset
        X, y = rng.normal(size=(n, n_in)), labels(rng, n, n_out, absent)
        T = np.eye(n_out)[y]
        net = mod.TwoLayerNet(n_in, H, n_out)
        for k, v in (("W1", W1), ("b1", b1), ("W2", W2), ("b2", b2)):
            net.params[k][...] = v            # the layers hold these very arrays
        scores, _, want = two_layer(W1, b1, W2, b2, X, y, 0.0, False)
        tag = f"case {i}"
        rep.close(f"{tag} predict", net.predict(X.copy()), scores)
        p = np.exp(log_softmax(scores))
        book = -np.log(p[np.arange(n), y] + 1e-7).mean()      # the book's log(y + 1e-7)
        loss = net.loss(X.copy(), T.copy())
        if not rep_quiet_close(loss, book):
            rep.close(f"{tag} loss", loss, -log_softmax(scores)[np.arange(n), y].mean())
        grads = net.gradient(X.copy(), T.copy())
        for k in ("W1", "b1", "W2", "b2"):
            rep.close(f"{tag} d{k}", (grads or {}).get(k), want[k])


DEEP_CASES = [((5, 6, 4, 3, 1), 7, 0.0075), ((8, 7, 5, 4, 1), 10, 0.1), ((6, 5, 4, 3, 1), 12, 0.05)]


def dlai_deep_nn(folder: Path, rep: Report) -> None:
    notebooks = sorted(folder.glob("*.ipynb"))
    ns = notebook_namespace(notebooks[0])
    need = ("L_model_forward", "compute_cost", "L_model_backward", "update_parameters")
    missing = [f for f in need if not callable(ns.get(f))]
    if missing:
        raise NotAPI(f"not defined after running the notebook: {', '.join(missing)}")
    for i, (dims, m, lr) in enumerate(DEEP_CASES):
        rng = np.random.default_rng(400 + i)
        L = len(dims) - 1
        params = {}
        for k in range(1, L + 1):
            params[f"W{k}"] = rng.normal(0, 0.5, (dims[k], dims[k - 1]))
            params[f"b{k}"] = rng.normal(0, 0.1, (dims[k], 1))
        X = rng.normal(size=(dims[0], m))
        Y = (rng.random((1, m)) < 0.5).astype(float)
        AL_want, cost_want, want = deep_grads(params, X, Y, L)
        tag = f"case {i}"
        AL, caches = ns["L_model_forward"](X.copy(), {k: v.copy() for k, v in params.items()})
        rep.close(f"{tag} AL", AL, AL_want)
        rep.close(f"{tag} cost", ns["compute_cost"](AL, Y.copy()), cost_want)
        grads = ns["L_model_backward"](AL, Y.copy(), caches)
        for k in want:
            rep.close(f"{tag} {k}", (grads or {}).get(k), want[k])
        new = ns["update_parameters"]({k: v.copy() for k, v in params.items()},
                                      {k: v.copy() for k, v in want.items()}, lr)
        for k, v in params.items():
            rep.close(f"{tag} updated {k}", (new or {}).get(k), v - lr * want["d" + k])


NIELSEN_CASES = [((4, 5, 3, 2), 6, 3.0), ((3, 4, 2), 4, 0.5), ((5, 3, 3, 4), 5, 1.0)]


def nielsen_network(folder: Path, rep: Report, module=None) -> None:
    mod = module or import_file(folder / "network.py")
    if not hasattr(mod, "Network"):
        raise NotAPI("no Network")
    for i, (sizes, n, eta) in enumerate(NIELSEN_CASES):
        rng = np.random.default_rng(500 + i)
        weights = [rng.normal(0, 1, (b, a)) for a, b in zip(sizes, sizes[1:], strict=False)]
        biases = [rng.normal(0, 1, (b, 1)) for b in sizes[1:]]
        xs = [rng.normal(size=(sizes[0], 1)) for _ in range(n)]
        ys = [(rng.random((sizes[-1], 1)) < 0.5).astype(float) for _ in range(n)]
        net = mod.Network(list(sizes))
        for api in ("feedforward", "backprop", "update_mini_batch"):
            if not hasattr(net, api):
                raise NotAPI(f"Network has no {api}")
        net.weights, net.biases = [w.copy() for w in weights], [b.copy() for b in biases]
        tag = f"case {i}"
        sum_b, sum_w = [0 * b for b in biases], [0 * w for w in weights]
        for j, (x, y) in enumerate(zip(xs, ys, strict=True)):
            a, nb, nw = nielsen_grads(weights, biases, x, y)
            if j == 0:
                rep.close(f"{tag} feedforward", net.feedforward(x.copy()), a)
                got_b, got_w = net.backprop(x.copy(), y.copy())
                for k, (g, w) in enumerate(zip(got_b, nb, strict=False)):
                    rep.close(f"{tag} nabla_b[{k}]", g, w)
                for k, (g, w) in enumerate(zip(got_w, nw, strict=False)):
                    rep.close(f"{tag} nabla_w[{k}]", g, w)
            sum_b = [s + g for s, g in zip(sum_b, nb, strict=True)]
            sum_w = [s + g for s, g in zip(sum_w, nw, strict=True)]
        net.update_mini_batch([(x.copy(), y.copy()) for x, y in zip(xs, ys, strict=True)], eta)
        for k in range(len(weights)):
            rep.close(f"{tag} weights[{k}] after the step", net.weights[k], weights[k] - eta / n * sum_w[k])
            rep.close(f"{tag} biases[{k}] after the step", net.biases[k], biases[k] - eta / n * sum_b[k])


NNFS_CASES = [((2, 8, 3), 6, 1.0, 0), ((5, 7, 4), 3, 0.5, 1), ((4, 10, 5), 10, 0.1, 0)]


def nnfs_dense(folder: Path, rep: Report) -> None:
    files = sorted(folder.glob("*.py"))
    mod = definitions_only(files[0])
    need = ("Layer_Dense", "Activation_ReLU", "Activation_Softmax_Loss_CategoricalCrossentropy", "Optimizer_SGD")
    classes = {k.replace("_", "").lower(): v for k, v in vars(mod).items() if isinstance(v, type)}
    missing = [c for c in need if c.replace("_", "").lower() not in classes]
    if missing:
        raise NotAPI(f"no {', '.join(missing)}")
    dense_cls, relu_cls, loss_cls, sgd_cls = (classes[c.replace("_", "").lower()] for c in need)

    def fwd(layer, x):          # the later chapters' layers take forward(inputs, training)
        import inspect
        return layer.forward(x, training=True) if "training" in inspect.signature(layer.forward).parameters \
            else layer.forward(x)
    for i, ((a, h, c), n, lr, absent) in enumerate(NNFS_CASES):
        rng = np.random.default_rng(600 + i)
        (W1, b1), (W2, b2) = rng_params(rng, (a, h, c))
        b1, b2 = b1[None, :], b2[None, :]
        X, y = rng.normal(size=(n, a)), labels(rng, n, c, absent)
        d1, act, d2 = dense_cls(a, h), relu_cls(), dense_cls(h, c)
        la = loss_cls()
        d1.weights, d1.biases, d2.weights, d2.biases = W1.copy(), b1.copy(), W2.copy(), b2.copy()
        p, loss_want, want = nnfs_net(W1, b1, W2, b2, X, y)
        tag = f"case {i}"
        fwd(d1, X.copy())
        fwd(act, d1.output)
        fwd(d2, act.output)
        loss = la.forward(d2.output, y.copy())
        rep.close(f"{tag} softmax", la.output, p)
        rep.close(f"{tag} loss", loss, loss_want)
        la.backward(la.output, y.copy())
        d2.backward(la.dinputs)
        act.backward(d2.dinputs)
        d1.backward(act.dinputs)
        for k, layer, g in (("W1", d1, "dweights"), ("b1", d1, "dbiases"), ("W2", d2, "dweights"), ("b2", d2, "dbiases")):
            rep.close(f"{tag} d{k}", getattr(layer, g, None), want[k])
        opt = sgd_cls(learning_rate=lr)
        for layer in (d1, d2):
            if hasattr(opt, "pre_update_params"):
                opt.pre_update_params()
            opt.update_params(layer)
        for k, layer, attr in (("W1", d1, "weights"), ("b1", d1, "biases"), ("W2", d2, "weights"), ("b2", d2, "biases")):
            start = {"W1": W1, "b1": b1, "W2": W2, "b2": b2}[k]
            rep.close(f"{tag} {k} after the step", getattr(layer, attr), start - lr * want[k])


PACKS = {"cs231n_two_layer": cs231n_two_layer, "cs231n_layers": cs231n_layers, "dlfs_two_layer": dlfs_two_layer,
         "dlai_deep_nn": dlai_deep_nn, "nielsen_network": nielsen_network, "nnfs_dense": nnfs_dense}
SUPPORT = {"cs231n_layers": "cs231n_layers", "dlai_deep_nn": "dlai_deep_nn"}    # the course's helper modules


def judge(pack: str, folder: Path, support_root: Path | None) -> dict:
    support = support_root / SUPPORT[pack] if support_root and pack in SUPPORT else None
    course_environment(folder, support)
    rep = Report()
    result: dict = {"student": folder.name}
    try:
        PACKS[pack](folder, rep)
    except NotAPI as exc:
        return {**result, "verdict": "not_api", "why": str(exc)}
    except SyntaxError as exc:
        return {**result, **_python2(pack, folder, rep, exc)}
    except Exception as exc:  # noqa: BLE001 - the student's code raised
        tb = traceback.extract_tb(exc.__traceback__)
        where = next((f"{Path(f.filename).name}:{f.lineno}" for f in reversed(tb)
                      if str(folder) in f.filename), "")
        return {**result, "verdict": "crash", "why": f"{type(exc).__name__}: {exc}"[:300], "where": where,
                "info": rep.info}
    verdict = "wrong" if rep.wrong else "correct"
    return {**result, "verdict": verdict, "wrong": rep.wrong[:12], "n_wrong": len(rep.wrong), "info": rep.info}


def _python2(pack: str, folder: Path, rep: Report, exc: SyntaxError) -> dict:
    main = folder / "network.py"
    source = python3_source(main) if pack == "nielsen_network" and main.is_file() else None
    if source is None:
        return {"verdict": "crash", "why": f"SyntaxError: {exc.msg} (line {exc.lineno})"}
    module = types.ModuleType("student_py2")
    module.__file__ = str(main)
    try:
        exec(compile(source, str(main), "exec"), module.__dict__)
        nielsen_network(folder, rep, module)
    except Exception as exc2:  # noqa: BLE001
        return {"verdict": "python2", "python2_math": f"crash: {type(exc2).__name__}: {exc2}"[:200]}
    return {"verdict": "python2", "python2_math": "wrong" if rep.wrong else "correct", "wrong": rep.wrong[:12]}


def self_test() -> None:
    """The oracle's math against central differences of its own losses."""
    rng = np.random.default_rng(7)
    (W1, b1), (W2, b2) = rng_params(rng, (4, 5, 3))
    X, y = rng.normal(size=(6, 4)), rng.integers(0, 3, 6)
    for half in (False, True):
        _, _, g = two_layer(W1, b1, W2, b2, X, y, 0.3, half)
        P = {"W1": W1, "b1": b1, "W2": W2, "b2": b2}
        fd = numeric(lambda P=P, half=half: two_layer(P["W1"], P["b1"], P["W2"], P["b2"], X, y, 0.3, half)[1], P)
        for k in P:
            assert np.allclose(g[k], fd[k], rtol=1e-6, atol=1e-8), ("two_layer", k, half)
    dims = (3, 4, 2, 1)
    P = {}
    for k in range(1, 4):
        P[f"W{k}"], P[f"b{k}"] = rng.normal(0, 0.7, (dims[k], dims[k - 1])), rng.normal(0, 0.1, (dims[k], 1))
    X, Y = rng.normal(size=(3, 5)), (rng.random((1, 5)) < 0.5).astype(float)
    _, _, g = deep_grads(P, X, Y, 3)
    fd = numeric(lambda: deep_grads(P, X, Y, 3)[1], P)
    for k in P:
        assert np.allclose(g["d" + k], fd[k], rtol=1e-6, atol=1e-8), ("deep", k)
    Ws = [rng.normal(size=(4, 3)), rng.normal(size=(2, 4))]
    Bs = [rng.normal(size=(4, 1)), rng.normal(size=(2, 1))]
    x, yv = rng.normal(size=(3, 1)), rng.random((2, 1))
    _, nb, nw = nielsen_grads(Ws, Bs, x, yv)
    P = {"w0": Ws[0], "w1": Ws[1], "b0": Bs[0], "b1": Bs[1]}

    def cost():
        a = nielsen_grads([P["w0"], P["w1"]], [P["b0"], P["b1"]], x, yv)[0]
        return 0.5 * ((a - yv) ** 2).sum()
    fd = numeric(cost, P)
    for k, g in (("w0", nw[0]), ("w1", nw[1]), ("b0", nb[0]), ("b1", nb[1])):
        assert np.allclose(g, fd[k], rtol=1e-6, atol=1e-8), ("nielsen", k)
    (W1, b1), (W2, b2) = rng_params(rng, (3, 5, 4))
    P = {"W1": W1, "b1": b1[None, :], "W2": W2, "b2": b2[None, :]}
    X, y = rng.normal(size=(6, 3)), rng.integers(0, 4, 6)
    _, _, g = nnfs_net(P["W1"], P["b1"], P["W2"], P["b2"], X, y)
    fd = numeric(lambda: nnfs_net(P["W1"], P["b1"], P["W2"], P["b2"], X, y)[1], P)
    for k in P:
        assert np.allclose(g[k], fd[k], rtol=1e-6, atol=1e-8), ("nnfs", k)
    print("oracle math agrees with central differences")


def numeric(f, params, h=1e-6) -> dict:
    out = {}
    for k, p in params.items():
        g = np.zeros_like(p)
        for i in np.ndindex(p.shape):
            old = p[i]
            p[i] = old + h
            up = f()
            p[i] = old - h
            down = f()
            p[i] = old
            g[i] = (up - down) / (2 * h)
        out[k] = g
    return out


def main(argv=None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args == ["--self-test"]:
        self_test()
        return 0
    pack, folder = args[0], Path(args[1]).resolve()
    support = Path(args[2]).resolve() if len(args) > 2 else None
    os.chdir(folder)
    print(json.dumps(judge(pack, folder, support)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
