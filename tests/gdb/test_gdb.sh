#!/usr/bin/env bash
# gdb in debug mode: a breakpoint on a task function stops in the task on its party,
# sf-ranks lists every rank with its call site and current program line, sf-bt prints a suspended rank's stack
# down to the user's program line, and the run then continues to the right result.
set -u
exe=$1; helper=$2
out=$(timeout 60 gdb -nx -batch -x "$helper" -ex "break combine" -ex "run --sf-mode=debug --sf-quiet" \
      -ex "sf-ranks" -ex "sf-bt bob" -ex "continue" "$exe" 2>&1)
fail=0
expect() { grep -Eq -- "$1" <<<"$out" || { echo "FAIL: gdb output lacks: $1"; fail=1; }; }
expect 'Breakpoint 1, combine \(t=.*joint_stats.c:[0-9]+'
expect '^\*alice/0 +running +call #[0-9]+ +joint_stats.c:[0-9]+ combine, at joint_stats.c:[0-9]+$'
expect '^ bob/0 +ready +call #[0-9]+ +joint_stats.c:[0-9]+ [a-z_]+, at joint_stats.c:[0-9]+$'
# each rank's current line is the program line of its frame (sf-bt's "in program ... at")
bline=$(grep -Eo 'in program \(sf=.*\) at .*joint_stats.c:[0-9]+' <<<"$out" | head -1 | grep -Eo '[0-9]+$')
expect "^ bob/0 .*, at joint_stats.c:${bline:-none}\$"
expect 'backtrace of bob/0 \(suspended\):'
expect 'in program \(sf=.*\) at .*joint_stats.c:[0-9]+'
expect 'joint mean: 28.275138'
expect 'exited normally'
[ $fail = 0 ] || { echo "--- gdb output:"; echo "$out"; }
exit $fail
