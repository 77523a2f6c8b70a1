#!/usr/bin/env bash
# One command for a fresh Debian 12 machine: install, build, run the quickstart sweep,
# print its table and plot it (results/quickstart/).
set -euo pipefail
cd "$(dirname "$0")/.."
tools/setup.sh
tools/build.sh
build/bcfeat run configs/quickstart.yaml "$@"
/usr/bin/python3 tools/plot.py results/quickstart/summary.json --x bits_per_value --y psnr_db \
  --series compression.method -o results/quickstart/rate_psnr.png
echo "plot: results/quickstart/rate_psnr.png"
