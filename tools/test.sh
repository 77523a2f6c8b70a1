#!/usr/bin/env bash
# One command for a fresh Debian 12 machine: install, build, run every test (CTest).
# GPU suites report "skipped" on machines without a GPU.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/setup.sh
tools/build.sh
cd build
ctest --output-on-failure -j "$(nproc)"
