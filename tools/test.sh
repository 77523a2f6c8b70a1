#!/usr/bin/env bash
# One command for a fresh Debian 12 machine: install, build, run every test (CTest; its test
# `sanitizer` builds the kernel layer with ASan/UBSan and fuzzes it, tools/sanitize.sh).
# GPU suites report "skipped" on machines without a GPU.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/setup.sh
tools/build.sh
cd build
ctest --output-on-failure -j "$(nproc)"
