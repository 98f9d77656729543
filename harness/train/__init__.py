"""Training parity: backends trained in lockstep from the same weights (lockstep), datasets."""
