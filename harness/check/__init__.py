"""The check pipeline: the matrix of backends against each other and finite differences, and
its report. Never imports harness.grade."""
