#!/usr/bin/env bash
# The main job on a fresh machine: installs attnlab, then asks whether CBAM changes a tiny ResNet-18's error on
# cluttered digits built from the embedded scikit-learn digits (no download). It runs a small study (no attention,
# + CBAM; 3 seeds each, common random numbers) under the quick profile, one worker per core, and prints the
# report: mean ± std over seeds, the paired difference to the baseline with its 95% interval, a verdict per row
# (better, worse, or equivalent within ±2.5 points: the margin 3 seeds decide 9 times in 10 at the profile's
# measured noise), and the time overhead measured side by side on this machine.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
rm -rf runs/quickstart
STORAGE=runs/quickstart/attnlab.journal
WORKERS="${WORKERS:-$(nproc)}"
.venv/bin/attnlab ablate configs/quickstart-study.yaml --storage "$STORAGE" --workers "$WORKERS"
.venv/bin/attnlab report quickstart --storage "$STORAGE" --effect 1 --margin 2.5 -o runs/quickstart/report
