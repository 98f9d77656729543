"""Functions a submission has not written yet: the course template's placeholder bodies (`pass`,
`out = None`, `raise NotImplementedError`, a `return` of those), read from the source (never run),
so that "returned None" reads "not implemented yet" for them."""
from __future__ import annotations

import ast
import dataclasses
import re
from pathlib import Path

from ..core.parsing import PARSING
from ..drive.problems import Problem, Verdict
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
                     if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
                     and (_placeholder(node.body) or _returns_placeholders(node)))


def _own_nodes(func):
    """The nodes of a function's body, not those of the functions and classes inside it."""
    todo = list(func.body)
    while todo:
        node = todo.pop()
        yield node
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
            todo.extend(ast.iter_child_nodes(node))


def _returns_placeholders(func) -> bool:
    """A template method around its placeholders (CS231n's TwoLayerNet.loss: the parameters
    unpacked, `scores = None`, `pass`, `return scores` ...): every return gives names that the
    function only ever sets to None, a constant or an empty container."""
    nodes = list(_own_nodes(func))
    returns = [n for n in nodes if isinstance(n, ast.Return)]
    returned: set[str] = set()
    for r in returns:
        if r.value is None or not _nothing(r.value):
            return False
        returned |= {n.id for n in ast.walk(r.value) if isinstance(n, ast.Name)}
    if not returns or not returned:
        return False
    assigned_empty = {id(t) for n in nodes if isinstance(n, ast.Assign) for t, v in _pairs(n) if _empty(v)}
    for n in nodes:
        if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store) and n.id in returned and id(n) not in assigned_empty:
            return False                  # set to something real (or unpacked, looped over, ...)
        if isinstance(n, (ast.Subscript, ast.Attribute)) and isinstance(n.ctx, ast.Store) and \
                isinstance(n.value, ast.Name) and n.value.id in returned:
            return False                  # filled in: grads['W1'] = ...
    return True


def _pairs(assign: ast.Assign):
    """(target, value) of an assignment, element by element where a tuple is unpacked from a tuple
    (the templates' `dx, x = None, cache`)."""
    for t in assign.targets:
        v = assign.value
        if isinstance(t, ast.Tuple) and isinstance(v, ast.Tuple) and len(t.elts) == len(v.elts):
            yield from zip(t.elts, v.elts, strict=True)
        else:
            yield t, v


def _empty(node) -> bool:
    """None, a constant, or an empty dict, list or tuple."""
    return isinstance(node, ast.Constant) or (isinstance(node, (ast.Dict, ast.List, ast.Tuple)) and
                                              not getattr(node, "elts", getattr(node, "keys", None)))


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
    if isinstance(s, ast.Assign):         # names set to nothing; never an element filled in (dx[x < 0] = 0)
        return _nothing(s.value) and all(isinstance(n, (ast.Name, ast.Tuple)) for t in s.targets for n in ast.walk(t)
                                         if not isinstance(n, ast.expr_context))
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
