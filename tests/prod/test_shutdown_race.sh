#!/usr/bin/env bash
# test_shutdown_race.sh PROXY LONGRUN KEYGEN [--rounds N] [--delay-ms MS] [--idle-ms MS]
#                       [--skip BYTES] [--limit SECONDS (whole)]
#
# The shutdown race: a party that holds its peer's CLOSE frame but has not sent its own
# when the connection drops must end that channel (the peer has everything it needs), not
# wait for ever for a peer that has exited.
#
# Three parties alice(0), bob(1), carol(2) run longrun (alice -> bob traffic on every
# round, until the end). Two faulty_proxy instances sit at advertised addresses (the
# cluster file gives bob and carol the proxies' ports; they bind their real ports with
# --sf-listen):
#   proxy B, at bob's address (alice -> bob): once the connection has carried --skip bytes,
#            resets both sides as soon as alice -> bob has been idle for --idle-ms (300):
#            alice's CLOSE is the last frame she sends (the heartbeat is 2 s), so this
#            fires right after it;
#   proxy C, at carol's address, on the connections bob dials (--delay-from 1; alice's
#            pass undelayed): delays carol -> bob by --delay-ms (1500), so bob gets carol's
#            bye, and can send its own CLOSE frames, only that much later.
# So bob holds alice's CLOSE, without having sent his, when the connection drops.
# Passes only if all three exit 0 within --limit (30 s), alice's stdout is exactly the
# longrun line (the same as in debug mode), bob and carol print nothing, the idle reset
# fired, and it fired after alice's CLOSE: the last alice -> bob connection ended with it,
# and bob logged no loss of that connection (a connection lost before the peer's CLOSE
# is logged, "connection to alice lost"; one lost after it just ends the channel). A reset
# that fired earlier (the machine stalled alice for --idle-ms mid-run) is allowed: alice
# redials and the run goes on, but each such reset must be logged by bob and followed by
# a reconnection.
# SF_TEST_VERBOSE=1 prints the logs even on success; SF_TEST_KEEP=DIR copies them to DIR.
set -u
proxy=$1 prog=$2 keygen=$3
shift 3
rounds=300 delay_ms=1500 idle_ms=300 skip=16384 limit=30
while [ $# -gt 0 ]; do
  case "$1" in
    --rounds) rounds=$2;; --delay-ms) delay_ms=$2;; --idle-ms) idle_ms=$2;; --skip) skip=$2;;
    --limit) limit=$2;;
    *) echo "test_shutdown_race.sh: unknown option $1" >&2; exit 2;;
  esac
  shift 2
done

. "$(dirname "$0")/lib.sh"
prod_dir prod-race

# the expected result, from debug mode (one process, no network)
want=$(timeout 60 "$prog" "$rounds" 0 --sf-mode=debug 2>"$dir/debug.err")
case "$want" in "longrun ok: $rounds rounds, checksum "*) ;;
  *) echo "FAIL: longrun in debug mode printed '$want'"; cat "$dir/debug.err"; exit 1;; esac

read -r p_alice p_bob p_carol p_pb p_pc < <("$(dirname "$0")/../../scripts/free-ports" 5)
[ -n "${p_pc:-}" ] || { echo "FAIL: cannot find free ports"; exit 1; }
names=(alice bob carol)
declare -A listen
listen=([alice]="" [bob]="--sf-listen=127.0.0.1:$p_bob" [carol]="--sf-listen=127.0.0.1:$p_carol")
prod_keys "$keygen" "${names[@]}"
# bob and carol advertise their proxies; heartbeat 2 s: no heartbeat breaks alice's idle
# period after her CLOSE; a large window: bob's frames to carol are acknowledged only
# after the delay
prod_cluster "$dir/cluster.json" "test-race-$$" \
  '"peer_timeout": 10, "heartbeat": 2, "connect_timeout": 20, "window": 4096' \
  "alice:$p_alice" "bob:$p_pb" "carol:$p_pc"

"$proxy" --listen "$p_pb" --to "$p_bob" --reset-idle "$idle_ms" --idle-dir 0 --skip "$skip" \
  2>"$dir/proxy_b.err" &
pb_pid=$!
pids+=("$pb_pid")
"$proxy" --listen "$p_pc" --to "$p_carol" --delay-ms "$delay_ms" --delay-dir 1 --delay-from 1 \
  2>"$dir/proxy_c.err" &
pc_pid=$!
pids+=("$pc_pid")

t0=${EPOCHREALTIME/[.,]/}
declare -A pid
for n in carol bob alice; do
  # shellcheck disable=SC2086
  "$prog" "$rounds" --sf-mode=prod "--sf-party=$n" "--sf-cluster=$dir/cluster.json" \
    "--sf-key=$dir/$n.key" ${listen[$n]} >"$dir/$n.out" 2>"$dir/$n.err" &
  pid[$n]=$!
  pids+=($!)
done

# every party must be done within the limit (each one's time is taken when it ends, to
# ~20 ms); then what still runs is killed
declare -A rc took
pending=("${names[@]}")
while [ ${#pending[@]} -gt 0 ]; do
  now=${EPOCHREALTIME/[.,]/}
  still=()
  for n in "${pending[@]}"; do
    if alive "${pid[$n]}"; then still+=("$n")
    else took[$n]=$(awk -v d="$((now - t0))" 'BEGIN { printf "%.1f", d / 1e6 }'); fi
  done
  pending=("${still[@]+"${still[@]}"}")
  if [ ${#pending[@]} -gt 0 ] && [ $((now - t0)) -gt $((limit * 1000000)) ]; then
    touch "$dir/timeout"
    for n in "${pending[@]}"; do kill -KILL "${pid[$n]}" 2>/dev/null; took[$n]=""; done
    pending=()
  fi
  [ ${#pending[@]} = 0 ] || sleep 0.02
done
for n in "${names[@]}"; do wait "${pid[$n]}" 2>/dev/null; rc[$n]=$?; done
kill -TERM "$pb_pid" "$pc_pid"; wait "$pb_pid" "$pc_pid"

fail=0
[ -e "$dir/timeout" ] && { echo "FAIL: the parties did not all finish within ${limit}s"; fail=1; }
for n in "${names[@]}"; do
  echo "$n: exit ${rc[$n]:-?} after ${took[$n]:-?} s"
  [ "${rc[$n]:-}" = 0 ] || { echo "FAIL: $n exited ${rc[$n]:-?}, expected 0"; fail=1; }
done
if [ "$(cat "$dir/alice.out")" != "$want" ] || [ "$(wc -l <"$dir/alice.out")" != 1 ]; then
  echo "FAIL: alice's stdout is not '$want'"; fail=1
fi
for n in bob carol; do [ -s "$dir/$n.out" ] && { echo "FAIL: $n printed on stdout"; fail=1; }; done

resets=$(sed -n 's/^faults: .*idlereset[s]*=\([0-9]*\).*/\1/p' "$dir/proxy_b.err" | tail -1)
fired=$(grep -m1 -o 'idlereset: .*resetting' <(grep 'idlereset:' "$dir/proxy_b.err" | tail -1))
last_close=$(grep -E '^faulty_proxy: conn [0-9]+ closed' "$dir/proxy_b.err" | tail -1)
lost=$(grep -c 'connection to alice lost' "$dir/bob.err")
redials=$(grep -c 'reconnected to bob' "$dir/alice.err")
delayed=$(grep -c 'delay: target->dialer by .* (the dialer is party 1)' "$dir/proxy_c.err")
echo "proxy B: ${resets:-?} idle resets (last: ${fired:-none}); bob logged $lost losses of alice," \
  "alice $redials reconnections; proxy C delayed $delayed connection(s) from bob"
if [ -z "$resets" ] || [ "$resets" -lt 1 ]; then
  echo "FAIL: the idle reset never fired (alice's connection to bob was not cut after her CLOSE)"
  fail=1
else
  case "$last_close" in *"(idlereset injected)"*) ;;
    *) echo "FAIL: the last alice -> bob connection did not end with the idle reset: $last_close"
       fail=1;; esac
  # every reset but the last came before alice's CLOSE (bob logs it, alice redials)
  if [ "$lost" != $((resets - 1)) ] || [ "$redials" != $((resets - 1)) ]; then
    echo "FAIL: the last reset did not come after alice's CLOSE: $resets resets, bob logged" \
      "$lost losses of alice, alice reconnected $redials times (expected $((resets - 1)) each)"
    fail=1
  fi
fi
[ "$delayed" -ge 1 ] || { echo "FAIL: proxy C delayed no connection dialed by bob"; fail=1; }
if [ $fail != 0 ] || [ -n "${SF_TEST_VERBOSE:-}" ]; then
  for n in "${names[@]}"; do echo "--- $n stderr (last 15 lines):"; tail -15 "$dir/$n.err"; done
  echo "--- proxy B stderr (last 15 lines):"; tail -15 "$dir/proxy_b.err"
  echo "--- proxy C stderr (last 15 lines):"; tail -15 "$dir/proxy_c.err"
fi
for p in "${pids[@]}"; do
  if kill -0 "$p" 2>/dev/null; then echo "FAIL: process $p still running"; fail=1; fi
done
[ $fail = 0 ] && echo "PASS"
exit $fail
