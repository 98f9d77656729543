"""A static tripwire for course staff: what in a submission's source looks like getting a grade
other than by hand-written backprop, or like reaching for the grader. It reads the source (never
runs it) and flags lines; a flag is for staff to look at, never a score: code may have honest
reasons (a debugging import left in), and code that hides its intent will not be flagged.
"""
from __future__ import annotations

import ast
from pathlib import Path

from ..core.parsing import PARSING

GRADER = {"harness": "the grading harness", "reference_impls": "the reference solutions"}
AUTODIFF = {"torch", "tensorflow", "keras", "jax", "autograd", "tinygrad", "mxnet", "paddle", "chainer", "theano",
            "micrograd", "flax", "optax", "sklearn"}
REACHING = {"ctypes": "raw memory and C calls", "subprocess": "starts processes", "signal": "sends signals",
            "socket": "opens network sockets", "multiprocessing": "starts processes", "gc": "inspects live objects",
            "inspect": "inspects frames", "importlib": "imports by name"}
ATTRIBUTES = {("sys", "modules"): "reads or patches sys.modules", ("sys", "_getframe"): "walks the caller's frames",
              ("os", "kill"): "sends signals", ("os", "killpg"): "sends signals", ("os", "setsid"): "leaves its session",
              ("os", "fork"): "forks", ("os", "system"): "runs shell commands", ("os", "_exit"): "exits the process",
              ("gc", "get_objects"): "inspects live objects", ("gc", "get_referrers"): "inspects live objects"}
MAX_SCAN_BYTES = 1_000_000
STRINGS = {"events.jsonl": "names the grader's result file", "/proc/": "reads other processes"}


def scan(path: str | Path) -> tuple[str, ...]:
    """Flags as 'line N: what', in line order; () for a clean file (or one that does not parse:
    that has its own verdict)."""
    try:
        size = Path(path).stat().st_size
        if size > MAX_SCAN_BYTES:          # parsing holds the grader's one parsing lock: not for megabytes
            return (f"line 1: not scanned: {size:,} bytes of source (a tripwire scans up to {MAX_SCAN_BYTES:,})",)
        source = Path(path).read_text(errors="replace")
        with PARSING:
            tree = ast.parse(source)
    except (SyntaxError, ValueError, OSError, RecursionError, MemoryError):   # nested too deep to parse here
        return ()
    flags: list[tuple[int, str]] = []
    aliases = {"builtins", "__builtins__"} | {a.asname for node in ast.walk(tree) if isinstance(node, ast.Import)
                                               for a in node.names if a.name == "builtins" and a.asname}
    for node in ast.walk(tree):
        for name in _imported(node):
            top = name.split(".")[0]
            if top in GRADER:
                flags.append((node.lineno, f"imports {name} ({GRADER[top]})"))
            elif top in AUTODIFF:
                flags.append((node.lineno, f"imports {name} (an autodiff framework: gradients without backprop?)"))
            elif top in REACHING:
                flags.append((node.lineno, f"imports {name} ({REACHING[top]})"))
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and \
                (node.value.id, node.attr) in ATTRIBUTES:
            flags.append((node.lineno, f"uses {node.value.id}.{node.attr} ({ATTRIBUTES[node.value.id, node.attr]})"))
        patched = _patches_builtins(node, aliases)
        if patched:
            flags.append((node.lineno, f"{patched} (patches builtins)"))
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            flags += [(node.lineno, f"the string {s!r} ({why})") for s, why in STRINGS.items() if s in node.value]
    return tuple(f"line {line}: {what}" for line, what in sorted(set(flags)))


def _names_builtins(expr, names: set) -> bool:
    return isinstance(expr, ast.Name) and expr.id in names


def _written_targets(node) -> list:
    """What an assignment, augmented or annotated assignment, or del statement writes to."""
    if isinstance(node, (ast.Assign, ast.Delete)):
        return node.targets
    return [node.target] if isinstance(node, (ast.AugAssign, ast.AnnAssign)) else []


def _writes_builtins(node, names: set) -> str:
    """builtins.len = ..., __builtins__[...] = ..., del builtins.len."""
    for t in _written_targets(node):
        if isinstance(t, (ast.Attribute, ast.Subscript)) and _names_builtins(t.value, names):
            return f"writes {t.value.id}.{t.attr}" if isinstance(t, ast.Attribute) else f"writes into {t.value.id}"
    return ""


def _called_on_builtins(node, names: set, functions: tuple) -> bool:
    """A call of one of `functions` (by name) with builtins as its first argument."""
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in functions and \
        bool(node.args) and _names_builtins(node.args[0], names)


def _sets_attribute_of_builtins(node, names: set) -> str:
    """setattr(builtins, ...), delattr(builtins, ...)."""
    if _called_on_builtins(node, names, ("setattr", "delattr")):
        return f"calls {node.func.id}({node.args[0].id}, ...)"
    return ""


def _calls_writing_method(node, names: set) -> str:
    """__builtins__.update(...), .__setitem__(...), .setdefault(...)."""
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and \
            node.func.attr in ("update", "__setitem__", "setdefault") and _names_builtins(node.func.value, names):
        return f"calls __builtins__.{node.func.attr}"
    return ""


def _reads_vars_of_builtins(node, names: set) -> str:
    """vars(builtins): the module's namespace, to write into."""
    return f"reads vars({node.args[0].id})" if _called_on_builtins(node, names, ("vars",)) else ""


# Ways of writing into the builtins module, tried in this order; each says what a node does, or "".
BUILTINS_WRITES = (_writes_builtins, _sets_attribute_of_builtins, _calls_writing_method, _reads_vars_of_builtins)


def _patches_builtins(node, names: set) -> str:
    """Writing into the builtins module (BUILTINS_WRITES: builtins.len = ..., setattr(builtins, ...),
    __builtins__[...] = ...); `from builtins import range`, the py2-compatibility line of course
    templates, only reads them and is not flagged. `names`: builtins under every name it has here."""
    for finds in BUILTINS_WRITES:
        found = finds(node, names)
        if found:
            return found
    return ""


def _imported(node) -> list[str]:
    if isinstance(node, ast.Import):
        return [a.name for a in node.names]
    if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
        return [node.module]
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "__import__" and \
            node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str):
        return [node.args[0].value]
    return []
