"""backprop-harness: prove hand-written numpy backpropagation right against PyTorch and Keras.

`import harness` imports numpy only; each framework is imported inside its backend on use.
"""
__version__ = "0.1.0"
