"""Attack: import the reference solution and hand it in as one's own."""
from reference_impls.xor import XORNet  # noqa: F401
