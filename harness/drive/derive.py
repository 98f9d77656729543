"""Judging one run of foreign code, in the grader's own process (never in the grading child):
derive() decides the Run from the raw Observation the code's run produced (harness.drive.runner.
observe): the weights read back must be those written, shapes the spec's, gradients recovered
from updates, the step computed where the code takes none, the inputs it modified.
run_adapter() observes and derives in one process (check, assert_backprop, the numpy backend).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from ..core.params import row_or_column
from ..core.run import Run
from ..core.spec import Spec
from .adapter import Adapter, AdapterError, ShapeError
from .protocol import Observation, handed_rows
from .runner import observe, per_sample_scale, step_from_gradients


def _same(a, b) -> bool:
    return isinstance(a, np.ndarray) and a.shape == b.shape and bool(np.array_equal(a, b, equal_nan=True))


def _same_shapes(before: dict, after: dict) -> dict:
    for k, v in after.items():
        if v.shape != before[k].shape:
            hint = " (a transposed gradient?)" if v.shape == before[k].shape[::-1] else ""
            raise ShapeError(f"the update changed the shape of {k} from {before[k].shape} to {v.shape}{hint}")
    return after


def handed_batches(adapter: Adapter, X, T, obs: Observation) -> list[tuple[np.ndarray, np.ndarray]]:
    """The batches observe() handed to the code, in order (to tell what it modified)."""
    return [(X[rows], T[rows]) for rows in handed_rows(adapter, len(X), stepped=obs.stepped is not None)]


def derive(adapter: Adapter, spec: Spec, params, X, T, obs: Observation, backend: str = "numpy") -> Run:
    """The Run, decided here from the raw observation: the weights read back must be the ones
    written (exactly), shapes must be the spec's, gradients recovered from updates as
    (before - after) / lr, the step computed from gradients when the code does not update, the
    loss computed from the output when the code reports none, and the inputs it modified."""
    _check_loaded(params, obs.loaded)
    loaded = {k: np.asarray(v) for k, v in obs.loaded.items()}
    _check_output_shape(adapter, obs.output, (len(X), spec.sizes[-1]))
    notes: list[str] = []
    obs = _scale_row_sums(adapter, spec, obs, len(X))
    loss = _loss(adapter, spec, obs, T, loaded, notes)
    if obs.grads is None and obs.stepped is None and not obs.per_sample:     # forward only
        return Run(backend=backend, loaded=loaded, output=obs.output, loss=loss, grads={}, stepped={},
                   notes=tuple(notes))
    steps = _steps(spec, obs, loaded, len(X), notes)
    grads = _lenient_bias_shapes(adapter, loaded, steps.grads, notes) if steps.grads is not None else None
    misshaped = _misshaped_into(grads, obs.misshaped, loaded)
    missing = [p for p in adapter.params if grads is not None and p.name not in grads]
    if missing:
        notes.append(f"{adapter.gradients.target} returned no {', '.join(repr(p.grad_key or p.name) for p in missing)}: "
                     f"only {', '.join(p.name for p in missing)} lose their points")
    from_update = adapter.gradients is None
    if from_update:
        notes.append("gradients recovered from the in-place update as (before - after) / lr")
    stepped = steps.stepped
    if stepped is None:
        stepped = step_from_gradients(loaded, grads, spec.lr)
        notes.append("step computed by the harness from the reported gradients")
    mutated = _what_changed(adapter, X, T, obs, loaded, notes)
    return Run(backend=backend, loaded=loaded, output=obs.output, loss=loss, grads=grads, stepped=stepped,
               notes=tuple(notes), grads_from_update=from_update, updates_summed=steps.updates_summed, mutated=mutated,
               one_call=steps.one_call, chained=steps.chained, misshaped=misshaped)


def _check_loaded(params: dict, loaded: dict) -> None:
    """The weights read back must be exactly those written."""
    for name, value in params.items():
        got = loaded.get(name)
        if got is None or got.shape != value.shape or not np.array_equal(np.asarray(got, np.float64),
                                                                         np.asarray(value, np.float64)):
            narrower = got is not None and got.shape == value.shape and got.dtype.itemsize < value.dtype.itemsize
            raise AdapterError(f"the weights read back differ from those written ({name}): " + (
                f"the code keeps them as {got.dtype} where the case is {value.dtype}" if narrower else
                "the code keeps them elsewhere or in another layout than the assignment says"))


def _loss(adapter: Adapter, spec: Spec, obs: Observation, T, loaded: dict, notes: list) -> np.ndarray:
    """The code's loss; the spec's loss of its output when it reports none; NaN when there is none."""
    if obs.loss is not None:
        return obs.loss
    if adapter.reports_loss:                       # its loss call raised: nothing to credit
        return np.asarray(np.nan)
    if obs.output is not None:
        notes.append("loss computed by the harness from the output (the code reports none)")
        return harness_loss(spec, obs.output, T, loaded)
    notes.append("the code reports no output and no loss: only its gradients are graded")
    return np.asarray(np.nan)


@dataclass(frozen=True)
class Steps:
    grads: dict | None
    stepped: dict | None              # None: computed from the gradients
    updates_summed: int = 1
    one_call: dict | None = None
    chained: dict | None = None


def _steps(spec: Spec, obs: Observation, loaded: dict, n: int, notes: list) -> Steps:
    """The gradients (reported, or recovered from the updates) and the code's own step."""
    if obs.per_sample:
        return _per_sample_steps(spec, obs, loaded, n, notes)
    if obs.stepped is None:
        return Steps(obs.grads, None)
    stepped = _same_shapes(loaded, obs.stepped)
    grads = obs.grads if obs.grads is not None else {k: (loaded[k] - stepped[k]) / spec.lr for k in loaded}
    return Steps(grads, stepped)


def _per_sample_steps(spec: Spec, obs: Observation, loaded: dict, n: int, notes: list) -> Steps:
    """Per-sample code: each row's gradient recovered from fresh weights and summed (scaled as the
    loss averages or sums); its all-rows step and its one-row steps chained, for the step check."""
    if len(obs.per_sample) != n:
        raise AdapterError(f"{len(obs.per_sample)} per-sample updates for {n} rows")
    recovered = {k: np.zeros_like(v) for k, v in loaded.items()}
    scale = per_sample_scale(spec, n)
    for after in obs.per_sample:
        for k in recovered:
            recovered[k] += (loaded[k] - _same_shapes(loaded, after)[k]) / spec.lr * scale
    notes.append("the update steps per sample: each row's gradient taken from fresh weights and summed")
    if obs.stepped is None or obs.chained is None:
        raise AdapterError("a per-sample run without its all-rows step")
    grads, summed = (obs.grads, 1) if obs.grads is not None else (recovered, n)
    return Steps(grads, None, summed, _same_shapes(loaded, obs.stepped), _same_shapes(loaded, obs.chained))


def _misshaped_into(grads: dict | None, misshaped: dict | None, loaded: dict) -> dict:
    """Gradients in a shape their layout cannot hold: compared in values where they fit (their
    check fails on the shape); returns parameter -> the shape they came in."""
    shapes = {k: tuple(v.shape) for k, v in (misshaped or {}).items() if grads is not None and k not in grads}
    for k in shapes:
        raw = misshaped[k]
        grads[k] = raw.reshape(loaded[k].shape) if raw.size == loaded[k].size else raw
    return shapes


def _what_changed(adapter: Adapter, X, T, obs: Observation, loaded: dict, notes: list) -> tuple[str, ...]:
    """The inputs the code modified in place, and the parameters its gradients call changed."""
    mutated = _mutated(handed_batches(adapter, X, T, obs), obs.inputs)
    if mutated:
        notes.append(f"the code modified its input array(s) {', '.join(mutated)} in place")
    changed = _changed(loaded, obs.after_gradients)
    if changed:
        notes.append(f"{adapter.gradients.target} changed the parameter(s) {', '.join(changed)}: computing "
                     "gradients must leave the weights as they are")
        mutated += tuple(f"{name} (in {adapter.gradients.target})" for name in changed)
    return mutated


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


def run_adapter(adapter: Adapter, spec: Spec, params, X, T, backend: str = "numpy", module=None,
                forward_only: bool = False) -> Run:
    """Drive the code once and judge it in this process (check, assert_backprop): observe, derive.
    `module` reuses an already imported module; forward_only stops after the loss."""
    obs = observe(adapter, spec, params, X, T, module, forward_only)
    if obs.update_error is not None:
        raise obs.update_error
    return derive(adapter, spec, params, X, T, obs, backend)


