"""Attack: write the grader's result channel itself (events and arrays claiming success for
every run, then 'done'), wherever it might be, and leave before the runner writes the truth."""
import json
import os

for folder in ("/out", "..", "../out", "."):
    try:
        with open(os.path.join(folder, "events.jsonl"), "a") as fh:
            for i in range(12):
                fh.write(json.dumps({"event": "RunDone", "id": f"run {i}"}) + "\n")
            fh.write(json.dumps({"event": "Done"}) + "\n")
    except OSError:
        pass
os._exit(0)
