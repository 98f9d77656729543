"""The `common` package of "Deep Learning from Scratch" (Saito), as chapter 5's two_layer_net.py
imports it: written for the grader from the book's public API (functions, layers, gradient).

It is support code: the grader puts the folder holding it first on the submission's sys.path,
read-only, so `from common.layers import *` finds these layers whatever the student hands in."""
