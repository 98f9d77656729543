"""The task kinds: what a net assignment and a layer assignment each do at every step of the one
grading pipeline (harness.grade.batch runs it, harness.grade.evaluate decides the verdict).
A kind implements: plan (each run's data, built once), adapter and job_runs (what the child runs), judge
(a child's observation -> the run's result, in the parent), score (the checks, as the
assignment weights them) and diagnose (the typical mistakes behind what failed). Adding a kind:
its assignment record and parser (harness.drive.assignment), its child driver
(harness.grade.child.DRIVERS) and observation schema (harness.drive.protocol), and a class here.
"""
from __future__ import annotations

from .layer_task import LayerTask
from .net_task import NetTask

TASKS = {"net": NetTask(), "layers": LayerTask()}        # by the assignment's kind (drive.protocol.KINDS)


def task_of(assignment):
    return TASKS[assignment.kind]
