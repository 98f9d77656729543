"""The GitHub Actions workflow for the tox matrix (the scale-out path for library authors): it
validates against GitHub's workflow schema (check-jsonschema's vendored copy), zizmor's audit
finds nothing in it (actions pinned to commits, no persisted credentials), and its matrix is
tox.ini's envlist, so that neither can change without the other."""
import configparser
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
WORKFLOW = REPO / ".github" / "workflows" / "tox.yml"


def tool(name: str) -> str:
    found = shutil.which(name, path=str(Path(sys.executable).parent)) or shutil.which(name)
    if found is None:
        pytest.skip(f"{name} is not installed (it is in the `test` extra)")
    return found


def tox_envlist() -> list[str]:
    ini = configparser.ConfigParser(interpolation=None)
    ini.read(REPO / "tox.ini")
    return [e for e in re.split(r"[\s,]+", ini["tox"]["envlist"]) if e]


def test_the_matrix_is_tox_envlist():
    yaml = pytest.importorskip("ruamel.yaml", reason="ruamel.yaml comes with check-jsonschema (the `test` extra)")
    doc = yaml.YAML(typ="safe").load(WORKFLOW.read_text())
    envs = doc["jobs"]["tox"]["strategy"]["matrix"]["env"]
    assert envs == tox_envlist() and len(set(envs)) == len(envs) >= 10


def test_the_workflow_matches_githubs_schema():
    proc = subprocess.run([tool("check-jsonschema"), "--builtin-schema", "vendor.github-workflows", str(WORKFLOW)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_zizmor_finds_nothing():
    proc = subprocess.run([tool("zizmor"), "--offline", str(WORKFLOW)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and "No findings" in proc.stdout + proc.stderr, proc.stdout + proc.stderr


def test_a_broken_workflow_is_caught(tmp_path):
    """The linters really look: an unknown key and an unpinned action are both reported."""
    bad = tmp_path / "bad.yml"
    bad.write_text(WORKFLOW.read_text().replace("runs-on:", "runs_on:"))
    proc = subprocess.run([tool("check-jsonschema"), "--builtin-schema", "vendor.github-workflows", str(bad)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0
    unpinned = tmp_path / "unpinned.yml"
    unpinned.write_text(re.sub(r"actions/checkout@\w+", "actions/checkout@v4", WORKFLOW.read_text()))
    proc = subprocess.run([tool("zizmor"), "--offline", str(unpinned)], capture_output=True, text=True, timeout=120)
    assert "unpinned" in proc.stdout + proc.stderr
