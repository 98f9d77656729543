"""One lock for every parse of Python syntax the grader does in its worker threads. CPython 3.11
keeps one AST recursion counter per interpreter, so two threads building AST objects at once can
make either fail with "SystemError: AST constructor recursion depth mismatch" (python/cpython
#106905, fixed in later releases): a batch turned a student's verdict into GRADER ERROR that way.
The parses: the tripwire's ast.parse, and numpy reading a .npy header (ast.literal_eval) when the
child's arrays come back."""
from __future__ import annotations

import threading

PARSING = threading.Lock()
