#!/usr/bin/env bash
# test_kill.sh LONGRUN KEYGEN [VICTIM [SIGNAL]]
#
# Three parties (alice, bob, carol) run longrun in production mode with peer_timeout 3 s;
# after ~2 s VICTIM (default bob) gets SIGNAL (default KILL; STOP freezes it: its
# connections stay open but silent, then it is killed at the end). The two others must both stop by
# themselves with exit 6 (SF_EXIT_PEER) within peer_timeout + 5 s of the kill, each naming
# the victim as lost on stderr ("party bob ... lost"); no process may remain.
set -u
prog=$1 keygen=$2 victim=${3:-bob} sig=${4:-KILL}
peer_timeout=3 grace=5

dir=$(mktemp -d /tmp/sfmpi-prod-kill.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]+"${pids[@]}"}"; do kill -TERM "$p" 2>/dev/null; done
  sleep 0.2
  for p in "${pids[@]+"${pids[@]}"}"; do kill -KILL "$p" 2>/dev/null; done
  wait 2>/dev/null
  rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

names=(alice bob carol)
read -r -a port < <("$(dirname "$0")/../../scripts/free-ports" 3)
[ ${#port[@]} = 3 ] || { echo "FAIL: cannot find free ports"; exit 1; }
entries=""
for i in 0 1 2; do
  pub=$("$keygen" --party "${names[$i]}" --out "$dir/${names[$i]}.key" 2>/dev/null) ||
    { echo "FAIL: keygen ${names[$i]}"; exit 1; }
  entries+="${entries:+,}
    {\"name\": \"${names[$i]}\", \"address\": \"127.0.0.1:${port[$i]}\", \"public_key\": \"$pub\"}"
done
cat >"$dir/cluster.json" <<EOF
{
  "version": 1,
  "job_id": "test-kill-$$",
  "parties": [$entries
  ],
  "channel": {"peer_timeout": $peer_timeout, "heartbeat": 0.5, "connect_timeout": 20}
}
EOF

declare -A pid
for n in "${names[@]}"; do
  "$prog" --sf-mode=prod "--sf-party=$n" "--sf-cluster=$dir/cluster.json" "--sf-key=$dir/$n.key" \
    >"$dir/$n.out" 2>"$dir/$n.err" &
  pid[$n]=$!
  pids+=($!)
done

fail=0
sleep 2
for n in "${names[@]}"; do
  kill -0 "${pid[$n]}" 2>/dev/null || { echo "FAIL: $n ended before the kill"; fail=1; }
done
for n in "${names[@]}"; do
  grep -q "all parties are up" "$dir/$n.err" || { echo "FAIL: $n was not connected after 2 s"; fail=1; }
done
others=()
for n in "${names[@]}"; do [ "$n" = "$victim" ] || others+=("$n"); done
if [ "$sig" = KILL ]; then
  { kill -KILL "${pid[$victim]}"; wait "${pid[$victim]}"; } 2>/dev/null # (no "Killed" notice)
else
  kill "-$sig" "${pid[$victim]}"
fi
t_kill=$(date +%s.%N)

# the others must stop by themselves; after peer_timeout + grace they are killed
limit=$((peer_timeout + grace))
( trap 'kill $s 2>/dev/null; exit 0' TERM; sleep "$limit" & s=$!; wait $s
  touch "$dir/timeout"; kill -KILL "${pid[${others[0]}]}" "${pid[${others[1]}]}" 2>/dev/null ) &
watchdog=$!
declare -A rc took
for n in "${others[@]}"; do
  wait "${pid[$n]}"; rc[$n]=$?
  took[$n]=$(awk -v a="$t_kill" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
done
kill "$watchdog" 2>/dev/null; wait "$watchdog" 2>/dev/null
[ "$sig" = KILL ] || { kill -KILL "${pid[$victim]}"; wait "${pid[$victim]}"; } 2>/dev/null

for n in "${others[@]}"; do
  echo "$n: exit ${rc[$n]}, ${took[$n]} s after the kill: $(grep -m1 'error:' "$dir/$n.err")"
  [ "${rc[$n]}" = 6 ] || { echo "FAIL: $n exited ${rc[$n]}, expected 6"; fail=1; }
  grep -Eq "party $victim .*lost" "$dir/$n.err" || { echo "FAIL: $n does not report $victim lost"; fail=1; }
  if grep -m1 'error:' "$dir/$n.err" | grep -qv "party $victim"; then
    echo "FAIL: $n's first error is not about $victim"; fail=1
  fi
  [ -s "$dir/$n.out" ] && { echo "FAIL: $n printed on stdout (the run cannot have finished)"; fail=1; }
done
[ -e "$dir/timeout" ] && { echo "FAIL: ${others[*]} still running ${limit}s after $victim was killed"; fail=1; }
for n in "${names[@]}"; do
  if kill -0 "${pid[$n]}" 2>/dev/null; then echo "FAIL: $n (pid ${pid[$n]}) still running"; fail=1; fi
done
if [ $fail != 0 ] || [ -n "${SF_TEST_VERBOSE:-}" ]; then
  for n in "${names[@]}"; do echo "--- $n stderr (last 15 lines):"; tail -15 "$dir/$n.err"; done
fi
[ $fail = 0 ] && echo "PASS"
exit $fail
