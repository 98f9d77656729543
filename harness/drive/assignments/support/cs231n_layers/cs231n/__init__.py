"""The course package of CS231n assignment 2, as far as a layers.py imports it: written for the
grader from the course's public API (support code, read-only in the sandbox)."""
