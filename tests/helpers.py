"""Shared by the tests: small non-square sizes, and running a check for assertions."""
import dataclasses
import textwrap

from harness.check.report import details
from harness.core.spec import get_spec
from harness.drive.assignment import reference_adapter


def small_sizes(name: str) -> tuple:
    """Non-square, so a missing transpose cannot hide behind matching shapes."""
    return (3, 5, 1) if get_spec(name).sizes[-1] == 1 else (7, 5, 3)


def small_spec(name: str, dtype="float64", seed=0, batch=4):
    return get_spec(name).replace(sizes=small_sizes(name), dtype=dtype, seed=seed, batch=batch)


def explain(rows, seed) -> str:
    from harness.check.matrix import CheckSettings, Report
    report = Report(tuple(rows), CheckSettings((), ()))
    return f"seed {seed} (pytest --seed {seed} reproduces)\n" + details(report, verbose=True)


def mutant_adapter(style: str, path) -> "object":
    return dataclasses.replace(reference_adapter(style), module=str(path))


def hide_framework(folder, top_level: str = "torch"):
    """Write a sitecustomize.py into `folder` that makes `import <top_level>` fail as if the
    package were not installed; put `folder` on PYTHONPATH of a child process to use it."""
    (folder / "sitecustomize.py").write_text(textwrap.dedent(f"""
        import sys
        class _Hide:
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] == {top_level!r}:
                    raise ModuleNotFoundError("No module named {top_level!r}", name=name)
        sys.meta_path.insert(0, _Hide())
    """))
    return folder


def strict_pack(name: str, folder) -> str:
    """A built-in course pack made strict, as staff may: inputs scored, every case weighed,
    float64 results for float32 inputs failed; its support folder named by absolute path."""
    import re
    from pathlib import Path

    from harness.drive.assignment import BUILTIN_DIR
    text = (BUILTIN_DIR / f"{name}.toml").read_text()
    text = re.sub(r"^inputs = 0\b", "inputs = 1", text, flags=re.M)
    text = re.sub(r"^weight = 0\b.*$", "", text, flags=re.M)
    text = text.replace('float64_results = "accept"', 'float64_results = "fail"')
    text = re.sub(r'^support = "(support/[^"]+)"', lambda m: f'support = "{BUILTIN_DIR / m.group(1)}"', text, flags=re.M)
    path = Path(folder) / f"{name}_strict.toml"
    path.write_text(text)
    return str(path)
