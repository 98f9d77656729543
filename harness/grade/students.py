"""Which student a submission belongs to, as the gradebook, the class report and each student's
page name them."""
from __future__ import annotations

from pathlib import Path


class StudentIds:
    """The student a submission belongs to: its own folder's name for per-student folders (the
    file name then is the assignment's), else the file name without its suffix. Decided once per
    batch, so that naming each student costs the same in a batch of any size."""

    def __init__(self, submissions):
        self.by_folder = len({Path(s).parent for s in submissions}) > 1

    def __call__(self, submission: str) -> str:
        path = Path(submission)
        return path.parent.name if self.by_folder and path.parent.name else path.stem
