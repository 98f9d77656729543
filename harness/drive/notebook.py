"""Notebook submissions: a .ipynb becomes the Python script of its code cells, in order, read with
nbformat (the Jupyter project's own reader). IPython-only lines (magics, shell escapes, `obj?`
help) become `pass`, so the rest of a cell still runs; cell magics that are not Python (%%bash,
%%writefile, ...) are left out whole; the assignment may name cells to skip (its training cells).
Every line of the script knows its cell and line, so a verdict points at them.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

MAX_NOTEBOOK_BYTES = 20_000_000            # larger: refused unread (outputs are not graded anyway)
PYTHON_CELL_MAGICS = ("time", "timeit", "capture", "prun")   # their body is still Python
_MAGIC = re.compile(r"^(\s*)(%|!|\w+\s*=\s*[%!])")
_HELP = re.compile(r"^\s*[\w.]+\s*\?{1,2}\s*$")


class NotebookError(ValueError):
    """The file is not a notebook that can be read."""


@dataclass(frozen=True)
class Cell:
    number: int          # 1-based, counting every cell of the notebook (as Jupyter numbers them on screen)
    first_line: int      # where its code starts in the script (1-based)
    lines: int


@dataclass(frozen=True)
class Script:
    text: str
    cells: tuple[Cell, ...]
    skipped: tuple[int, ...] = ()          # cell numbers left out by the assignment's skip_cells

    def locate(self, line: int) -> str:
        """'cell N, line M' for a line of the script (or 'line L' outside every cell)."""
        for c in self.cells:
            if c.first_line <= line < c.first_line + c.lines:
                return f"cell {c.number}, line {line - c.first_line + 1}"
        return f"line {line}"


def to_script(path: Path, skip_cells: tuple[str, ...] = ()) -> Script:
    """The code cells of the notebook at `path` as one script. A cell is skipped when one of
    `skip_cells` is among its tags or appears in its first line."""
    try:
        import nbformat
    except ImportError:
        raise NotebookError("grading a notebook needs nbformat: pip install 'backprop-harness[notebooks]'") from None
    if path.stat().st_size > MAX_NOTEBOOK_BYTES:
        raise NotebookError(f"the notebook is larger than {MAX_NOTEBOOK_BYTES // 1_000_000} MB; clear its outputs")
    try:
        nb = nbformat.read(str(path), as_version=4)
    except Exception as exc:   # noqa: BLE001 - any malformed file: the student's problem, in words
        raise NotebookError(f"not a readable notebook ({type(exc).__name__}: {str(exc).splitlines()[0][:200]})") \
            from None
    out: list[str] = []
    cells, skipped = [], []
    for number, cell in enumerate(nb.cells, start=1):
        if cell.get("cell_type") != "code":
            continue
        source = cell.get("source", "")
        if _skipped(source, cell.get("metadata", {}).get("tags", []), skip_cells):
            skipped.append(number)
            continue
        lines = _python_lines(source)
        out.append(f"# --- cell {number} ---")
        cells.append(Cell(number, len(out) + 1, len(lines)))
        out.extend(lines)
    return Script("\n".join(out) + "\n", tuple(cells), tuple(skipped))


def _skipped(source: str, tags, skip_cells) -> bool:
    first = source.lstrip().splitlines()[0] if source.strip() else ""
    return any(s in tags or s in first for s in skip_cells)


def _python_lines(source: str) -> list[str]:
    lines = source.splitlines() or [""]
    head = lines[0].strip()
    if head.startswith("%%"):
        name = head[2:].split()[0] if head[2:].split() else ""
        if name not in PYTHON_CELL_MAGICS:
            return [f"pass  # cell magic %%{name}: not Python, left out"] + ["#"] * (len(lines) - 1)
        lines = [f"pass  # {head}"] + lines[1:]
    return [_python_line(line) for line in lines]


def _python_line(line: str) -> str:
    """A line as Python: an IPython magic, shell escape or help request becomes `pass` (same
    indentation, so the block around it still parses)."""
    m = _MAGIC.match(line)
    if (m and not line.lstrip().startswith("%=")) or _HELP.match(line):
        indent = line[:len(line) - len(line.lstrip())]
        return f"{indent}pass  # IPython: {line.strip()[:80]}"
    return line
