"""Attack: stay under a per-process memory cap by spreading the allocation over several
processes."""
import os
import time

children = []
for _ in range(3):
    pid = os.fork()
    if pid == 0:
        try:
            block = bytearray(400 * 1024 * 1024)
            for i in range(0, len(block), 4096):
                block[i] = 1
            time.sleep(2)                # all three hold their blocks at once
            os._exit(0)
        except BaseException:
            os._exit(1)
    children.append(pid)
held = sum(os.waitpid(pid, 0)[1] == 0 for pid in children)
raise RuntimeError(f"{held} of 3 children held 400 MB each at once")
