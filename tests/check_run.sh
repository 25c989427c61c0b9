#!/usr/bin/env bash
# check_run.sh --exit CODE [--stderr REGEX]... [--stdout REGEX]... [--stdout-file FILE]
#              [--max-seconds S] -- command...
# Runs the command; passes only if it exits with CODE, every --stderr REGEX matches a line
# of its stderr and every --stdout REGEX a line of its stdout (grep -E), its stdout
# equals FILE byte for byte, and it took at most S seconds of wall time. Prints what
# differed.
set -u
want_exit=0; regexes=(); oregexes=(); stdout_file=""; max_s=""
while [ $# -gt 0 ]; do
  case "$1" in
    --exit) want_exit=$2; shift 2;;
    --stderr) regexes+=("$2"); shift 2;;
    --stdout) oregexes+=("$2"); shift 2;;
    --stdout-file) stdout_file=$2; shift 2;;
    --max-seconds) max_s=$2; shift 2;;
    --) shift; break;;
    *) echo "check_run.sh: unknown option $1" >&2; exit 2;;
  esac
done
out=$(mktemp); err=$(mktemp)
trap 'rm -f "$out" "$err"' EXIT
t0=$(date +%s.%N)
"$@" >"$out" 2>"$err"
code=$?
took=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }')
fail=0
if [ "$code" != "$want_exit" ]; then echo "FAIL: exit code $code, expected $want_exit"; fail=1; fi
if [ -n "$max_s" ] && awk -v t="$took" -v m="$max_s" 'BEGIN { exit !(t > m) }'; then
  echo "FAIL: took $took s, more than $max_s s"; fail=1
fi
for re in "${regexes[@]+"${regexes[@]}"}"; do
  if ! grep -Eq -- "$re" "$err"; then echo "FAIL: stderr does not match: $re"; fail=1; fi
done
for re in "${oregexes[@]+"${oregexes[@]}"}"; do
  if ! grep -Eq -- "$re" "$out"; then echo "FAIL: stdout does not match: $re"; fail=1; fi
done
if [ -n "$stdout_file" ] && ! cmp -s "$out" "$stdout_file"; then
  echo "FAIL: stdout differs from $stdout_file:"; diff "$stdout_file" "$out" | head -40; fail=1
fi
if [ $fail != 0 ]; then
  echo "--- command: $*"; echo "--- stdout:"; head -c 4000 "$out"; echo "--- stderr:"; head -c 8000 "$err"
fi
exit $fail
