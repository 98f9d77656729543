"""The environment of a child process that runs `python -m harness...`."""
from __future__ import annotations

import os
from pathlib import Path


def harness_env(base: dict) -> dict:
    """`base` with this harness first on PYTHONPATH, so a child `python -m harness...` imports
    the same harness as its parent, installed or not."""
    root = str(Path(__file__).resolve().parent.parent.parent)
    return {**base, "PYTHONPATH": os.pathsep.join([root] + ([base["PYTHONPATH"]] if base.get("PYTHONPATH") else []))}
