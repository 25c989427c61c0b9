#!/usr/bin/env bash
# test_sfmpi.sh CASE SFMPI BUILD_DIR: the sfmpi command as a user runs it.
#   repeat    20 back-to-back `sfmpi run --mode=prod` runs of examples/millionaires (3
#             parties, each through mpirun -np 1); every run's output must match
#   failing   a party whose program returns 3: the launchers name it and exit 19, in every
#             mode; --logs writes one log per party
#   dashdash  a "--" among the program's arguments reaches the program in every mode
#   check     sfmpi check-cluster: a kept cluster file's SHA-256, its key check, its errors
#   usage     --help of every subcommand, --version, bad options
set -u
case_=$1 sfmpi=$2 build=$3
src=$(cd "$(dirname "$0")/../.." && pwd)
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
ex=$build/examples/millionaires fprog=$build/tests/sf_test_failures hprog=$build/tests/sf_test_help_prog

case "$case_" in
repeat)
  for i in $(seq 1 20); do
    "$sfmpi" run --mode=prod -n 3 --oversubscribe --timeout 30 "$ex" --sf-quiet >"$tmp/out" 2>"$tmp/err"; rc=$?
    if [ $rc != 0 ] || ! cmp -s "$tmp/out" "$src/tests/expected/millionaires.out"; then
      fail "run $i: exit $rc"; sed 's/^/    /' "$tmp/err" | tail -20; diff "$src/tests/expected/millionaires.out" "$tmp/out" | head
    fi
  done ;;
failing)
  for mode in debug sim prod; do
    "$sfmpi" run --mode=$mode -n 3 --oversubscribe --timeout 30 --logs "$tmp/logs-$mode" "$fprog" party_return bob 3 \
      >"$tmp/out" 2>"$tmp/err"; rc=$?
    [ $rc = 19 ] || fail "$mode: exit $rc, expected 19"
    want="the debug run failed first: exit status 19 \(its program returned 3\)"
    [ $mode = sim ] && want="the sim job failed first: exit status 19 \(its program returned 3\)"
    [ $mode = prod ] && want="party bob failed first: exit status 19 \(its program returned 3\); its log: .*/bob.log"
    grep -Eq "^sfmpi run: $want" "$tmp/err" || { fail "$mode: no line /$want/"; cat "$tmp/err"; }
    if [ $mode = prod ]; then
      for p in alice bob carol; do [ -f "$tmp/logs-$mode/$p.log" ] || fail "prod: no log for $p"; done
      grep -q "\[prod bob/0 #2\] the program returned 3 .*: party bob exits with status 19" "$tmp/logs-prod/bob.log" ||
        fail "prod: bob's log lacks its report"
      grep -q "party bob exits" "$tmp/logs-prod/alice.log" && fail "prod: alice's log has bob's report"
    else
      grep -q "\[$mode bob/0 #2\] the program returned 3" "$tmp/logs-$mode/run.log" || fail "$mode: run.log lacks the report"
    fi
  done
  # bob fails before connecting; alice and carol would wait the cluster file's 60 s
  # connect_timeout for him: the launcher stops them after --grace 1
  cat >"$tmp/bob-fails" <<EOS
#!/usr/bin/env bash
case " \$* " in *" --sf-party=bob "*) echo "bob-fails: exiting 9" >&2; exit 9 ;; esac
exec "$hprog" "\$@"
EOS
  chmod +x "$tmp/bob-fails"
  t0=$(date +%s)
  "$sfmpi" run --mode=prod -n 3 --oversubscribe --timeout 50 --grace 1 "$tmp/bob-fails" >"$tmp/out" 2>"$tmp/err"; rc=$?
  took=$(($(date +%s) - t0))
  [ $rc = 9 ] || fail "bob-fails: exit $rc, expected 9"
  grep -q "^sfmpi run: party bob exited with status 9 (exit status 9); stopping the others in 1s" "$tmp/err" ||
    { fail "bob-fails: no stopping line"; cat "$tmp/err"; }
  grep -q "^sfmpi run: party bob failed first: exit status 9" "$tmp/err" || fail "bob-fails: bob not named"
  [ $took -lt 10 ] || fail "bob-fails: the others were stopped after $took s"
  # --timeout stops a run that hangs, with status 124
  printf '#!/bin/sh\nexec sleep 30\n' >"$tmp/hang"; chmod +x "$tmp/hang"
  t0=$(date +%s)
  "$sfmpi" run --mode=debug --timeout 1 "$tmp/hang" 2>"$tmp/err"; rc=$?
  took=$(($(date +%s) - t0))
  { [ $rc = 124 ] && grep -q "timeout after 1s" "$tmp/err" && [ $took -lt 8 ]; } ||
    { fail "--timeout 1: exit $rc after $took s"; cat "$tmp/err"; }
  "$sfmpi" run --mode=prod -n 2 --oversubscribe --timeout 30 "$hprog" --sf-connect-timeout=bogus \
    >"$tmp/out" 2>"$tmp/err"; rc=$?
  [ $rc = 2 ] || fail "bad --sf-connect-timeout: exit $rc, expected 2"
  grep -q "bad value 'bogus' for connect-timeout" "$tmp/err" || fail "bad --sf-connect-timeout not named"
  ;;
dashdash)
  for mode in debug sim prod; do
    "$sfmpi" run --mode=$mode -n 2 --oversubscribe --timeout 30 "$hprog" a -- --sf-mode=bogus -- b \
      >"$tmp/out" 2>"$tmp/err"; rc=$?
    printf 'arg 1: a\narg 2: --sf-mode=bogus\narg 3: --\narg 4: b\n' >"$tmp/want"
    { [ $rc = 0 ] && cmp -s "$tmp/out" "$tmp/want"; } || { fail "$mode: exit $rc, args:"; cat "$tmp/out" "$tmp/err"; }
  done ;;
check)
  "$sfmpi" run --mode=prod -n 2 --oversubscribe --keep "$tmp/k" --timeout 30 "$hprog" >/dev/null 2>&1 ||
    fail "the kept run failed"
  sum=$(sha256sum "$tmp/k/cluster.json" | cut -d' ' -f1)
  "$sfmpi" check-cluster --party alice --key "$tmp/k/alice.key" "$tmp/k/cluster.json" >"$tmp/out" 2>&1; rc=$?
  [ $rc = 0 ] || { fail "check-cluster of a good file: exit $rc"; cat "$tmp/out"; }
  grep -qx "  sha256   $sum" "$tmp/out" || fail "check-cluster does not print the file's SHA-256 $sum"
  grep -q "valid: version 1, 2 parties, key of alice" "$tmp/out" || fail "no 'valid' line"
  grep -Eq "^  party alice +127\.0\.0\.1:[0-9]+  public key [0-9a-f]{64}$" "$tmp/out" || fail "no party line"
  grep -q "^  protocol sfmpi-bridge/[0-9]" "$tmp/out" || fail "no protocol line"
  "$sfmpi" check-cluster --party bob --key "$tmp/k/alice.key" "$tmp/k/cluster.json" >"$tmp/out" 2>&1; rc=$?
  { [ $rc = 2 ] && grep -q "alice.key" "$tmp/out"; } || { fail "bob with alice's key: exit $rc"; cat "$tmp/out"; }
  sed 's/"version": 1/"version": 2/' "$tmp/k/cluster.json" >"$tmp/bad.json"
  "$sfmpi" check-cluster "$tmp/bad.json" >"$tmp/out" 2>&1; rc=$?
  { [ $rc = 2 ] && grep -q "bad.json: version: must be 1" "$tmp/out"; } || { fail "bad version: exit $rc"; cat "$tmp/out"; }
  # a party that never comes: alice stops at --sf-connect-timeout, not the file's 60 s
  t0=$(date +%s)
  "$hprog" --sf-mode=prod --sf-party=alice --sf-cluster="$tmp/k/cluster.json" --sf-key="$tmp/k/alice.key" \
    --sf-connect-timeout=1 >"$tmp/out" 2>&1; rc=$?
  { [ $rc = 6 ] && grep -q "gave up after 1 s (connect_timeout) waiting for bob" "$tmp/out"; } ||
    { fail "alice alone: exit $rc"; cat "$tmp/out"; }
  [ $(($(date +%s) - t0)) -lt 10 ] || fail "alice alone took $(($(date +%s) - t0)) s"
  "$sfmpi" check-cluster >"$tmp/out" 2>&1; rc=$?
  { [ $rc = 2 ] && grep -q "no cluster file given" "$tmp/out"; } || fail "no file: exit $rc" ;;
usage)
  for sub in run keygen gen-data psi-data csv2h5 check-cluster; do
    "$sfmpi" "$sub" --help >"$tmp/out" 2>&1; rc=$?
    { [ $rc = 0 ] && grep -qi "usage: sfmpi" "$tmp/out"; } || { fail "sfmpi $sub --help: exit $rc"; head -3 "$tmp/out"; }
  done
  "$sfmpi" --help >"$tmp/out"; grep -q "check-cluster  validate a cluster file" "$tmp/out" || fail "sfmpi --help"
  v=$("$sfmpi" --version); [ "$v" = "sfmpi $("$hprog" --sf-version | cut -d' ' -f2)" ] || fail "sfmpi --version: $v"
  "$sfmpi" run --mode=bogus "$hprog" 2>"$tmp/err"; rc=$?
  { [ $rc = 2 ] && grep -q "mode=bogus: expected debug, sim or prod" "$tmp/err"; } || fail "bad mode: exit $rc"
  "$sfmpi" run --mode=sim "$hprog" 2>"$tmp/err"; rc=$?
  { [ $rc = 2 ] && grep -q "needs -n N" "$tmp/err"; } || fail "sim without -n: exit $rc"
  "$sfmpi" run --frobnicate "$hprog" 2>"$tmp/err"; rc=$?
  { [ $rc = 2 ] && grep -q "unknown option --frobnicate" "$tmp/err"; } || fail "unknown option: exit $rc"
  "$sfmpi" frob 2>"$tmp/err"; rc=$?
  { [ $rc = 2 ] && grep -q "unknown command 'frob'" "$tmp/err"; } || fail "unknown command: exit $rc" ;;
*) echo "test_sfmpi.sh: unknown case $case_" >&2; exit 2 ;;
esac
[ $fails = 0 ] && echo "$case_: passed"
exit $((fails > 0))
