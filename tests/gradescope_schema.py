"""Checks a results.json against Gradescope's documented format: the JSON Schema beside this file
(written from Gradescope's "Autograder Specifications"), plus what a schema cannot say."""
import json
import math
from pathlib import Path

import jsonschema  # the `test` extra (nbformat needs it too)

SCHEMA_PATH = Path(__file__).with_name("gradescope_results.schema.json")
SCHEMA = json.loads(SCHEMA_PATH.read_text())
jsonschema.Draft202012Validator.check_schema(SCHEMA)


def _no_constant(name):
    raise ValueError(f"{name} is not JSON (Gradescope's parser rejects it)")


def load_results(text: str) -> dict:
    """Parse as strict JSON (no NaN or Infinity, which Python would write and read back)."""
    return json.loads(text, parse_constant=_no_constant)


def check_results(doc: dict) -> dict:
    """Schema-valid, and the numbers make sense: scores finite, 0 <= score <= max_score per test,
    a passed test has its full score, the total is the tests' sum."""
    errors = sorted(jsonschema.Draft202012Validator(SCHEMA).iter_errors(doc), key=lambda e: list(e.absolute_path))
    assert not errors, "\n".join(f"{'/'.join(map(str, e.absolute_path)) or '(top)'}: {e.message}" for e in errors)
    tests = doc.get("tests", [])
    for t in tests:
        assert math.isfinite(t["score"]) and math.isfinite(t["max_score"]), t
        assert 0 <= t["score"] <= t["max_score"] + 1e-9, t
        if t.get("status") == "passed":
            assert t["score"] == t["max_score"], t
    if tests:
        assert math.isclose(doc["score"], sum(t["score"] for t in tests), abs_tol=1e-9)
    return doc
