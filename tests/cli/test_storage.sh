#!/usr/bin/env bash
# Storage faults on small tmpfs mounts: a sweep, a codec output and a Slurm-free re-launch on a
# file system that fills up mid-sweep or is read-only. Each ends with exit 4 and one
# "bcfeat: error:" line naming the file and the reason, leaves no temporary or unparsable file,
# and a later run with room completes every run exactly once. Exit 77 (CTest: skipped) where
# this process may not mount a tmpfs (not root, or a container without CAP_SYS_ADMIN).
# usage: test_storage.sh BCFEAT WORKDIR
set -u
bcfeat=$1
work=$2
root=$(cd "$(dirname "$0")/../.." && pwd)
rm -rf "$work"
mkdir -p "$work/probe"
cd "$work" || exit 1
if ! mount -t tmpfs -o size=64k tmpfs probe 2>/dev/null; then
  echo "skipped: cannot mount a tmpfs here"
  exit 77
fi
umount probe
mounts=()
trap 'for m in "${mounts[@]}"; do umount "$m" 2>/dev/null; done' EXIT
source "$root/tests/cli/common.sh"
one_error_line() {  # exactly one "bcfeat: error:" line, matching $1
  [ "$(grep -c '^bcfeat: error:' err.txt)" = 1 ] && grep -q "^bcfeat: error: .*$1" err.txt
}
clean_tree() {  # no temporary file, every JSON file parses
  [ -z "$(find "$1" -name '*.tmp.*')" ] || return 1
  /usr/bin/python3 - "$1" <<'PY'
import glob, json, sys
for path in glob.glob(sys.argv[1] + "/**/*.json", recursive=True):
    json.load(open(path))
PY
}

cat >small.yaml <<'YAML'
experiment: quantize_baseline
features: {batch: 2, tokens_hw: [8, 8], dim: 64}
sweep:
  grid:
    compression.method: [int]
    compression.bits: [2, 3, 4, 5, 6, 8]
    compression.axis: [token, channel]
YAML

# --- a disk that fills up mid-sweep --------------------------------------------------------------
mkdir full
mount -t tmpfs -o size=100k tmpfs full && mounts+=("$PWD/full")
expect_code 4 "a full disk mid-sweep exits 4" -- "$bcfeat" run small.yaml --output full/out
one_error_line "No space left on device" && pass "one line naming the file and 'No space left on device'" \
  || fail "full-disk message: $(cat err.txt)"
done_before=$(grep -l '"status": "ok"' full/out/*/metrics.json 2>/dev/null | wc -l)
[ "$done_before" -ge 1 ] && [ "$done_before" -lt 12 ] && pass "the disk filled after $done_before of 12 runs" || fail "the disk never filled"
clean_tree full && pass "no temporary or unparsable file left" || fail "a temporary or corrupt file was left"
mount -o remount,size=16m full
expect_code 0 "the same sweep once there is room" -- "$bcfeat" run small.yaml --output full/out
[ "$(grep -l '"status": "ok"' full/out/*/metrics.json | wc -l)" = 12 ] && pass "all 12 runs complete" \
  || fail "$(grep -l '"status": "ok"' full/out/*/metrics.json | wc -l) runs complete"
once=1
for log in full/out/*/log.txt; do [ "$(grep -c ' finished ' "$log")" = 1 ] || once=0; done
[ $once = 1 ] && pass "every run finished exactly once" || fail "a run finished more than once"
clean_tree full && pass "the completed tree is clean" || fail "the completed tree has temporary or corrupt files"

# --- codec output on a full disk: the target is never half-written -------------------------------
/usr/bin/python3 -c "import numpy as np; np.save('img.npy', np.random.default_rng(1).random((256, 256, 4), dtype=np.float32))"
mkdir tiny
mount -t tmpfs -o size=16k tmpfs tiny && mounts+=("$PWD/tiny")
expect_code 4 "codec encode to a full disk exits 4" -- "$bcfeat" codec encode img.npy tiny/img.dds --format bc7
one_error_line "tiny/img.dds.*No space left on device" && pass "it names the output file" || fail "codec message: $(cat err.txt)"
[ -z "$(ls -A tiny)" ] && pass "nothing left on the disk" || fail "left behind: $(ls -A tiny)"

# --- a read-only output directory ---------------------------------------------------------------
mkdir ro
mount -t tmpfs -o size=1m tmpfs ro && mounts+=("$PWD/ro")
"$bcfeat" run small.yaml --output ro/out >/dev/null 2>&1 || fail "sweep before the remount"
mount -o remount,ro ro
expect_code 4 "a sweep into a read-only file system exits 4" -- "$bcfeat" run small.yaml --output ro/new
one_error_line "ro/new.*Read-only file system" && pass "one line naming the directory and the reason" \
  || fail "read-only message: $(cat err.txt)"
expect_code 4 "codec encode into a read-only file system exits 4" -- "$bcfeat" codec encode img.npy ro/img.dds --format bc1
one_error_line "Read-only file system" && pass "codec: one line" || fail "codec read-only message: $(cat err.txt)"
expect_code 0 "report reads a read-only sweep" -- "$bcfeat" report ro/out --columns status --format csv
[ "$(grep -c '^ok$' out.txt)" = 12 ] && pass "report: 12 ok" || fail "report on read-only: $(cat out.txt)"

echo "$failures failures"
[ $failures = 0 ]
