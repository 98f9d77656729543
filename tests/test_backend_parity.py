"""Every framework backend maps every loss of harness.core.losses and every activation of
harness.core.activations: its LOSSES and ACTIVATIONS tables (one line per name) have exactly the
core's names. The tables are read from the backend's source, so no framework is imported and the
test runs in every environment, the numpy-only one included."""
import ast
from pathlib import Path

import pytest

from harness import backends
from harness.core.activations import ACTIVATIONS
from harness.core.losses import LOSSES

BACKENDS_DIR = Path(backends.__file__).parent
CORE = {"LOSSES": set(LOSSES), "ACTIVATIONS": set(ACTIVATIONS)}

# Each module with the backends it makes (keras_backend: every Keras flavour); numpy runs the
# spec's own math and the reference nets, and has no tables.
MODULES: dict[str, list[str]] = {}
for _name, _info in backends.BACKENDS.items():
    if _info.module != "numpy_backend":
        MODULES.setdefault(_info.module, []).append(_name)


def table_keys(source: str, table: str) -> set[str]:
    """The keys of the module-level `table = {...}` dict literal (plus `table["x"] = ...` lines).
    A table written some other way fails here: the test could not vouch for it."""
    keys, found = set(), 0
    for node in ast.parse(source).body:
        if isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                if isinstance(target, ast.Name) and target.id == table:
                    assert isinstance(node.value, ast.Dict) and all(
                        isinstance(k, ast.Constant) and isinstance(k.value, str) for k in node.value.keys), \
                        f"{table} is not a dict literal with string keys: read it another way here"
                    keys |= {k.value for k in node.value.keys}
                    found += 1
                elif (isinstance(target, ast.Subscript) and isinstance(target.value, ast.Name)
                      and target.value.id == table and isinstance(target.slice, ast.Constant)):
                    keys.add(target.slice.value)
    assert found == 1, f"{table} assigned {found} times at module level, expected once"
    return keys


def test_every_framework_backend_module_is_covered():
    assert set(MODULES) == {"torch_backend", "keras_backend", "jax_backend"}, MODULES
    assert {"torch", "keras", "jax", "keras-jax", "keras-torch", "tf-keras"} <= {n for v in MODULES.values() for n in v}


@pytest.mark.parametrize("module", sorted(MODULES))
@pytest.mark.parametrize("table", sorted(CORE))
def test_backend_maps_every_core_name(module, table):
    keys = table_keys((BACKENDS_DIR / f"{module}.py").read_text(encoding="utf-8"), table)
    missing, extra = sorted(CORE[table] - keys), sorted(keys - CORE[table])
    who = f"backend {', '.join(MODULES[module])} (harness/backends/{module}.py)"
    assert not missing, f"{who}: {table} lacks {', '.join(missing)}"
    assert not extra, f"{who}: {table} maps {', '.join(extra)}, which harness.core does not have"


def test_the_reader_sees_a_missing_name():
    source = 'LOSSES = {"mse_mean_all": f}\nLOSSES["sse_sum_batch"] = g\nACTIVATIONS = dict(relu=f)\n'
    assert table_keys(source, "LOSSES") == {"mse_mean_all", "sse_sum_batch"}
    with pytest.raises(AssertionError, match="not a dict literal"):
        table_keys(source, "ACTIVATIONS")
    with pytest.raises(AssertionError, match="0 times"):
        table_keys("X = 1\n", "LOSSES")
