#!/usr/bin/env bash
# The main job on the embedded default: installs attnlab, trains a plain tiny ResNet-18 and the
# same network with CBAM on scikit-learn's handwritten digits (no download), and prints both
# accuracies side by side (attnlab report over the two runs' CSV logs).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
rm -rf runs/quickstart
for design in none cbam; do
    echo "== training resnet18 (width 0.25) + ${design} on digits"
    .venv/bin/attnlab train -c configs/digits.yaml --model.attention.type="${design}" \
        --trainer.logger.save_dir=runs/quickstart --trainer.logger.name="${design}"
done
.venv/bin/attnlab report digits-quickstart --logs runs/quickstart -o runs/quickstart/report
