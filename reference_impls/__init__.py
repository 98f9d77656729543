"""Hand-written numpy reference nets, one per spec, each in a typical from-scratch style.

They import neither `harness` nor any framework: the harness drives them through the same
adapter layer it uses for student code (harness/drive/runner.py), so they are its first students.
"""
