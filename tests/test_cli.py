import json
import os
import subprocess
import sys

import pytest

from harness.cli import main

from .helpers import hide_framework

FAST = ["--spec", "xor,linear_221", "--backends", "numpy"]


def test_check_passes_prints_header_table_and_writes_json(tmp_path, capsys, seed):
    out_file = tmp_path / "r.json"
    code = main(["check", *FAST, "--seed", str(seed), "--json", str(out_file)])
    out = capsys.readouterr().out
    assert code == 0, out
    for part in ("backprop-harness", "numpy", f"seed {seed}", "rtol float64", "forward", "gradients",
                 "fd~numpy", "PASSED"):
        assert part in out, part
    data = json.loads(out_file.read_text())
    assert data["passed"] is True and {r["spec"] for r in data["rows"]} == {"xor", "linear_221"}
    assert all(r["seed"] == seed for r in data["rows"])


@pytest.mark.parametrize("argv, message", [
    (["check", "--spec", "nope"], "unknown spec 'nope'; valid specs: relu_mse, sigmoid_mse, xor, softmax_ce, linear_221"),
    (["check", "--backends", "numpy,jaxx"], "unknown backend 'jaxx'; valid backends: numpy, torch, keras"),
    (["check", "--dtype", "float16"], "unknown dtype 'float16'; valid dtypes: float64, float32"),
    (["check", "--spec", "xor", "--sizes", "2,0,1"], "each >= 1"),
    (["check", "--spec", "xor", "--batch", "0"], "must be >= 1"),
    (["check", "--spec", "xor", "--lr", "nan"], "finite number > 0"),
    (["check", "--spec", "xor", "--lr", "-1"], "finite number > 0"),
    (["check", "--seed", "-3"], "must be >= 0"),
    (["check", "--sizes", "7,5,3"], "--sizes, --loss and --activations need exactly one --spec"),
    (["check", "--spec", "xor", "--loss", "hinge"], "unknown loss 'hinge'; valid: mse_mean_all"),
    (["check", "--spec", "xor", "--activations", "swish,sigmoid"], "unknown activation 'swish'; valid: relu"),
    (["check", "--spec", "xor", "--l2", "-1"], "must be a finite number >= 0"),
    (["check", "--spec", "xor", "--l2", "0.1", "--l2-form", "full"], "unknown L2 form 'full'; valid: lambda"),
    (["check", "--spec", "softmax_ce", "--sizes", "7,5,1"], "softmax cross-entropy needs"),
])
def test_bad_input_is_a_one_line_error_with_exit_2(argv, message, capsys):
    with pytest.raises(SystemExit) as exc_info:
        raise SystemExit(main(argv))
    err = capsys.readouterr().err
    assert exc_info.value.code == 2
    assert message in err and "Traceback" not in err


def test_no_command_prints_help_and_exits_2(capsys):
    assert main([]) == 2
    assert "check" in capsys.readouterr().out


def test_list_shows_specs_and_backends(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert "relu_mse" in out and "keras" in out


def run_cli(args, env_extra=None, cwd=None):
    env = {**os.environ, **(env_extra or {})}
    return subprocess.run([sys.executable, "-m", "harness", *args], capture_output=True, text=True, env=env,
                          cwd=cwd, timeout=300)


def test_default_check_runs_the_whole_matrix_in_a_fresh_process(require_backend):
    require_backend("torch"), require_backend("keras")
    proc = run_cli(["check"])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "PASSED: 60 rows, 60 passed" in proc.stdout
    assert "Traceback" not in proc.stderr


def test_missing_framework_is_skipped_with_reason_and_hint(tmp_path):
    """A real interpreter where `import torch` fails as if torch were not installed."""
    hide_framework(tmp_path, "torch")
    proc = run_cli(["check", "--spec", "xor", "--backends", "numpy,torch"],
                   {"PYTHONPATH": os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")])})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "SKIP" in proc.stdout and "torch not installed" in proc.stdout
    assert 'pip install "backprop-harness[torch]"' in proc.stdout
    assert "fd~numpy" in proc.stdout and "PASS" in proc.stdout


def test_mismatch_exits_1_and_prints_every_mismatch(monkeypatch, capsys):
    from harness import backends
    numpy_backend = backends.load("numpy")
    real = numpy_backend.run

    def doubled(spec, params, X, T):
        run = real(spec, params, X, T)
        return type(run)(**{**run.__dict__, "grads": {k: 2 * v for k, v in run.grads.items()}})

    monkeypatch.setattr(numpy_backend, "run", doubled)
    assert main(["check", "--spec", "xor", "--backends", "numpy", "--dtype", "float64"]) == 1
    out = capsys.readouterr().out
    assert "FAILED" in out and all(f"| {p} (" in out for p in ("W1", "b1", "W2", "b2"))


def test_a_report_from_check_code_renders_with_its_header():
    """check_code() builds its Report without the CLI: rendering it must not need CLI-only settings."""
    from pathlib import Path

    import reference_impls
    from harness.assertion import check_code
    from harness.check.report import render, to_json
    report = check_code(str(Path(reference_impls.__file__).parent / "xor.py"), style="xor", against=("numpy",))
    text = render(report)
    assert text.startswith("backprop-harness ") and "seed 0" in text and "yours" in text
    assert json.loads(json.dumps(to_json(report), default=str))["settings"]["backends"] == ["numpy", "yours"]


def test_list_names_losses_activations_and_sandboxes(capsys):
    from harness.core.losses import LOSSES
    from harness.grade import isolation
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert all(f"  {name} " in out for name in LOSSES)
    assert "softmax (output only)" in out and "leaky_relu" in out
    assert all(f"  {m.value} " in out for m in isolation.Mode)


def test_nothing_compared_is_never_a_pass(capsys, monkeypatch):
    """One backend and no finite differences: refused before it runs. Every backend of a pair
    skipped (here: made unavailable) and no finite differences: the report says nothing was
    compared and exits 2, never PASSED."""
    assert main(["check", "--spec", "xor", "--backends", "numpy", "--no-fd"]) == 2
    assert "nothing to compare; name a second backend" in capsys.readouterr().err
    from harness import backends
    real = backends.load

    def load(name):
        if name == "torch":
            raise backends.BackendUnavailable("torch: hidden by the test")
        return real(name)
    monkeypatch.setattr(backends, "load", load)
    assert main(["check", "--spec", "xor", "--backends", "numpy,torch", "--no-fd"]) == 2
    out = capsys.readouterr().out
    assert "NOTHING COMPARED: 2 rows, 0 passed, 0 failed, 0 errors, 2 skipped" in out and "PASSED" not in out


def test_check_takes_any_loss_activations_and_l2_term(capsys, require_backend):
    """A net no reference net implements: numpy is the spec's own math (and says so), compared with
    the frameworks and finite differences."""
    require_backend("torch")
    code = main(["check", "--spec", "xor", "--sizes", "3,4,2", "--activations", "tanh,sigmoid", "--loss",
                 "bce_mean_batch", "--l2", "0.2", "--l2-form", "half_lambda", "--l2-biases", "--backends",
                 "numpy,torch", "-v"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "numpy~torch" in out and "fd~torch" in out and "SKIP" not in out


def test_the_benchmark_grades_the_reference_nets_that_exist():
    """`harness bench` grades each built-in assignment that has a reference net; the course packs
    (whose solutions live in tests/) are left out, not crashed on."""
    from pathlib import Path

    import reference_impls
    from harness.bench import reference_assignments
    names = reference_assignments()
    assert names == ["linear_221", "relu_mse", "sigmoid_mse", "softmax_ce", "xor"]
    assert all((Path(reference_impls.__file__).parent / f"{n}.py").is_file() for n in names)


def test_a_reader_that_stops_early_is_not_an_error():
    """`harness list | head -2`: the pipe closes before harness is done writing; that is the reader's
    choice, not an environment error."""
    import subprocess
    import sys
    proc = subprocess.Popen([sys.executable, "-m", "harness", "list"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.readline()
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 0, err
    assert "error" not in err.lower(), err
