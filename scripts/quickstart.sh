#!/usr/bin/env bash
# The main job on a fresh machine: installs attnlab, then asks whether SE or CBAM helps a tiny ResNet-18 beyond
# seed noise. It runs a small study (no attention, + SE, + CBAM; 3 seeds each, common random numbers) under the
# quick profile on cluttered digits built from the embedded scikit-learn digits (no download), one worker per
# core, and prints the report: mean ± std over seeds, the paired difference to the baseline with its 95%
# interval, a verdict per row, and the time overhead measured side by side on this machine.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
rm -rf runs/quickstart
STORAGE=runs/quickstart/attnlab.journal
WORKERS="${WORKERS:-$(nproc)}"
.venv/bin/attnlab ablate configs/quickstart-study.yaml --storage "$STORAGE" --workers "$WORKERS"
.venv/bin/attnlab report quickstart --storage "$STORAGE" --effect 1 -o runs/quickstart/report
