"""Assignment files: the built-in ones grade the reference nets (through the sandbox, as any
student), a course's own TOML describes another API entirely, and a broken file is reported
with what would be valid."""
from pathlib import Path

import pytest

import reference_impls
from harness.drive.assignment import BUILTIN_DIR, AssignmentError, LayerAssignment, builtin_names, load
from harness.grade.batch import grade

from .mutant_catalog import MUTANTS, style_file

HERE = Path(__file__).parent
HW3 = HERE / "custom_assignment" / "hw3.toml"
REF_DIR = Path(reference_impls.__file__).parent


@pytest.mark.parametrize("name", ["relu_mse", "sigmoid_mse", "xor", "softmax_ce", "linear_221"])
def test_reference_nets_pass_their_builtin_assignment(name):
    assert name in builtin_names()
    g = grade(str(REF_DIR / f"{name}.py"), load(name))
    assert g.status == "passed", g.problem
    assert g.score == g.max_score >= 30
    assert not g.diagnosis.findings


def test_builtin_assignments_have_visible_and_hidden_cases():
    for name in builtin_names():
        a = load(name)
        assert {c.visibility for c in a.cases} == {"visible", "hidden"}, name
        batches = {c.batch for c in a.cases} if isinstance(a, LayerAssignment) else \
            {c.spec.batch for c in a.cases} | {p.batch for p in a.probes()}
        assert len(batches) >= 3, name


def test_custom_assignment_with_its_own_api_passes_its_reference():
    a = load(str(HW3))
    assert a.spec.activations == ("relu", "sigmoid") and a.spec.sizes == (4, 6, 3)
    g = grade(a.reference, a)
    assert g.status == "passed", g.problem
    assert g.max_score == 8 + 16 + 8           # weights: 2+1+4+1 per case, the second case counts twice
    assert [c.visibility for c in g.checks if c.case == "secret"][0] == "after_published"


def test_custom_assignment_diagnoses_a_transposed_gradient(tmp_path):
    source = (HW3.parent / "mlp.py").read_text()
    bad = tmp_path / "mlp.py"
    bad.write_text(source.replace('"dW1": D1 @ A0.T', '"dW1": (D1 @ A0.T).T'))
    g = grade(str(bad), load(str(HW3)))
    assert g.status == "failed"
    assert g.diagnosis.primary == "transposed" and g.diagnosis.findings[0].params == ("W1",)
    assert {c.name for c in g.checks if not c.passed} == {"gradient W1", "step"}


def _write(tmp_path, text: str) -> str:
    path = tmp_path / "a.toml"
    path.write_text(text)
    return str(path)


HW3_TEXT = HW3.read_text()


@pytest.mark.parametrize("edit, message", [
    (("factory = ", "factroy = "), "unknown key(s) factroy; valid: factory, init"),
    (('layout = "out_in", grad_key = "dW1"', 'layout = "colmajor", grad_key = "dW1"'),
     "layout 'colmajor'; valid: in_out, out_in"),
    (('visibility = "after_published"', 'visibility = "secret"'), "visibility 'secret'; valid: visible, hidden"),
    (('W2 = { path = "layers.1.W"', 'W3 = { path = "layers.1.W"'), "must name exactly W1, b1, W2, b2"),
    (('spec = "sigmoid_mse"', 'spec = "sigmoid"'), "unknown spec 'sigmoid'; valid specs: relu_mse"),
    (('activations = ["relu", "sigmoid"]', 'activations = ["relu", "swish"]'), "unknown activation 'swish'; valid"),
    (('n_out = "sizes.2"', 'n_out = "sizes.7"'), "valid: lr, seed, dtype, l2, sizes, module or sizes.0 .. sizes.2"),
    (("[scoring]", "[scorring]"), "unknown table(s) scorring"),
    (('returns = "grads"', 'returns = "gradients"'), "returns = 'gradients' must name the gradients: grads"),
    (("weight = 2", "weight = -1"), "weight must be a number >= 0"),
    (('[assignment]', '[assignment'), "not valid TOML"),
    (("batch = 5", 'batch = "6"'), "[assignment]: batch = '6' must be a whole number"),
    (("seed = 3", "seed = 1.5"), "cases[1]: seed = 1.5 must be a whole number"),
    (('init = { n_in = "sizes.0", n_hidden = "sizes.1", n_out = "sizes.2" }', 'init = "x"'),
     "code.init must be a table of keyword = value"),
    (('init = { n_in = "sizes.0"', 'init = { n_in = 3'), "code.init.n_in = 3; valid: lr, seed, dtype, l2, sizes"),
    (('args = ["output", "T"]', 'args = ["output", "targets"]'),
     "code.loss: unknown argument(s) 'targets'; valid: model, X, T, lr, rows, pairs, epochs, output, labels"),
    (("sizes = [4, 6, 3]", 'sizes = [4, "6", 3]'), "sizes = [4, '6', 3] must list whole numbers"),
    (("timeout_s = 30", "timeout_s = true"), "timeout_s = True must be a number"),
    (('returns = "grads" }', 'returns = "grads", kwargs = { reg = [1] } }'), "kwargs must be a table of constants"),
])
def test_broken_assignment_files_say_what_is_valid(tmp_path, edit, message):
    old, new = edit
    assert HW3_TEXT.count(old) == 1
    with pytest.raises(AssignmentError) as info:
        load(_write(tmp_path, HW3_TEXT.replace(old, new)))
    assert message in str(info.value)
    assert "a.toml" in str(info.value)


def test_unknown_assignment_lists_the_builtin_ones():
    with pytest.raises(AssignmentError, match="unknown assignment 'relu'; built-in: cs231n_layers, .*, relu_mse"):
        load("relu")
    with pytest.raises(AssignmentError, match="no such assignment file"):
        load("missing.toml")


def test_the_catalog_mutants_are_real_edits():
    for m in MUTANTS:
        assert m.source() != style_file(m.style).read_text()


def test_a_case_whose_lr_hides_gradients_in_round_off_is_refused_when_it_loads(tmp_path):
    """relu_mse code only updates in place: at lr 1e-9 in float32 the recovered gradients are
    round-off; the case could only be INCONCLUSIVE, so the file says so when it loads."""
    text = (BUILTIN_DIR / "relu_mse.toml").read_text()
    (tmp_path / "a.toml").write_text(text + '\n[[cases]]\nname = "tiny lr"\ndtype = "float32"\nlr = 1e-9\n')
    with pytest.raises(AssignmentError, match="case 'tiny lr': the code only updates in place, and lr 1e-09 too small"):
        load(str(tmp_path / "a.toml"))


def test_a_case_whose_gradients_underflow_is_refused_when_it_loads(tmp_path):
    """xor's sigmoid units with weights x1000 saturate: their slopes, hence every gradient, are
    below float64's smallest normal number, where frameworks that flush denormals give 0 and others
    a subnormal. Such a case could only be INCONCLUSIVE."""
    text = (BUILTIN_DIR / "xor.toml").read_text()
    (tmp_path / "a.toml").write_text(text + '\n[[cases]]\nname = "saturated"\nsizes = [4, 11, 1]\nbatch = 10\n'
                                            'seed = 1615869692\ninit_scale = 1000\n')
    with pytest.raises(AssignmentError, match="case 'saturated': the gradients are within what underflow in float64"):
        load(str(tmp_path / "a.toml"))
