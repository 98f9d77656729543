"""Attack: patch the grading child itself (numpy's comparisons, the runner's functions, the
main module) so that a wrong net looks right."""
import sys

import numpy as np

np.array_equal = lambda *a, **k: True            # noqa: E731 - "the inputs are unchanged"
np.allclose = lambda *a, **k: True                # noqa: E731
for name, module in list(sys.modules.items()):
    if name.startswith("harness") and hasattr(module, "derive"):
        module.derive = lambda *a, **k: None
