"""Functions a submission has not written yet: the course template's placeholder bodies (`pass`,
`out = None`, `raise NotImplementedError`, a `return` of those), read from the source (never run),
so that "returned None" reads "not implemented yet" for them."""
from __future__ import annotations

import ast
import dataclasses
import re
from pathlib import Path

from ..drive.problems import Problem, Verdict
from .parsing import PARSING
from .tripwire import MAX_SCAN_BYTES

_RETURNED_NONE = re.compile(r"^(?:layer \S+: )?(?:module\.)?(?:[\w]+\.)*(\w+)(?: \(\w+\))? "
                            r"(?:returned None|should return \d+ values .*, got a NoneType)")


def unimplemented(path: str | Path) -> frozenset[str]:
    """Names of the functions and methods in the file whose body is still a placeholder."""
    try:
        if Path(path).stat().st_size > MAX_SCAN_BYTES:
            return frozenset()
        source = Path(path).read_text(errors="replace")
        with PARSING:
            tree = ast.parse(source)
    except (SyntaxError, ValueError, OSError, RecursionError, MemoryError):
        return frozenset()
    return frozenset(node.name for node in ast.walk(tree)
                     if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and _placeholder(node.body))


def _placeholder(body: list) -> bool:
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) and \
            isinstance(body[0].value.value, str):
        body = body[1:]                                   # the docstring
    return all(_placeholder_statement(s) for s in body)


def _nothing(node) -> bool:
    """None, a constant, a bare name or a tuple of those."""
    if isinstance(node, ast.Tuple):
        return all(_nothing(e) for e in node.elts)
    return isinstance(node, (ast.Constant, ast.Name))


def _placeholder_statement(s) -> bool:
    if isinstance(s, ast.Pass) or (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant)):
        return True
    if isinstance(s, ast.Assign):
        return _nothing(s.value)
    if isinstance(s, ast.Return):
        return s.value is None or _nothing(s.value)
    if isinstance(s, ast.Raise) and s.exc is not None:
        exc = s.exc.func if isinstance(s.exc, ast.Call) else s.exc
        return isinstance(exc, ast.Name) and exc.id == "NotImplementedError"
    return False


def explain(problem: Problem, names: frozenset[str]) -> Problem:
    """An API MISMATCH for a call that returned nothing, said as "not implemented yet" when the
    function is still the template's placeholder."""
    if problem.kind is not Verdict.API or not names:
        return problem
    found = _RETURNED_NONE.match(problem.message)
    if not found or found.group(1) not in names:
        return problem
    return dataclasses.replace(problem, message=f"{found.group(1)} is not implemented yet: its body is still the "
                                                "template's placeholder (pass, None), so it returns nothing to check")
