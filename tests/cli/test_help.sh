#!/usr/bin/env bash
# test_help.sh HELP_PROG FAILURES_PROG: --sf-help / --help / --sf-version answered by the
# runtime before any mode starts (exit 0), --help left to a program that did not ask for
# it, and only rank 0 of an MPI job printing.
set -u
help_prog=$1 fail_prog=$2
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
out=$(mktemp); trap 'rm -f "$out"' EXIT

# --sf-help: usage, every option with its env variable, the exit codes, one example per mode
"$help_prog" --sf-help --sf-mode=bogus >"$out" 2>&1; rc=$?
[ "$rc" = 0 ] || fail "--sf-help exited $rc"
for re in '^usage: .*help_prog \[--sf-OPTION' '--sf-mode=debug\|sim\|prod' 'env SF_MODE; default debug' \
          '--sf-progress=auto\|on\|off' 'env SF_PROGRESS; default auto' 'env SF_CONNECT_TIMEOUT' \
          '--sf-cluster=FILE' 'env SF_KEY' '^ +6  SF_EXIT_PEER' '17-127  the party.s program returned r in 1\.\.111' \
          '^ +127  SF_EXIT_PROGRAM_MAX' '--sf-mode=debug --sf-parties=alice,bob$' 'mpirun -np 4 .* --sf-mode=sim' \
          '--sf-mode=prod --sf-party=alice --sf-cluster=cluster.json --sf-key=alice.key' \
          'sfmpi run --mode=prod -n 2 '; do
  grep -Eq -- "$re" "$out" || fail "--sf-help output lacks /$re/"
done
# every option the parser knows is in the help (the unknown-option message lists them)
known=$("$help_prog" --sf-nosuch 2>&1 | sed -n 's/.*(known: \(.*\); see --sf-help).*/\1/p' | tr -d ,)
[ -n "$known" ] || fail "the unknown-option message lists no options"
for o in $known; do grep -q -- "^  $o" "$out" || fail "--sf-help does not describe $o"; done

# --help and -h: answered when the program asks (sf_config.help = 1) ...
for h in --help -h; do
  "$help_prog" "$h" >"$out" 2>&1; rc=$?
  { [ "$rc" = 0 ] && grep -q '^usage: ' "$out"; } || fail "$h not answered by the runtime (exit $rc)"
done
# ... but not after "--", where the program gets it
"$help_prog" --sf-parties=a,b -- --help >"$out" 2>&1; rc=$?
{ [ "$rc" = 0 ] && grep -qx 'arg 1: --help' "$out"; } || fail "--help after -- did not reach the program (exit $rc)"
# ... and left to a program that did not ask (the failures program takes it as a scenario)
"$fail_prog" --help >"$out" 2>&1; rc=$?
{ [ "$rc" = 1 ] && grep -q "unknown scenario '--help'" "$out" && ! grep -q '^usage:' "$out"; } ||
  fail "--help was not left to a program with sf_config.help = 0 (exit $rc)"

# --sf-version
"$help_prog" --sf-version >"$out" 2>&1; rc=$?
{ [ "$rc" = 0 ] && grep -Eqx 'sfmpi [0-9]+\.[0-9]+\.[0-9]+.*' "$out"; } || fail "--sf-version: exit $rc, '$(cat "$out")'"

# under mpirun only rank 0 prints
mpirun --oversubscribe --mca mpi_yield_when_idle 1 -np 3 "$help_prog" --sf-help >"$out" 2>&1; rc=$?
n=$(grep -c '^usage: ' "$out")
{ [ "$rc" = 0 ] && [ "$n" = 1 ]; } || fail "mpirun -np 3 --sf-help: exit $rc, $n usage lines (want 1)"

[ $fails = 0 ] && echo "help tests passed"
exit $((fails > 0))
