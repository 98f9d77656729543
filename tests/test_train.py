"""Datasets and training parity: the shipped digits, MNIST from IDX files the test writes, the
numpy reference learning for real, and the frameworks following it step for step."""
import json

import numpy as np
import pytest

from harness.cli import main
from harness.core.spec import get_spec
from harness.train import datasets
from harness.train import lockstep as train


def test_digits_ship_with_the_package_and_split_reproducibly():
    d = datasets.load("digits", seed=3)
    assert d.X_train.shape == (1438, 64) and d.X_test.shape == (359, 64) and d.n_classes == 10
    assert 0.0 <= d.X_train.min() and d.X_train.max() <= 1.0
    assert np.array_equal(d.y_test, datasets.load("digits", seed=3).y_test)
    assert not np.array_equal(d.y_test, datasets.load("digits", seed=4).y_test)


def _write_mnist(root, n_train=12, n_test=5):
    raw = root / "MNIST" / "raw"
    raw.mkdir(parents=True)
    rng = np.random.default_rng(0)
    parts = {}
    for split, n in (("train", n_train), ("test", n_test)):
        images, labels = rng.integers(0, 256, (n, 28, 28)), rng.integers(0, 10, n)
        img_name, lab_name = datasets.MNIST_FILES[split]
        datasets.write_idx(raw / img_name, images)
        datasets.write_idx(raw / lab_name, labels)
        parts[split] = (images, labels)
    return parts


def test_mnist_from_local_idx_files(tmp_path):
    parts = _write_mnist(tmp_path)
    d = datasets.mnist(tmp_path)
    assert d.X_train.shape == (12, 784) and d.X_test.shape == (5, 784)
    assert np.array_equal(d.y_train, parts["train"][1])
    assert np.allclose(d.X_train[3].reshape(28, 28) * 255, parts["train"][0][3])


def test_idx_reader_rejects_a_truncated_file(tmp_path):
    path = tmp_path / "x-idx1-ubyte"
    datasets.write_idx(path, np.arange(10))
    path.write_bytes(path.read_bytes()[:-3])
    with pytest.raises(datasets.DatasetError, match="header says"):
        datasets.read_idx(path)


def test_missing_mnist_says_where_to_put_it_and_downloads_nothing(tmp_path):
    with pytest.raises(datasets.DatasetError) as info:
        datasets.mnist(tmp_path / "nowhere")
    msg = str(info.value)
    assert "MNIST" in msg and "raw" in msg and "train-images-idx3-ubyte" in msg and "no download" in msg


@pytest.mark.parametrize("name", ["relu_mse", "softmax_ce"])
def test_the_numpy_reference_learns_digits_to_95_percent_in_20_epochs(name):
    spec = get_spec(name).replace(dtype="float64")
    h, _ = train.train(spec, datasets.load("digits"), 20, ["numpy"])
    assert h.final()["numpy"]["test_accuracy"] >= 0.95


@pytest.mark.parametrize("backend", ["torch", "keras", "jax"])
def test_frameworks_follow_the_reference_step_for_step(backend, require_backend):
    require_backend(backend)
    data = datasets.load("digits")
    spec = get_spec("softmax_ce").replace(dtype="float64")
    h, skipped = train.train(spec, data, 2, ["numpy", backend])
    assert not skipped
    final = h.final()
    assert final[backend] == final["numpy"]
    assert max(s.divergence for s in h.steps if s.backend == backend) < 1e-12      # float64: round-off only


def test_train_cli_writes_log_summary_and_curves(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    out = tmp_path / "run"
    code = main(["train", "--spec", "relu_mse", "--dataset", "synthetic", "--epochs", "2", "--backends", "numpy",
                 "--out", str(out)])
    assert code == 0
    summary = json.loads((out / "summary.json").read_text())
    assert set(summary["dtypes"]) == {"float64", "float32"} and summary["dataset"] == "synthetic"
    assert (out / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    header = (out / "log.csv").read_text().splitlines()[0]
    assert header == "dtype,epoch,step,backend,loss,loss_minus_numpy,max_param_divergence_from_numpy"
    assert "written:" in capsys.readouterr().out


def test_train_cli_errors_are_clear(tmp_path, capsys):
    assert main(["train", "--dataset", "mnist", "--data", str(tmp_path), "--out", str(tmp_path / "o")]) == 2
    assert "no download is attempted" in capsys.readouterr().err
    assert main(["train", "--dataset", "cifar"]) == 2
    assert "unknown dataset 'cifar'; valid: digits, mnist, synthetic" in capsys.readouterr().err
    assert main(["train", "--spec", "xor"]) == 2
    assert "one output" in capsys.readouterr().err


def test_an_interrupted_train_writes_what_it_did(tmp_path, capsys, monkeypatch):
    """Ctrl-C in the 7th step of float64: log.csv and summary.json hold the steps done, the summary
    says the run is incomplete, float32 never starts, exit 130; no empty folder."""
    from harness.train import lockstep
    real, calls = lockstep.net.loss, []

    def loss_then_interrupt(*args, **kwargs):
        calls.append(1)
        if len(calls) == 7:
            raise KeyboardInterrupt
        return real(*args, **kwargs)
    monkeypatch.setattr(lockstep.net, "loss", loss_then_interrupt)
    out = tmp_path / "run"
    code = main(["train", "--spec", "relu_mse", "--dataset", "synthetic", "--epochs", "3", "--backends", "numpy",
                 "--out", str(out)])
    assert code == 130
    assert "INTERRUPTED in float64 after 6 steps" in capsys.readouterr().out
    summary = json.loads((out / "summary.json").read_text())
    assert list(summary["dtypes"]) == ["float64"] and summary["dtypes"]["float64"]["complete"] is False
    assert len((out / "log.csv").read_text().splitlines()) == 1 + 6
