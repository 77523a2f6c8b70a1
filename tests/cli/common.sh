# shellcheck shell=bash
# Sourced by the CLI test scripts: pass/fail counting, exit-code checks, a small sweep config.
failures=0
pass() { echo "ok: $1"; }
fail() { echo "FAIL: $1"; failures=$((failures + 1)); }
expect_code() {  # expect_code CODE DESCRIPTION -- command...; stdout in out.txt, stderr in err.txt
  local want=$1 what=$2
  shift 3
  "$@" >out.txt 2>err.txt
  local got=$?
  if [ "$got" = "$want" ]; then pass "$what"; else fail "$what: exit $got, want $want; stderr: $(cat err.txt)"; fi
}
# A 6-run int sweep on small synthetic features, quick enough for any launcher test.
small_sweep_config() {
  cat <<'YAML'
experiment: quantize_baseline
features: {batch: 2, tokens_hw: [8, 8], dim: 64, outlier_channels: 2}
sweep:
  grid:
    compression.method: [int]
    compression.bits: [2, 4, 8]
    compression.axis: [token, channel]
YAML
}
