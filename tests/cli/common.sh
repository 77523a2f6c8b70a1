# shellcheck shell=bash
# Sourced by the CLI test scripts: pass/fail counting and exit-code checks.
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
