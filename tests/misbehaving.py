"""Submissions that misbehave, one way each, for the grader's tests: the xor reference net
(reference_impls/xor.py) with one edit, so everything else about each of them is right."""
from pathlib import Path

import reference_impls

_REF = (Path(reference_impls.__file__).parent / "xor.py").read_text()
XOR = _REF[:_REF.index('if __name__ == "__main__":')].rstrip() + "\n"
_F = "        return sigmoid(self.hidden @ self.w_out + self.b_out)\n"          # end of forward()
_B = "        error = y - y_hat\n"                                               # start of backward()
_TRAIN = ("\n\nnet = XORNet()\nX = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=float)\n"
          "y = np.array([[0], [1], [1], [0]], dtype=float)\n")

# name -> (fragment of XOR, its replacement); fragment None: appended; "": put first
EDITS = {
    "good": (None, ""),
    "trains_at_import_forever": (None, _TRAIN + "while True:                      # trains, never checks convergence\n"
                                 "    net.backward(X, y, net.forward(X), 0.5)\n"),
    "trains_at_import_briefly": (None, _TRAIN + "import time\nstart = time.time()\nwhile time.time() - start < 1.5:\n"
                                 "    net.backward(X, y, net.forward(X), 0.5)\nprint('trained:', net.forward(X).ravel())\n"),
    "endless_loop": (_B, "        while True:\n            pass\n" + _B),
    "memory_bomb": (_F, "        self.cache = np.ones((100_000, 100_000))\n" + _F),
    "calls_sys_exit": (_B, "        import sys\n        sys.exit(3)\n" + _B),
    "calls_os_exit": (_F, "        import os\n        os._exit(7)\n" + _F),
    "syntax_error": ("    def backward(self, X, y, y_hat, lr):\n", "    def backward(self, X, y, y_hat, lr)\n"),
    "raises": (_B, "        error = (y - y_hat) / 0 if y.shape[0] > 100 else (y - y_hat)\n        scale = {}['lr']\n"),
    "returns_none": (_F, "        self.out = sigmoid(self.hidden @ self.w_out + self.b_out)\n"),
    "wrong_shape": ("        self.w_out += lr * (self.hidden.T @ d_out)\n",
                    "        self.w_out = self.w_out + lr * (d_out.T @ self.hidden)\n"),
    "nan": (_B, "        error = (y - y_hat) * np.nan\n"),
    "renamed_attribute": ("w_hidden", "weights_hidden"),
    "mutates_input": ("        self.b_hidden += lr * d_hidden.sum(axis=0, keepdims=True)\n",
                      "        self.b_hidden += lr * d_hidden.sum(axis=0, keepdims=True)\n"
                      "        y[...] = 0  # 'reset' the targets\n"),
    "floods_output": (_F, "        for _ in range(20000):\n            print('debug: forward called with', X.shape, "
                          "'and a long line of text to fill the terminal')\n" + _F),
    "segfault": (_F, "        import ctypes\n        ctypes.string_at(0)\n" + _F),
    "missing_module": ("", "import backprop_helpers_that_do_not_exist\n"),
    "complex_output": (_F, "        return sigmoid(self.hidden @ self.w_out + self.b_out) + 5j\n" + _F),
}


def source(name: str) -> str:
    old, new = EDITS[name]
    if old is None:
        return XOR + new
    if old == "":
        return new + XOR
    count = XOR.count(old)
    if count == 0 or (count > 1 and name != "renamed_attribute"):
        raise AssertionError(f"{name}: fragment not found exactly once in xor.py: {old!r}")
    return XOR.replace(old, new)


def write(folder: Path, names=None) -> dict:
    """Write the submissions (all, or `names`) into `folder`; name -> path."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name in names or EDITS:
        paths[name] = folder / f"{name}.py"
        paths[name].write_text(source(name))
    return paths
