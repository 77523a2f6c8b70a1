#!/usr/bin/env bash
# The kernel layer (block codecs, .dds/.astc readers) built with clang, AddressSanitizer and
# UndefinedBehaviorSanitizer: its test suite, then a bounded libFuzzer run of the block-file and
# block-decode targets, starting from the seeds bcfeat_fuzz writes and the committed regressions.
# The framework-side targets (tensor files, configs, compressor streams, feature caches) build
# the same way (`ninja -C BUILD_DIR fuzz_stream ...`); docs/reliability.md records their longer
# campaign. CTest runs this as the test `sanitizer`.
# usage: tools/sanitize.sh BCFEAT_FUZZ BUILD_DIR [SECONDS_PER_TARGET (30)]
set -euo pipefail
[ $# -ge 2 ] || { echo "usage: $0 BCFEAT_FUZZ BUILD_DIR [SECONDS]" >&2; exit 2; }
fuzz_tool=$(realpath "$1")
build=$(realpath -m "$2")
seconds=${3:-30}
cd "$(dirname "$0")/.."
if ! command -v clang++ >/dev/null; then
  echo "skipped: clang++ not found (Debian: clang libclang-rt-14-dev)"
  exit 77
fi
rm -rf "$build/seeds"
"$fuzz_tool" seeds "$build/seeds"
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
  -DBCFEAT_SANITIZE=ON -DBCFEAT_BUILD_DEV_TOOLS=OFF -DBCFEAT_FUZZ_SECONDS="$seconds" \
  -DBCFEAT_FUZZ_SEEDS="$build/seeds" >/dev/null
cmake --build "$build" --target test_kernels fuzz_block_file fuzz_block_decode
cd "$build"
# Every UBSan report fails (the build uses -fno-sanitize-recover); ASan reports leaks too.
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1
ctest --output-on-failure --no-tests=error -j "$(nproc)" -R '^(test_kernels:|fuzz_block_file$|fuzz_block_decode$)'
