"""Correct code is never flagged: random sizes, batches, seeds, dtypes and learning rates, with
the default tolerances, by the check matrix and by the grader. Derandomized, so a failure
reproduces; the failing example is printed."""
import dataclasses
import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import reference_impls
from harness import backends
from harness.check.matrix import check_spec
from harness.core.spec import SPECS, get_spec
from harness.drive.assignment import Case, load
from harness.drive.protocol import Job
from harness.grade.child import RunOutcome, drive
from harness.grade.evaluate import evaluate
from harness.grade.report import render
from harness.grade.tasks import task_of

from .helpers import explain

REF_DIR = Path(reference_impls.__file__).parent
WITH = [b for b in ("torch", "keras") if not backends.missing_reason(b)]


@settings(max_examples=200, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(name=st.sampled_from(list(SPECS)), n_in=st.integers(1, 9), n_hidden=st.integers(1, 9),
       n_out=st.integers(2, 6), batch=st.integers(1, 7), seed=st.integers(0, 2**31),
       dtype=st.sampled_from(["float64", "float32"]), lr=st.sampled_from([0.01, 0.1, 0.5, 1.0]))
def test_correct_reference_nets_pass_everywhere(name, n_in, n_hidden, n_out, batch, seed, dtype, lr):
    out = 1 if get_spec(name).sizes[-1] == 1 else n_out
    spec = get_spec(name).replace(sizes=(n_in, n_hidden, out), batch=batch, seed=seed, dtype=dtype, lr=lr)
    rows = check_spec(spec, ["numpy", *WITH])
    assert all(r.status == "PASS" for r in rows), f"{spec.label()} lr {lr}\n" + explain(rows, seed)


# The backends this environment promises (.ci/run exports them for its main env): one missing is
# a broken install, which would otherwise leave the sweep above comparing numpy alone.
PROMISED = os.environ.get("BPH_EXPECT_BACKENDS", "").split()


def test_frameworks_were_part_of_the_sweep():
    missing = [f"{n}: {backends.missing_reason(n)}" for n in PROMISED if backends.missing_reason(n)]
    assert not missing, "BPH_EXPECT_BACKENDS promises backends that cannot run here:\n" + "\n".join(missing)
    if not WITH:
        pytest.skip("no framework installed (and none promised by BPH_EXPECT_BACKENDS): torch or keras needed")
    spec = get_spec("relu_mse").replace(sizes=(3, 4, 2), batch=3)      # one example of the sweep
    rows = check_spec(spec, ["numpy", *WITH])
    passed = {b for r in rows if r.status == "PASS" for b in (r.expected, r.actual)}
    assert set(WITH) <= passed, f"no passing row compared {sorted(set(WITH) - passed)}\n" + explain(rows, 0)


@settings(max_examples=200, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(name=st.sampled_from(list(SPECS)), n_in=st.integers(1, 9), n_hidden=st.integers(1, 9),
       n_out=st.integers(2, 6), batch=st.integers(1, 7), seed=st.integers(0, 2**31),
       dtype=st.sampled_from(["float64", "float32"]), lr=st.sampled_from([0.01, 0.1, 0.5, 1.0]))
def test_grader_never_flags_the_reference_nets(name, n_in, n_hidden, n_out, batch, seed, dtype, lr):
    """The grading path (student driver, one comparison against net.backprop, scoring,
    diagnosis probes) in-process, on the reference nets as submissions of their own style."""
    assignment = load(name)
    out = 1 if assignment.spec.sizes[-1] == 1 else n_out
    spec = assignment.spec.replace(sizes=(n_in, n_hidden, out), batch=batch, seed=seed, dtype=dtype, lr=lr)
    _grades_as_passed(assignment, spec, str(REF_DIR / f"{name}.py"), f"lr {lr}")


# The course-style nets (tests/course_nets/), each graded by its own assignment (a built-in course
# pack, or a .toml beside it); those that keep every array in the case's dtype (a dtype constructor
# argument) are graded in float32 too.
COURSE = Path(__file__).parent / "course_nets"
COURSE_NETS = {"cs231n_two_layer": "cs231n_two_layer", "dlfs_two_layer": "dlfs_two_layer",
               "dlfs_own_layers": "dlfs_two_layer", "dlai_deep_nn": "dlai_deep_nn", "dlai_l2": "dlai_l2.toml",
               "nielsen_network": "nielsen_network", "nnfs_dense": "nnfs_dense", "leaky_layers": "leaky_layers.toml",
               "softmax_probs": "softmax_probs.toml", "bce_tanh": "bce_tanh.toml",
               "two_layer_scores": "two_layer_scores.toml"}
FLOAT32_NETS = {"leaky_layers", "softmax_probs", "bce_tanh"}


@settings(max_examples=150, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(net=st.sampled_from(sorted(COURSE_NETS)), sizes=st.lists(st.integers(1, 8), min_size=4, max_size=4),
       batch=st.integers(1, 9), seed=st.integers(0, 2**31), float32=st.booleans(),
       lr=st.sampled_from([0.01, 0.1, 0.5, 1.0, 3.0]), l2=st.sampled_from([0.0, 0.01, 0.3, 1.0]))
def test_grader_never_flags_the_course_nets(net, sizes, batch, seed, float32, lr, l2):
    """Every course idiom (L2 in three forms, log(p + 1e-7), data in columns, caches, lists of
    gradients, per-sample calls, softmax probabilities) at random sizes, batches, seeds,
    learning rates and L2 strengths: correct code passes."""
    ref = COURSE_NETS[net]
    assignment = load(ref if not ref.endswith(".toml") else str(COURSE / ref))
    base = assignment.spec
    n = len(base.sizes)
    out = sizes[n - 1] if base.classification or base.sizes[-1] > 1 else 1
    if base.loss_record.one_hot_targets:
        out = max(out, 2)
    dtype = "float32" if float32 and net in FLOAT32_NETS else "float64"
    spec = base.replace(sizes=(*sizes[:n - 1], out), batch=batch, seed=seed, dtype=dtype, lr=lr,
                        l2=l2 if base.l2 else None)
    _grades_as_passed(assignment, spec, str(COURSE / f"{net}.py"), f"lr {lr}, L2 {spec.l2}")


def _grades_as_passed(assignment, spec, submission: str, label: str) -> None:
    assignment = dataclasses.replace(assignment, cases=(Case("generated", spec),))
    task = task_of(assignment)
    plan = task.plan(assignment)
    paths = (assignment.support,) if assignment.support else ()      # the course's support modules
    job = Job("net", submission, 0, task.job_runs(assignment, plan), assignment.adapter_for(submission), paths=paths)
    inputs = {run_id: {"X": d.X.copy(), "T": d.T.copy(), "p": {k: v.copy() for k, v in d.params.items()}}
              for run_id, d in plan.items()}                          # as the child reads them: its own arrays
    results = {e.id: task.judge(job, plan[e.id], e.result) for e in drive(job, inputs)
               if isinstance(e, RunOutcome) and not e.partial}
    g = evaluate(assignment, submission, results, plan=plan)
    assert g.status == "passed", f"{spec.label()} {label}\n{render(g)}"


# The losses and activations beyond the reference nets: the frameworks and finite differences.
FAMILIES = [("sse_mean_batch", "tanh", "linear"), ("sse_sum_batch", "leaky_relu", "sigmoid"),
            ("ce_probs_mean_batch", "relu", "softmax"), ("ce_probs_mean_batch", "tanh", "softmax"),
            ("bce_mean_batch", "tanh", "sigmoid"), ("bce_mean_batch", "leaky_relu", "sigmoid"),
            ("mse_mean_all", "tanh", "tanh"), ("softmax_ce_mean_batch", "leaky_relu", "linear")]
FRAMEWORKS = [n for n in ("torch", "keras", "jax") if not backends.missing_reason(n)]


@pytest.mark.skipif(len(FRAMEWORKS) < 2, reason=f"needs two of torch, keras, jax; installed: {FRAMEWORKS}")
@settings(max_examples=60, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(family=st.sampled_from(FAMILIES), n_in=st.integers(1, 9), n_hidden=st.integers(1, 9), n_out=st.integers(2, 6),
       batch=st.integers(1, 7), seed=st.integers(0, 2**31), dtype=st.sampled_from(["float64", "float32"]),
       lr=st.sampled_from([0.01, 0.1, 0.5, 1.0]), l2=st.sampled_from([0.0, 0.0, 0.05, 0.5]),
       l2_form=st.sampled_from(["lambda", "half_lambda", "half_lambda_over_n"]), l2_biases=st.booleans())
def test_added_losses_and_activations_never_disagree(family, n_in, n_hidden, n_out, batch, seed, dtype, lr, l2, l2_form,
                                                     l2_biases):
    loss, hidden, output = family
    spec = get_spec("relu_mse").replace(loss=loss, activations=(hidden, output), sizes=(n_in, n_hidden, n_out),
                                        batch=batch, seed=seed, dtype=dtype, lr=lr, l2=l2, l2_form=l2_form,
                                        l2_biases=l2_biases)
    rows = check_spec(spec, FRAMEWORKS)
    assert all(r.status == "PASS" for r in rows), f"{spec.label()} lr {lr}\n" + explain(rows, seed)
