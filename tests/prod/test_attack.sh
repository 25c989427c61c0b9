#!/usr/bin/env bash
# test_attack.sh SCENARIO STEADY ATTACKER KEYGEN
#
# Three parties (alice, bob, carol) run `longrun` in production mode on 127.0.0.1 while a
# stranger attacks their ports (tests/prod/attacker.c). Scenarios:
#   startup   the attack starts before the parties listen: at each party 50 idle
#             connections held open, 50 connections sending random bytes (both kept up
#             by reopening what the party closes), 200 handshakes from unknown keys
#   midrun    the same, once every party is connected
#   replay    a first run records alice's first handshake message and frames to bob (a
#             capturing proxy); a second run with the same cluster file and keys is
#             attacked mid-run by 20 replays of that capture (each followed by the
#             recorded frames), and replays followed by frame lengths 0, 1, max+1 and
#             0xFFFFFFFF
# Passes only if every party exits 0, party 0 prints the same "longrun ok" line as a run
# in debug mode, no party's slowest round took over SLOW_MS (a stranger must cost the
# parties nothing: the old handshake froze a party for 3 s per idle connection), no
# party's peak memory exceeded MEM_KIB, each party logged at most LOG_MAX refusal lines
# (and said how many it did not show), and the attackers saw their connections refused
# or closed. Everything is bounded in time; every process is killed on exit.
set -u
scenario=$1 prog=$2 attacker=$3 keygen=$4
rounds=3000 us=300 slow_ms=2000 mem_kib=262144 log_max=25 limit=90
here=$(cd "$(dirname "$0")" && pwd)

. "$here/lib.sh"
prod_dir attack
( trap 'kill $s 2>/dev/null; exit 0' TERM; sleep "$limit" & s=$!; wait $s
  echo "FAIL: test_attack.sh $scenario: over ${limit}s"; kill -TERM $$ ) &
pids+=($!)

names=(alice bob carol)
read -r -a port < <("$here/../../scripts/free-ports" 4)
[ ${#port[@]} = 4 ] || { echo "FAIL: cannot find free ports"; exit 1; }
p_capture=${port[3]}
prod_keys "$keygen" "${names[@]}"
# cluster.json: the parties' addresses, bob's given (its real port, or a capturing proxy)
write_cluster() { # FILE BOB_PORT
  prod_cluster "$1" "test-attack-$$" '"peer_timeout": 10, "connect_timeout": 30' \
    "alice:${port[0]}" "bob:$2" "carol:${port[2]}"
}
write_cluster "$dir/cluster.json" "${port[1]}"

want=$("$prog" "$rounds" 0 --sf-mode=debug --sf-quiet 2>/dev/null)
[ -n "$want" ] || { echo "FAIL: longrun does not run in debug mode"; exit 1; }

declare -A pid
start_parties() { # CLUSTER TAG
  for n in "${names[@]}"; do
    local extra=()
    [ "$n" = bob ] && extra=(--sf-listen="127.0.0.1:${port[1]}")
    "$prog" "$rounds" "$us" --sf-mode=prod "--sf-party=$n" "--sf-cluster=$1" "--sf-key=$dir/$n.key" \
      "${extra[@]}" >"$dir/$n.$2.out" 2>"$dir/$n.$2.err" &
    pid[$n]=$!
    pids+=($!)
  done
}
wait_up() { # TAG
  for _ in $(seq 1 300); do
    local up=0
    for n in "${names[@]}"; do grep -q "all parties are up" "$dir/$n.$1.err" 2>/dev/null && up=$((up + 1)); done
    [ $up = 3 ] && return 0
    sleep 0.1
  done
  echo "FAIL: the parties did not connect"; return 1
}
attack_all() { # the stranger, at every party's port
  for i in 0 1 2; do
    local p=${port[$i]}
    "$attacker" idle --to "$p" --conns 50 --secs 6 >"$dir/att.idle.$i" 2>&1 & pids+=($!); att+=($!)
    "$attacker" garbage --to "$p" --conns 50 --secs 6 --seed $((i + 7)) >"$dir/att.garbage.$i" 2>&1 &
    pids+=($!); att+=($!)
    local claim=0 target=$i
    [ $i = 0 ] && claim=1 # a lower index never dials alice: claim bob's
    "$attacker" unknown --to "$p" --count 200 --claim $claim --target $target --key-of "${pub[${names[$i]}]}" \
      >"$dir/att.unknown.$i" 2>&1 & pids+=($!); att+=($!)
  done
}
att=()
fail=0
tag=run
case "$scenario" in
  startup)
    attack_all
    sleep 0.5
    start_parties "$dir/cluster.json" run
    ;;
  midrun)
    start_parties "$dir/cluster.json" run
    wait_up run || exit 1
    attack_all
    ;;
  replay)
    # run 1 through the capturing proxy: alice's first message and frames to bob. Both
    # runs use the same cluster file (bob's advertised address is the proxy, which keeps
    # forwarding), so the capture is a valid first message for run 2 too.
    write_cluster "$dir/cluster.json" "$p_capture"
    "$attacker" capture --listen "$p_capture" --to "${port[1]}" --out "$dir/capture.bin" --bytes 4096 \
      --secs 80 >"$dir/att.capture" 2>&1 &
    pids+=($!)
    oldrounds=$rounds
    rounds=200
    start_parties "$dir/cluster.json" cap
    for n in "${names[@]}"; do wait "${pid[$n]}" || { echo "FAIL: the capture run failed ($n)"; fail=1; }; done
    rounds=$oldrounds
    [ -s "$dir/capture.bin" ] || { echo "FAIL: nothing captured"; exit 1; }
    [ $fail = 0 ] || exit 1
    # run 2, attacked at bob's own port with run 1's capture
    start_parties "$dir/cluster.json" run
    wait_up run || exit 1
    "$attacker" replay --to "${port[1]}" --capture "$dir/capture.bin" --count 20 --then frames --secs 5 \
      >"$dir/att.replay.frames" 2>&1 & pids+=($!); att+=($!)
    for l in 0 1 $((0x100029)) 0xFFFFFFFF; do # lengths 0, 1, max+1 (1 MiB frames), 2^32-1
      "$attacker" replay --to "${port[1]}" --capture "$dir/capture.bin" --count 2 --then "len:$l" --secs 5 \
        >"$dir/att.replay.len$l" 2>&1 & pids+=($!); att+=($!)
    done
    ;;
  *) echo "test_attack.sh: unknown scenario $scenario"; exit 2;;
esac

declare -A rc
for n in "${names[@]}"; do wait "${pid[$n]}"; rc[$n]=$?; done
for a in "${att[@]+"${att[@]}"}"; do wait "$a" 2>/dev/null; done

for n in "${names[@]}"; do
  e="$dir/$n.$tag.err"
  [ "${rc[$n]}" = 0 ] || { echo "FAIL: $n exited ${rc[$n]}"; fail=1; }
  line=$(grep -m1 "longrun: slowest round" "$e")
  slow=$(sed -n 's/.*slowest round \([0-9.]*\) ms.*/\1/p' <<<"$line")
  mem=$(sed -n 's/.*peak memory \([0-9]*\) KiB.*/\1/p' <<<"$line")
  nlog=$(grep -c "refused a connection\|dropped a pending connection" "$e")
  echo "$n: exit ${rc[$n]}, slowest round ${slow:-?} ms, peak ${mem:-?} KiB, $nlog refusal lines"
  if [ -z "$slow" ] || awk -v s="$slow" -v m="$slow_ms" 'BEGIN { exit !(s > m) }'; then
    echo "FAIL: $n's slowest round ${slow:-?} ms (limit $slow_ms ms): a stranger stalled it"; fail=1
  fi
  if [ -z "$mem" ] || [ "$mem" -gt "$mem_kib" ]; then echo "FAIL: $n's peak memory ${mem:-?} KiB"; fail=1; fi
  [ "$nlog" -le "$log_max" ] || { echo "FAIL: $n logged $nlog refusals (limit $log_max)"; fail=1; }
  if [ "$scenario" != replay ] && ! grep -q "more refused connections not shown" "$e"; then
    echo "FAIL: $n did not say how many refusals it left out"; fail=1
  fi
done
got=$(cat "$dir/alice.$tag.out")
[ "$got" = "$want" ] || { echo "FAIL: alice printed '$got', expected '$want'"; fail=1; }
for f in "$dir"/att.*; do [ "$(basename "$f")" = att.capture ] || echo "$(basename "$f"): $(tail -1 "$f")"; done
case "$scenario" in
  replay)
    # every replay got message 2 (it is a valid first message) but nothing further: its
    # frames failed to authenticate and the party closed it
    for f in "$dir"/att.replay.*; do
      grep -Eq "connections=[1-9][0-9]* answered=[1-9]" "$f" || { echo "FAIL: $(basename "$f"): no replay answered"; fail=1; }
      c=$(sed -n 's/.*connections=\([0-9]*\).*/\1/p' "$f"); k=$(sed -n 's/.*closed_by_party=\([0-9]*\).*/\1/p' "$f")
      [ "$c" = "$k" ] || { echo "FAIL: $(basename "$f"): the party left $((c - k)) replayed connections open"; fail=1; }
    done
    # (refusals are logged at a bounded rate: the first ones may be evictions of the
    # replays beyond the per-party cap of unconfirmed connections)
    grep -q "first frame is not a RESUME\|does not authenticate\|dropped a pending connection (unconfirmed)" \
      "$dir/bob.run.err" || { echo "FAIL: bob did not refuse the replays"; fail=1; }
    grep -q "reconnected to\|connection to alice lost" "$dir/bob.run.err" &&
      { echo "FAIL: a replay disturbed bob's working connection to alice"; fail=1; }
    ;;
  *)
    for f in "$dir"/att.unknown.*; do
      grep -Eq "connections=200 .*refused=200" "$f" || { echo "FAIL: $(basename "$f"): not all 200 refused"; fail=1; }
    done
    ;;
esac
if [ $fail != 0 ] || [ -n "${SF_TEST_VERBOSE:-}" ]; then
  for n in "${names[@]}"; do echo "--- $n stderr (last 12 lines):"; tail -12 "$dir/$n.$tag.err"; done
fi
[ $fail = 0 ] && echo "PASS"
exit $fail
