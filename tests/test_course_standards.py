"""Real course code graded as the course would: the course's packages in the sandbox (plotting
headless), the course's own standard as the packs' default (in-place edits, float64 results, the
course's handed-out softmax at large scores reported, not failed), Python 2 and old numpy named,
the tripwire quiet on template lines, notebooks run cell by cell. Every file here is written for
this project in the style real submissions have (their template imports, py2 lines, plots)."""
import importlib.util
import json
import textwrap
from pathlib import Path

import pytest

from harness import cli
from harness.drive import assignment as assignments
from harness.drive.assignment import AssignmentError, load
from harness.drive.problems import describe
from harness.grade import environment, tripwire
from harness.grade.batch import grade

HERE = Path(__file__).parent / "course_nets"
TWO_LAYER = (HERE / "cs231n_two_layer.py").read_text()
LAYERS = (HERE / "cs231n_layers.py").read_text()
TEMPLATE_HEAD = """\
from __future__ import print_function

from builtins import range
from builtins import object
import numpy as np
import matplotlib.pyplot as plt
from past.builtins import xrange
"""


def needs(*modules):
    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    return pytest.mark.skipif(bool(missing), reason=f"needs {', '.join(missing)} (pip install "
                                                    "\"backprop-harness[courses]\")")


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


# --- the course's environment --------------------------------------------------------------------
def test_the_courses_extra_installs_what_the_packs_declare():
    text = (Path(__file__).parent.parent / "pyproject.toml").read_text()
    line = next(x for x in text.splitlines() if x.startswith("courses = "))
    extra = {p.split(">")[0].split("=")[0].strip('" ').lower() for p in line.split("=", 1)[1].strip(" []").split(",")}
    declared = {p.lower() for n in assignments.builtin_names() for p in load(n).environment.packages}
    assert declared == extra, (declared, extra)


@needs("matplotlib", "past")
def test_a_template_with_plotting_and_py2_imports_gets_full_marks(tmp_path):
    """The CS231n template's module-level imports (matplotlib, past.builtins, builtins) and a plot
    drawn and shown while the module loads: headless, nothing written outside the private /tmp."""
    plot = "\nplt.plot([1, 2, 3])\nplt.savefig('loss_history.png')\nplt.show()\n"
    body = TWO_LAYER.replace("import numpy as np\n", TEMPLATE_HEAD, 1) + plot
    sub = write(tmp_path, "neural_net.py", body)
    g = grade(sub, load("cs231n_two_layer"))
    assert g.passed and g.score == g.max_score, g.problem
    assert not (tmp_path / "loss_history.png").exists()
    assert not any("builtins" in f for f in g.staff_flags), g.staff_flags


def test_an_installed_package_the_assignment_does_not_offer_is_named_for_staff(tmp_path):
    """scipy is on the grader (the test extra brings it) but the xor assignment offers numpy alone."""
    if importlib.util.find_spec("scipy") is None:
        pytest.skip("needs scipy installed on the grader")
    sub = write(tmp_path, "xor.py", "import numpy as np\nimport scipy.special\n" + (
        Path(__file__).parent.parent / "reference_impls" / "xor.py").read_text())
    g = grade(sub, load("xor"))
    assert g.status == "import", g.problem
    assert "installed on the grader but this assignment does not offer it" in g.problem
    assert '[environment] packages = ["scipy"]' in g.problem


def test_a_declared_package_missing_on_the_grader_is_one_environment_error(tmp_path, capsys):
    toml = (HERE / "two_layer_scores.toml").read_text() + '\n[environment]\npackages = ["no-such-course-package"]\n'
    a = write(tmp_path, "hw.toml", toml)
    (tmp_path / "subs").mkdir()
    for i in range(3):
        (tmp_path / "subs" / f"s{i}.py").write_text((HERE / "two_layer_scores.py").read_text())
    (tmp_path / "two_layer_scores.py").write_text((HERE / "two_layer_scores.py").read_text())
    code = cli.main(["grade", str(tmp_path / "subs"), "--assignment", a, "--json", str(tmp_path / "r.json")])
    err = capsys.readouterr().err
    assert code == 2, err
    assert "pip install no-such-course-package" in err and "Traceback" not in err
    assert not (tmp_path / "r.json").exists() or json.loads((tmp_path / "r.json").read_text())["results"] == []


@pytest.mark.parametrize("packages", [["backprop-harness"], ["harness"], ["matplotlib", "reference_impls"]])
def test_the_grader_itself_is_never_offered(tmp_path, packages):
    toml = (HERE / "two_layer_scores.toml").read_text() + f"\n[environment]\npackages = {json.dumps(packages)}\n"
    with pytest.raises(AssignmentError, match="the grader itself"):
        load(write(tmp_path, "hw.toml", toml))


def test_a_framework_brought_in_by_a_dependency_is_refused(monkeypatch):
    """A package whose requirements pull in torch would smuggle autodiff in unnamed."""
    real = environment._requirements
    monkeypatch.setattr(environment, "_requirements",
                        lambda dist: ["torch"] if dist.metadata["Name"].lower() == "tqdm" else real(dist))
    environment.offered.cache_clear()
    try:
        if importlib.util.find_spec("torch") is None:
            with pytest.raises(environment.EnvironmentUnavailable, match="torch"):
                environment.offered(("tqdm",))
        else:
            with pytest.raises(environment.EnvironmentUnavailable, match="autodiff framework"):
                environment.offered(("tqdm",))
            assert environment.offered(("tqdm", "torch")).frameworks == ("torch",)
    finally:
        environment.offered.cache_clear()


@needs("matplotlib", "past")
def test_the_answer_key_stays_out_of_reach_with_the_course_packages(tmp_path):
    """With matplotlib and future on the child's path, the harness is still not importable there."""
    sneak = TWO_LAYER.replace("import numpy as np\n", TEMPLATE_HEAD + textwrap.dedent("""\
        try:
            import harness.core.net as answers
        except ImportError:
            answers = None
        """), 1).replace("        return loss, grads", "        assert answers is None, 'found the key'\n"
                                                       "        return loss, grads")
    g = grade(write(tmp_path, "neural_net.py", sneak), load("cs231n_two_layer"), sandbox_mode="auto")
    if g.sandbox == "strict":
        assert g.passed, g.problem


# --- the course's standard -----------------------------------------------------------------------
INPLACE_RELU = LAYERS.replace("    dx = dout * (x > 0)\n", "    dout[x <= 0] = 0\n    dx = dout\n")
FLOAT64_LAYERS = LAYERS.replace("    out = np.maximum(0, x)\n", "    out = np.maximum(0, x).astype(np.float64)\n")
HANDED_OUT_SOFTMAX = LAYERS[:LAYERS.index("def softmax_loss")] + textwrap.dedent("""\
    def softmax_loss(x, y):
        probs = np.exp(x - np.max(x, axis=1, keepdims=True))
        probs /= np.sum(probs, axis=1, keepdims=True)
        N = x.shape[0]
        loss = -np.sum(np.log(probs[np.arange(N), y])) / N
        dx = probs.copy()
        dx[np.arange(N), y] -= 1
        dx /= N
        return loss, dx
    """)


@needs("past", "scipy")
@pytest.mark.parametrize("text, tag", [(INPLACE_RELU, "inputs modified"), (FLOAT64_LAYERS, "float64 results"),
                                       (HANDED_OUT_SOFTMAX, "case 'large scores'")],
                         ids=["relu_backward zeroes dout in place", "float64 for float32", "handed-out softmax_loss"])
def test_what_the_course_accepts_passes_the_pack_and_is_reported(tmp_path, text, tag):
    g = grade(write(tmp_path, "layers.py", text), load("cs231n_layers"))
    assert g.passed and g.score == g.max_score, g.problem
    assert tag in g.accepted, g.accepted
    assert g.notes, "reported to student and staff"


@needs("past", "scipy")
def test_the_handed_out_softmax_is_diagnosed_as_log_of_an_underflow(tmp_path):
    g = grade(write(tmp_path, "layers.py", HANDED_OUT_SOFTMAX), load("cs231n_layers"))
    assert [f.cause for f in g.diagnosis.findings] == ["log_underflow"], g.diagnosis
    assert "log-softmax" in g.diagnosis.findings[0].hint and "subtract each row" not in g.diagnosis.findings[0].hint


@needs("past", "scipy")
def test_staff_can_make_the_course_standard_strict(tmp_path):
    toml = (assignments.BUILTIN_DIR / "cs231n_layers.toml").read_text()
    strict = toml.replace('float64_results = "accept"', 'float64_results = "fail"').replace(
        "inputs = 0 ", "inputs = 1 ").replace('support = "support/cs231n_layers"',
                                             f'support = "{assignments.BUILTIN_DIR / "support" / "cs231n_layers"}"')
    a = load(write(tmp_path, "strict.toml", strict))
    for text, failing in ((INPLACE_RELU, "relu inputs unchanged"), (FLOAT64_LAYERS, "relu forward")):
        g = grade(write(tmp_path, "layers.py", text), a)
        assert g.status == "failed" and failing in {c.name for c in g.checks if not c.passed}, g.problem
    g = grade(write(tmp_path, "layers.py", FLOAT64_LAYERS), a)
    assert g.diagnosis.findings[0].cause == "float64_upcast", g.diagnosis          # not "slope at the activation"


def test_an_old_assignment_file_loads_unchanged():
    a = load(str(Path(__file__).parent / "custom_assignment" / "hw3.toml"))
    assert a.environment.packages == () and a.float64_results == "fail"


def test_a_wrong_standard_says_what_is_valid(tmp_path):
    toml = (HERE / "two_layer_scores.toml").read_text().replace("[code]", 'float64_results = "yes"\n\n[code]', 1)
    with pytest.raises(AssignmentError, match='valid: "fail"'):
        load(write(tmp_path, "hw.toml", toml))


# --- diagnoses true on real code ----------------------------------------------------------------
def test_an_untouched_template_function_is_not_implemented_yet(tmp_path):
    template = LAYERS[:LAYERS.index("def relu_forward")] + textwrap.dedent('''\
        def relu_forward(x):
            """Computes the forward pass for a layer of rectified linear units (ReLUs)."""
            out = None
            # TODO: Implement the ReLU forward pass.
            pass
            cache = x
            return out, cache


        def relu_backward(dout, cache):
            dx, x = None, cache
            pass
            return dx
        ''') + LAYERS[LAYERS.index("def softmax_loss"):]
    g = grade(write(tmp_path, "layers.py", template), _numpy_only_layers(tmp_path))
    relu = [c.output for c in g.checks if c.name.startswith("relu") and not c.passed and c.checked]
    assert relu and all("relu_forward is not implemented yet" in o for o in relu), relu


def _numpy_only_layers(tmp_path):
    """cs231n_layers without its environment (the test runs where no course package is installed)."""
    toml = (assignments.BUILTIN_DIR / "cs231n_layers.toml").read_text()
    toml = toml[:toml.index("[environment]")] + toml[toml.index("[[layers]]"):]
    toml = toml.replace('support = "support/cs231n_layers"',
                        f'support = "{assignments.BUILTIN_DIR / "support" / "cs231n_layers"}"')
    return load(write(tmp_path, "layers_numpy.toml", toml))


def test_a_factor_is_not_inferred_from_one_case_that_others_contradict(tmp_path):
    """dx halved only for the large case (a hard-coded branch): no 'exactly 0.5 times' from one case."""
    odd = LAYERS.replace("    dx /= N\n", "    dx /= N\n    if np.abs(x).max() > 100:\n        dx = dx / 2\n")
    g = grade(write(tmp_path, "layers.py", odd), _numpy_only_layers(tmp_path))
    causes = [f.cause for f in g.diagnosis.findings]
    assert causes and not any(c.startswith("scale") or c == "constant_factor" for c in causes), g.diagnosis


@pytest.mark.parametrize("code, words", [
    ("def f():\n    return list(xrange(3))\n", "written for Python 2: xrange"),
    ("def f():\n    return reduce(lambda a, b: a + b, [1, 2])\n", "written for Python 2: reduce"),
    ("import numpy as np\ndef f():\n    return np.zeros(3, dtype=np.int)\n", "np.int was removed"),
    ("import numpy as np\ndef f():\n    a = np.zeros(3)\n    a.itemset(0, 1.0)\n", "ndarray.itemset was removed"),
    ("import numpy as np\ndef f():\n    return np.reshape(np.zeros(4), newshape=(2, 2))\n", "newshape= was removed"),
    ("def f():\n    n = 6\n    return list(range(n / 2))\n", "write `//` for integer division"),
    ("def f():\n    return {}.iteritems()\n", "dict.iteritems"),
])
def test_python2_and_old_numpy_are_named_with_the_line(tmp_path, code, words):
    path = write(tmp_path, "old.py", code)
    spec = importlib.util.spec_from_file_location("old_course_code", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    with pytest.raises(Exception) as info:   # noqa: B017 - each raises its own kind
        module.f()
    problem = describe(info.value, path)
    assert words in problem.message and problem.where.endswith(":" + problem.where.rsplit(":", 1)[1])
    assert problem.line.strip(), problem


# --- the tripwire --------------------------------------------------------------------------------
def test_the_templates_own_lines_raise_no_flag(tmp_path):
    assert tripwire.scan(write(tmp_path, "t.py", TEMPLATE_HEAD + "from builtins import str\nx = range(3)\n")) == ()


@pytest.mark.parametrize("line", ["import builtins\nbuiltins.len = lambda x: 0\n",
                                  "import builtins as b\nb.abs = None\n",
                                  "import builtins\nsetattr(builtins, 'print', None)\n",
                                  "__builtins__['print'] = None\n",
                                  "__builtins__.update(print=None)\n"])
def test_patching_builtins_is_still_flagged(tmp_path, line):
    flags = tripwire.scan(write(tmp_path, "t.py", line))
    assert any("patches builtins" in f for f in flags), flags


# --- notebooks as Jupyter runs them --------------------------------------------------------------
@needs("nbformat", "h5py", "matplotlib", "scipy", "PIL")
def test_a_notebook_whose_test_cells_fail_is_still_graded(tmp_path):
    import nbformat
    source = (HERE / "dlai_deep_nn.py").read_text()
    cells = ["import numpy as np\nimport h5py\nimport matplotlib.pyplot as plt\nfrom testCases_v4a import *\n"
             "from dnn_utils_v2 import sigmoid, sigmoid_backward, relu, relu_backward\n%matplotlib inline\n"
             "%load_ext autoreload\n%autoreload 2",
             source,
             "parameters = initialize_parameters_deep([5,4,3])\nprint(\"W1 = \" + str(parameters[\"W1\"])",  # no parse
             "A, W, b = linear_forward_test_case()\nZ, linear_cache = linear_forward(A, W, b)\nprint(Z)"]
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    path = tmp_path / "Building_your_Deep_Neural_Network_Step_by_Step_v8a.ipynb"
    nbformat.write(nb, str(path))
    g = grade(str(path), load("dlai_deep_nn"))
    assert g.passed and g.score == g.max_score, g.problem
    note = next(n for n in g.notes if "notebook statement" in n)
    assert "testCases_v4a" in note and "cell 1" in note and "SyntaxError" in note, note
