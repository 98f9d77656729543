"""Attack: leave a daemon behind (double fork, new session) that keeps running after grading,
to rewrite results later."""
import os
import sys

if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        os.execv(sys.executable, [sys.executable, "-c", "import time; time.sleep(1000)", "bph-attack-daemon-marker"])
    os._exit(0)
