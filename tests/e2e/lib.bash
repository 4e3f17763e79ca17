# Shared helpers for the end-to-end tests (sourced, not run).
set -euo pipefail
: "${LMF:?}" "${LMF_GOLDEN:?}" "${LMF_TMP:?}"
PY="${LMF_PYTHON:-/usr/bin/python3}"
FAILS=0
pass() { echo "ok   $1"; }
failed() { echo "FAIL $1"; FAILS=$((FAILS + 1)); }
# expect_error NAME PATTERN CMD...: CMD must exit 1 or 2 with one stderr line matching PATTERN.
expect_error() {
  local name="$1" pattern="$2"; shift 2
  local err rc=0
  err="$("$@" 2>&1 >/dev/null)" || rc=$?
  if [[ $rc -ne 1 && $rc -ne 2 ]]; then failed "$name: exit code $rc (want 1 or 2); stderr: $err"; return; fi
  if [[ "$(printf '%s\n' "$err" | grep -c .)" -ne 1 ]]; then failed "$name: want one error line, got: $err"; return; fi
  if ! grep -qE -- "$pattern" <<<"$err"; then failed "$name: error '$err' does not match /$pattern/"; return; fi
  pass "$name: $err"
}
finish() {
  if [[ $FAILS -ne 0 ]]; then echo "$FAILS check(s) failed"; exit 1; fi
  echo "all checks passed"
}
