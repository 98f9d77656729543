"""Correct code is never flagged: random sizes, batches, seeds, dtypes and learning rates, with
the default tolerances. Derandomized, so a failure reproduces; the failing example is printed."""
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness import backends
from harness.check import check_spec
from harness.specs import SPECS, get_spec

from .helpers import explain

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


@pytest.mark.skipif(not WITH, reason="no framework installed: torch or keras needed for this test")
def test_frameworks_were_part_of_the_sweep():
    assert WITH
