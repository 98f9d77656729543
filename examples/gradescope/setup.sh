#!/usr/bin/env bash
# Gradescope runs this once, as root, while it builds the autograder image (docs/gradescope.md).
# It installs the harness into its own virtual environment under /opt: a folder every user may
# read, as the `uid` sandbox needs (the student's code runs that Python under another uid).
set -euo pipefail

SOURCE="${AUTOGRADER_ROOT:-/autograder}/source"    # the zip's contents
VENV=/opt/backprop-harness

apt-get update
apt-get install -y --no-install-recommends python3 python3-venv bubblewrap   # bwrap: `strict` where the kernel allows
python3 -m venv "$VENV"
"$VENV/bin/pip" install --upgrade pip
# the harness wheel you put in the zip (pip wheel --no-deps -w dist .); or name the package on your index
"$VENV/bin/pip" install "$SOURCE"/backprop_harness-*.whl
"$VENV/bin/harness" list > /dev/null                  # fails the build now, not at the first submission

# the assignment file and any reference solution: the grader (root) reads them, the student's code
# (another uid in the `uid` sandbox) cannot
chmod -R go-rwx "$SOURCE"
