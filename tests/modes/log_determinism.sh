#!/usr/bin/env bash
# Debug-mode logs: the same bytes on every run, every line tagged [debug party/rank #call],
# and in program order: ranks advance call by call, so the call numbers never go back.
set -u
exe=$1
a=$(mktemp); b=$(mktemp); trap 'rm -f "$a" "$b"' EXIT
"$exe" --sf-mode=debug >/dev/null 2>"$a" || { echo "FAIL: first run exited $?"; exit 1; }
"$exe" --sf-mode=debug >/dev/null 2>"$b" || { echo "FAIL: second run exited $?"; exit 1; }
fail=0
cmp -s "$a" "$b" || { echo "FAIL: the two runs logged differently:"; diff "$a" "$b" | head -20; fail=1; }
[ -s "$a" ] || { echo "FAIL: no log lines"; fail=1; }
bad=$(grep -cvE '^\[debug (alice|bob|carol)/0 #[0-9]+\] ' "$a")
[ "$bad" = 0 ] || { echo "FAIL: $bad untagged lines:"; grep -vE '^\[debug ' "$a" | head -5; fail=1; }
prev=0
while read -r n; do
  if [ "$n" -lt "$prev" ]; then echo "FAIL: call #$n logged after call #$prev"; fail=1; break; fi
  prev=$n
done < <(sed -E 's/^\[debug [a-z]+\/0 #([0-9]+)\].*/\1/' "$a")
[ $fail = 0 ] && echo "ok: $(wc -l <"$a") log lines, identical in both runs, tagged, in call order"
exit $fail
