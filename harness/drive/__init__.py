"""Driving foreign numpy code in-process: the Adapter schema, the runner's named steps,
assignments (built-in TOMLs) and problems (exception -> verdict). Imports the core only."""
