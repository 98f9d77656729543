"""Progress bars on a terminal (tqdm: what runs, done/total, rate and time left), and lines printed
above them. Nothing is drawn when stderr is not a terminal (CI logs, pipes, tests)."""
from __future__ import annotations

import sys

from tqdm import tqdm


def bar(total: int, what: str, unit: str) -> tqdm:
    return tqdm(total=total, desc=what, unit=f" {unit}", file=sys.stderr, disable=not sys.stderr.isatty(),
                leave=False, dynamic_ncols=True)


def say(text: str) -> None:
    """A line on stdout, printed above any bar."""
    tqdm.write(text, file=sys.stdout)
    sys.stdout.flush()
