#!/usr/bin/env bash
# Creates .venv and installs attnlab into it. torch 2.13.0 is installed only where no torch is
# present yet, so a machine that already has a (CUDA) build keeps it.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip >/dev/null
.venv/bin/python -c "import torch" 2>/dev/null || .venv/bin/python -m pip install -q torch==2.13.0
.venv/bin/python -m pip install -q -e ".[dev]"
# W&B's sweep-config schema ships only in the `sweeps` package, whose numpy<2 pin would downgrade
# numpy; its schema is all the tests use, so it comes without its dependencies.
.venv/bin/python -m pip install -q --no-deps "sweeps>=0.2"
