"""The course hands this module out under this name too (notebook versions 2-4): the same functions."""
from dnn_utils import relu, relu_backward, sigmoid, sigmoid_backward  # noqa: F401
