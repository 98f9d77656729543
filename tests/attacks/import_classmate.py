"""Attack: hand in a classmate's work, imported from the shared batch folder."""
from classmate_0 import XORNet  # noqa: F401
