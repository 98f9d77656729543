"""What grading real public course code taught (benchmarks/real_code: 278 copies, an independent
oracle), kept as tests on files written for this project in those styles: CS231n's 2016 L2 form
and biases kept as (1, H), the CS231n template's placeholder methods, nnfs chapter scripts that
train at the top level (after nnfs.init()), a learner's notebook folder with the course's helper
files beside it, and course support code calling what a submission lacks."""
import textwrap
from pathlib import Path

import pytest

from harness.drive.assignment import AssignmentError, load
from harness.drive.problems import Verdict, describe
from harness.grade.batch import find_submissions, grade

HERE = Path(__file__).parent / "course_nets"
TWO_LAYER = (HERE / "cs231n_two_layer.py").read_text()
NNFS = (HERE / "nnfs_dense.py").read_text()


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def two_layer(tmp_path, *edits):
    text = TWO_LAYER
    for old, new in edits:
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    return write(tmp_path, "neural_net.py", text)


HALF_LOSS = ("reg_loss = reg * (", "reg_loss = 0.5 * reg * (")
HALF_GRADS = [("+ 2 * reg * W2", "+ reg * W2"), ("+ 2 * reg * W1", "+ reg * W1")]


def test_the_2016_l2_form_passes_with_a_note_when_loss_and_gradients_agree(tmp_path):
    g = grade(two_layer(tmp_path, HALF_LOSS, *HALF_GRADS), load("cs231n_two_layer"))
    assert g.passed, g.problem
    assert any("0.5 * reg * sum(W**2)" in n for n in g.notes), g.notes
    assert any(a.startswith("L2 as 0.5") for a in g.accepted), g.accepted


def test_a_half_l2_loss_with_the_full_gradient_still_fails(tmp_path):
    g = grade(two_layer(tmp_path, HALF_LOSS), load("cs231n_two_layer"))
    assert g.status is Verdict.FAILED
    assert not any("0.5 * reg" in n for n in g.notes), g.notes


def test_without_l2_forms_accepted_the_half_form_fails(tmp_path):
    text = Path(load("cs231n_two_layer").source).read_text().replace('l2_forms_accepted = ["half_lambda"]', "")
    toml = write(tmp_path, "strict.toml", text)
    g = grade(two_layer(tmp_path, HALF_LOSS, *HALF_GRADS), load(toml))
    assert g.status is Verdict.FAILED


def test_an_unknown_l2_form_is_refused_with_the_valid_ones(tmp_path):
    text = Path(load("cs231n_two_layer").source).read_text().replace('["half_lambda"]', '["halved"]')
    with pytest.raises(AssignmentError, match=r"unknown L2 form 'halved'; valid: lambda .*half_lambda"):
        load(write(tmp_path, "bad.toml", text))


def test_biases_kept_as_row_vectors_pass_as_the_courses_gradient_check_does(tmp_path):
    path = two_layer(tmp_path,
                     ("self.params['b1'] = np.zeros(hidden_size)", "self.params['b1'] = np.zeros((1, hidden_size))"),
                     ("grads['b1'] = np.sum(dhidden, axis=0)", "grads['b1'] = np.sum(dhidden, axis=0, keepdims=True)"))
    g = grade(path, load("cs231n_two_layer"))
    assert g.passed, g.problem
    assert any("read as shape (n,)" in n for n in g.notes), g.notes


def test_the_cs231n_template_method_reads_not_implemented_yet(tmp_path):
    body = '''\
        W1, b1 = self.params['W1'], self.params['b1']
        W2, b2 = self.params['W2'], self.params['b2']
        N, D = X.shape

        scores = None
        pass

        if y is None:
            return scores

        loss = None
        pass

        grads = {}
        pass

        return loss, grads
'''
    start = TWO_LAYER.index("        W1, b1 = self.params")
    g = grade(write(tmp_path, "neural_net.py", TWO_LAYER[:start] + body), load("cs231n_two_layer"))
    assert g.status is Verdict.API
    assert "loss is not implemented yet" in g.problem, g.problem


def test_a_filled_in_method_is_never_called_a_placeholder(tmp_path):
    from harness.grade.placeholders import unimplemented
    path = write(tmp_path, "layers.py", textwrap.dedent('''\
        def relu_backward(dout, cache):
            dx, x = None, cache
            dx = dout
            dx[x <= 0] = 0
            return dx

        def relu_forward(x):
            out = None
            pass
            cache = x
            return out, cache
        '''))
    assert unimplemented(path) == {"relu_forward"}


# --- nnfs: the chapter script trains at the top level ------------------------------------------------

def test_an_nnfs_chapter_script_is_graded_from_its_classes(tmp_path):
    g = grade(write(tmp_path, "chapter10.py", NNFS), load("nnfs_dense"))
    assert g.passed, g.problem
    assert any("only the file's definitions ran" in n for n in g.notes), g.notes


def test_nnfs_init_at_the_top_level_does_not_turn_the_math_float32(tmp_path):
    pytest.importorskip("nnfs")
    text = NNFS.replace("import numpy as np\n", "import numpy as np\nimport nnfs\nfrom nnfs.datasets import "
                        "spiral_data\n\nnnfs.init()\n", 1)
    g = grade(write(tmp_path, "chapter10.py", text), load("nnfs_dense"))
    assert g.passed, g.problem


def test_the_books_class_names_spelled_otherwise_are_found(tmp_path):
    text = NNFS.replace("Activation_ReLU", "Activation_ReLu").replace("CategoricalCrossentropy", "CategoricalCrossEntropy")
    g = grade(write(tmp_path, "chapter10.py", text), load("nnfs_dense"))
    assert g.passed, g.problem


def test_a_script_without_the_optimizer_is_an_api_mismatch_not_a_grader_error(tmp_path):
    text = NNFS.replace("class Optimizer_SGD", "class Optimizer_Adam")
    g = grade(write(tmp_path, "chapter9.py", text), load("nnfs_dense"))
    assert g.status is Verdict.API, g.problem
    assert "no class Optimizer_SGD" in g.problem


def test_later_chapters_layers_with_a_training_flag_are_called_as_the_book_calls_them(tmp_path):
    text = NNFS.replace("    def forward(self, inputs):", "    def forward(self, inputs, training):", 2)   # dense, ReLU
    text = text.split("# The book's chapter script")[0]
    g = grade(write(tmp_path, "chapter16.py", text), load("nnfs_dense"))
    assert g.passed, g.problem


def test_top_level_code_never_runs_in_definitions_mode(tmp_path):
    """Nothing but definitions: a top-level statement that would end the process is left out."""
    text = NNFS + "\nimport os\nos._exit(3)\nraise SystemExit(4)\n"
    g = grade(write(tmp_path, "chapter10.py", text), load("nnfs_dense"))
    assert g.passed, g.problem


def test_run_takes_all_or_definitions_only(tmp_path):
    text = Path(load("nnfs_dense").source).read_text().replace('run = "definitions"', 'run = "classes"')
    text = text.replace('support = "support/nnfs_dense"', f'support = "{Path(load("nnfs_dense").source).parent}'
                                                         '/support/nnfs_dense"')
    with pytest.raises(AssignmentError, match=r"run = 'classes'; valid: \"all\" .* \"definitions\""):
        load(write(tmp_path, "bad.toml", text))


# --- folders as learners keep them ------------------------------------------------------------------

def test_a_notebook_folder_with_the_courses_helper_files_is_graded_by_its_notebook(tmp_path):
    student = tmp_path / "ada"
    student.mkdir()
    for helper in ("dnn_utils_v2.py", "testCases_v4a.py"):
        (student / helper).write_text("import numpy as np\n")
    (student / "Building_your_Deep_Neural_Network_Step_by_Step_v8a.ipynb").write_text("{}")
    assert find_submissions([tmp_path], load("dlai_deep_nn")) == \
        [str(student / "Building_your_Deep_Neural_Network_Step_by_Step_v8a.ipynb")]


def test_nielsens_network_is_found_beside_mnist_loader(tmp_path):
    student = tmp_path / "ada"
    student.mkdir()
    (student / "network.py").write_text("")
    (student / "mnist_loader.py").write_text("")
    assert find_submissions([tmp_path], load("nielsen_network")) == [str(student / "network.py")]


def test_an_exception_in_course_support_code_on_the_submissions_objects_is_an_api_mismatch(tmp_path):
    support = tmp_path / "support"
    support.mkdir()
    (support / "course.py").write_text("def build(module):\n    return module.Layer_Dense(2, 3)\n")
    sub = tmp_path / "sub.py"
    sub.write_text("")
    import importlib.util
    spec = importlib.util.spec_from_file_location("course_for_test", support / "course.py")
    course = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(course)
    try:
        course.build(object())
    except AttributeError as exc:
        assert describe(exc, str(sub), (str(support),)).kind is Verdict.API
        assert describe(exc, str(sub)).kind is not Verdict.API


def test_a_layer_bias_gradient_kept_as_a_row_passes_with_a_note(tmp_path):
    layers = (HERE / "cs231n_layers.py").read_text()
    old = "db = np.sum(dout, axis=0)"
    assert layers.count(old) == 1
    g = grade(write(tmp_path, "layers.py", layers.replace(old, "db = np.sum(dout, axis=0, keepdims=True)")),
              load("cs231n_layers"))
    assert g.passed, g.problem
    assert any("affine.db (1, " in n and "read as shape (M,)" in n for n in g.notes), g.notes


def test_an_unscored_case_never_names_the_cause_of_a_scored_failure(tmp_path):
    """A real copy: no row maximum subtracted (inf only in the unscored large-scores case) and a
    ReLU mask that never applies (`hidden < 0` after the ReLU): the mask is what is named."""
    path = two_layer(tmp_path, ("shifted_scores = scores - np.max(scores, axis=1, keepdims=True)",
                                "shifted_scores = scores"),
                     ("dhidden[hidden_layer <= 0] = 0", "dhidden[hidden_layer < 0] = 0"))
    g = grade(path, load("cs231n_two_layer"))
    assert g.status is Verdict.FAILED
    assert g.diagnosis.primary == "missing_act_deriv", g.diagnosis.message()
    assert "nonfinite" not in {f.cause for f in g.diagnosis.findings}


def test_a_python_2_module_is_named_with_what_to_import_instead(tmp_path):
    folder = tmp_path / "ada"
    folder.mkdir()
    (folder / "mnist_loader.py").write_text("import cPickle\nimport gzip\n")
    network = (HERE / "nielsen_network.py").read_text()
    (folder / "network.py").write_text("import mnist_loader\n" + network)
    g = grade(str(folder / "network.py"), load("nielsen_network"), private_folder=True)   # its folder is its own
    assert g.status is Verdict.IMPORT
    assert "written for Python 2: the module cPickle does not exist in Python 3 (use pickle)" in g.problem, g.problem


def test_the_strict_sandbox_shows_font_configuration_and_nothing_else_of_etc(tmp_path):
    """/etc/fonts is bound so matplotlib's text needs no warning on stderr; the rest of /etc stays out."""
    from harness.grade import isolation
    if isolation.unavailable(isolation.Mode.STRICT):
        pytest.skip(f"strict sandbox unavailable: {isolation.unavailable(isolation.Mode.STRICT)}")
    probe = ("import os\n\n\nclass Probe:   # a class body runs at definition time\n"
             "    seen = sorted(os.listdir('/etc')) if os.path.isdir('/etc') else []\n"
             "    assert seen in {allowed}, seen\n\n\n")
    g = grade(write(tmp_path, "chapter10.py", probe.format(allowed="([], ['fonts'])") + NNFS), load("nnfs_dense"),
              sandbox_mode="strict")
    assert g.passed, g.problem
    g = grade(write(tmp_path, "chapter10.py", probe.format(allowed="([],)") + NNFS), load("nnfs_dense"),
              sandbox_mode="strict")
    assert not g.passed and "fonts" in g.problem, g.problem       # the probe runs: it sees /etc/fonts


def test_harness_check_accepts_the_l2_form_harness_grade_accepts(tmp_path):
    """The student's own check agrees with the grader: the 2016 form passes, compared in that form."""
    from harness.check.matrix import Status
    from harness.check.submission import iter_submission
    path = two_layer(tmp_path, HALF_LOSS, *HALF_GRADS)
    rows = [r for _, case_rows in iter_submission(path, load("cs231n_two_layer"), against=()) for r in case_rows]
    assert rows and all(r.status is not Status.FAIL for r in rows), [r.status for r in rows]
    assert any("0.5 * reg * sum(W**2)" in n for r in rows for n in r.notes)    # fd alone failed the full form


def test_harness_check_runs_an_nnfs_script_as_harness_grade_does(tmp_path):
    pytest.importorskip("nnfs")
    from harness.check.matrix import Status
    from harness.check.submission import iter_submission
    text = NNFS.replace("import numpy as np\n", "import numpy as np\nimport nnfs\n\nnnfs.init()\n", 1)
    path = write(tmp_path, "chapter10.py", text)
    rows = [r for _, case_rows in iter_submission(path, load("nnfs_dense"), against=()) for r in case_rows]
    assert rows and all(r.status is Status.PASS for r in rows), [(r.spec.dtype, r.status) for r in rows]


def test_a_support_factory_the_support_folder_lacks_is_refused_when_the_assignment_loads(tmp_path):
    text = Path(load("nnfs_dense").source).read_text()
    support = Path(load("nnfs_dense").source).parent / "support" / "nnfs_dense"
    text = text.replace('support = "support/nnfs_dense"', f'support = "{support}"')
    with pytest.raises(AssignmentError, match=r"factory = 'nnfs_book.Model' names a support module 'nnfs_book', "
                                              r"but .* has no nnfs_book.py"):
        load(write(tmp_path, "a.toml", text.replace('"nnfs_course.Model"', '"nnfs_book.Model"')))
    with pytest.raises(AssignmentError, match=r"has no support folder"):
        load(write(tmp_path, "b.toml", text.replace(f'support = "{support}"', "")))


def test_a_students_own_module_shadowing_the_support_factory_gains_nothing(tmp_path):
    """The submission's folder comes first on its sys.path: a fake nnfs_course there runs, and is
    judged like any code of the student's (the numbers are still compared)."""
    folder = tmp_path / "ada"
    folder.mkdir()
    (folder / "chapter10.py").write_text(NNFS)
    (folder / "nnfs_course.py").write_text(textwrap.dedent('''\
        import numpy as np
        from types import SimpleNamespace as NS


        class Model:
            def __init__(self, module, n_inputs, n_hidden, n_outputs, learning_rate=1.0):
                self.dense1 = NS(weights=np.zeros((n_inputs, n_hidden)), biases=np.zeros((1, n_hidden)))
                self.dense2 = NS(weights=np.zeros((n_hidden, n_outputs)), biases=np.zeros((1, n_outputs)))

            def predict(self, X):
                return np.full((len(X), self.dense2.weights.shape[1]), 1.0 / self.dense2.weights.shape[1])

            def forward(self, X, y):
                return 0.0

            def backward(self, X, y):
                for d in (self.dense1, self.dense2):
                    d.dweights, d.dbiases = np.zeros_like(d.weights), np.zeros_like(d.biases)
                return {"dense1": self.dense1, "dense2": self.dense2}

            def train_step(self, X, y):
                self.backward(X, y)
        '''))
    g = grade(str(folder / "chapter10.py"), load("nnfs_dense"), private_folder=True)
    assert g.status is Verdict.FAILED and g.score == 0, (g.status, g.score, g.problem)
