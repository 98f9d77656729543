"""The pytest plugin as a course repo meets it: a real pytest run in a subprocess (pytester) over a
student's net. Subprocesses, because frameworks cannot be imported twice in one interpreter."""
import os
from pathlib import Path

import pytest

import reference_impls

from .helpers import hide_framework

REF = Path(reference_impls.__file__).parent

TEST_FILE = """
def test_my_net(backprop_check):
    backprop_check("my_net.py", style="{style}", sizes={sizes}, batch=4)
"""


def make_repo(pytester, style, sizes, mutate=None):
    source = (REF / f"{style}.py").read_text()
    if mutate:
        assert source.count(mutate[0]) == 1
        source = source.replace(*mutate)
    (pytester.path / "my_net.py").write_text(source)
    pytester.makepyfile(test_course=TEST_FILE.format(style=style, sizes=sizes))


def test_plugin_is_registered_through_its_entry_point(pytester):
    result = pytester.runpytest_subprocess("--help")
    result.stdout.fnmatch_lines(["*backprop-harness*", "*--backprop-backends*"])


def test_correct_net_passes(pytester, require_backend):
    require_backend("torch")
    make_repo(pytester, "xor", (3, 5, 1))
    result = pytester.runpytest_subprocess("--backprop-backends", "torch")
    result.assert_outcomes(passed=1)


def test_buggy_net_fails_naming_the_parameter_and_seed(pytester, require_backend):
    require_backend("torch")
    make_repo(pytester, "sigmoid_mse", (7, 5, 3),
              ("self.W2 -= self.lr * (self.h.T @ delta2)", "self.W2 -= 2 * self.lr * (self.h.T @ delta2)"))
    result = pytester.runpytest_subprocess("--backprop-backends", "torch", "--backprop-seed", "5")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*seed 5*", "*gradients | torch vs yours | W2 (5, 3)*",
                                 "*Mismatched elements: 15 / 15 (100.0%)*"])
    assert "| W1 (" not in result.stdout.str()


def test_unknown_backend_name_is_a_usage_error_before_any_test_runs(pytester):
    make_repo(pytester, "xor", (3, 5, 1))
    result = pytester.runpytest_subprocess("--backprop-backends", "torch,no_such_framework")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*unknown backend(s) 'no_such_framework'; valid: numpy, torch, keras*"])
    assert "passed" not in result.stdout.str() and "failed" not in result.stdout.str()


def test_report_header_names_backends_and_seed(pytester):
    make_repo(pytester, "xor", (3, 5, 1))
    result = pytester.runpytest_subprocess("--backprop-backends", "numpy", "--backprop-seed", "7", "--collect-only")
    result.stdout.fnmatch_lines(["backprop-harness: backends numpy (installed); seed 7; dtype float64"])


def test_missing_framework_skips_with_the_reason_instead_of_passing(pytester, monkeypatch):
    hide = pytester.mkdir("hide_torch")
    hide_framework(hide, "torch")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(hide), os.environ.get("PYTHONPATH", "")]))
    make_repo(pytester, "xor", (3, 5, 1))
    result = pytester.runpytest_subprocess("--backprop-backends", "torch", "-rs")
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(["*no framework to compare with*torch not installed*"])


def test_the_readme_example_runs_as_written(pytester, require_backend):
    """The README's library-author example, copied from the README itself, over a correct CS231n
    two-layer net saved as my_net.py: both tests pass in a real pytest run."""
    import re
    from pathlib import Path
    require_backend("torch")
    root = Path(__file__).parent.parent
    readme = (root / "README.md").read_text()
    block = next(b for b in re.findall(r"```python\n(.*?)```", readme, re.S) if "backprop_check" in b)
    (pytester.path / "my_net.py").write_text((root / "tests" / "course_nets" / "cs231n_two_layer.py").read_text())
    pytester.makepyfile(test_readme=block)
    result = pytester.runpytest_subprocess("--backprop-backends", "torch", "-q")
    result.assert_outcomes(passed=2)
