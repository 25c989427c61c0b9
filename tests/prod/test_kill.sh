#!/usr/bin/env bash
# test_kill.sh LONGRUN KEYGEN [VICTIM [SIGNAL]] [--peer-timeout S] [--within S]
#              [--seed N] [--limit S]
#
# Three parties (alice, bob, carol) run longrun in production mode with peer_timeout S
# (default 3); VICTIM (default bob) gets SIGNAL (default KILL; STOP freezes it: its
# connections stay open but silent, then it is killed at the end). The two others must both
# stop by themselves with exit 6 (SF_EXIT_PEER) within --within seconds of the kill
# (default peer_timeout + 5), each naming the victim as lost on stderr ("party bob ...
# lost") and no other party; no process may remain.
#
# When: by default 2 s after the start (every party must be up by then). With --seed N, at
# a moment drawn from N in [0.5, 2.5) s after every party logged "all parties are up" (at
# most 20 s after the start).
# Each party's stop is timed on its own (polled every 20 ms); what still runs --limit
# seconds after the kill (default within + 2) is killed and fails the test.
# With peer_timeout 10 and --within 3 (tests/prod/faults.cmake) a kill -9 must be named
# through the broken connection (the dialer's redial, or the other side's probe, is
# refused), not by peer_timeout; a frozen party can only be named by peer_timeout.
# SF_TEST_VERBOSE=1 prints the logs even on success; SF_TEST_KEEP=DIR copies them to DIR.
set -u
prog=$1 keygen=$2
shift 2
victim=bob sig=KILL
if [ $# -gt 0 ] && [ "${1#--}" = "$1" ]; then victim=$1; shift; fi
if [ $# -gt 0 ] && [ "${1#--}" = "$1" ]; then sig=$1; shift; fi
peer_timeout=3 within="" seed="" limit=""
while [ $# -gt 0 ]; do
  case "$1" in
    --peer-timeout) peer_timeout=$2;; --within) within=$2;; --seed) seed=$2;; --limit) limit=$2;;
    *) echo "test_kill.sh: unknown option $1" >&2; exit 2;;
  esac
  shift 2
done
[ -n "$within" ] || within=$((peer_timeout + 5))
[ -n "$limit" ] || limit=$(awk -v w="$within" 'BEGIN { print w + 2 }')

. "$(dirname "$0")/lib.sh"
prod_dir prod-kill

names=(alice bob carol)
case " ${names[*]} " in *" $victim "*) ;; *) echo "test_kill.sh: no party $victim" >&2; exit 2;; esac
read -r -a port < <("$(dirname "$0")/../../scripts/free-ports" 3)
[ ${#port[@]} = 3 ] || { echo "FAIL: cannot find free ports"; exit 1; }
prod_keys "$keygen" "${names[@]}"
prod_cluster "$dir/cluster.json" "test-kill-$$" "\"peer_timeout\": $peer_timeout, \"heartbeat\": 0.5, \"connect_timeout\": 20" \
  "alice:${port[0]}" "bob:${port[1]}" "carol:${port[2]}"

declare -A pid
for n in "${names[@]}"; do
  "$prog" --sf-mode=prod "--sf-party=$n" "--sf-cluster=$dir/cluster.json" "--sf-key=$dir/$n.key" \
    >"$dir/$n.out" 2>"$dir/$n.err" &
  pid[$n]=$!
  pids+=($!)
done

fail=0
up() { for n in "${names[@]}"; do grep -qs "all parties are up" "$dir/$n.err" || return 1; done; }
if [ -z "$seed" ]; then
  sleep 2
  when="2 s after the start"
else
  for _ in $(seq 400); do up && break; sleep 0.05; done # at most ~20 s
  delay=$(awk -v s="$seed" 'BEGIN { srand(s); printf "%.2f", 0.5 + 2 * rand() }')
  sleep "$delay"
  when="$delay s after all were up (seed $seed)"
fi
for n in "${names[@]}"; do
  alive "${pid[$n]}" || { echo "FAIL: $n ended before the kill"; fail=1; }
done
up || { echo "FAIL: not every party was connected at the kill"; fail=1; }
others=()
for n in "${names[@]}"; do [ "$n" = "$victim" ] || others+=("$n"); done
t_kill=${EPOCHREALTIME/[.,]/}
if [ "$sig" = KILL ]; then
  { kill -KILL "${pid[$victim]}"; wait "${pid[$victim]}"; } 2>/dev/null # (no "Killed" notice)
else
  kill "-$sig" "${pid[$victim]}"
fi
echo "$victim got SIG$sig $when; peer_timeout $peer_timeout s"

# the others must stop by themselves (each one's time is taken when it ends, to ~20 ms);
# after the limit they are killed
declare -A rc took
limit_us=$(awk -v l="$limit" 'BEGIN { printf "%d", l * 1e6 }')
pending=("${others[@]}")
while [ ${#pending[@]} -gt 0 ]; do
  now=${EPOCHREALTIME/[.,]/}
  still=()
  for n in "${pending[@]}"; do
    if alive "${pid[$n]}"; then still+=("$n")
    else took[$n]=$(awk -v d="$((now - t_kill))" 'BEGIN { printf "%.2f", d / 1e6 }'); fi
  done
  pending=("${still[@]+"${still[@]}"}")
  if [ ${#pending[@]} -gt 0 ] && [ $((now - t_kill)) -gt "$limit_us" ]; then
    touch "$dir/timeout"
    for n in "${pending[@]}"; do kill -KILL "${pid[$n]}" 2>/dev/null; took[$n]=""; done
    pending=()
  fi
  [ ${#pending[@]} = 0 ] || sleep 0.02
done
for n in "${others[@]}"; do wait "${pid[$n]}" 2>/dev/null; rc[$n]=$?; done
[ "$sig" = KILL ] || { kill -KILL "${pid[$victim]}"; wait "${pid[$victim]}"; } 2>/dev/null

for n in "${others[@]}"; do
  echo "$n: exit ${rc[$n]:-?}, ${took[$n]:-?} s after the kill: $(grep -a -m1 'error:' "$dir/$n.err")"
  [ "${rc[$n]:-}" = 6 ] || { echo "FAIL: $n exited ${rc[$n]:-?}, expected 6"; fail=1; }
  if [ -n "${took[$n]:-}" ] && awk -v t="${took[$n]}" -v w="$within" 'BEGIN { exit !(t > w) }'; then
    echo "FAIL: $n took ${took[$n]} s to stop, more than ${within} s"; fail=1
  fi
  grep -aEq "party $victim .*lost" "$dir/$n.err" || { echo "FAIL: $n does not report $victim lost"; fail=1; }
  if grep -a -m1 'error:' "$dir/$n.err" | grep -qv "party $victim"; then
    echo "FAIL: $n's first error is not about $victim"; fail=1
  fi
  for o in "${others[@]}"; do
    if grep -aEq "party $o \([^)]*\) lost" "$dir/$n.err"; then
      echo "FAIL: $n names $o (alive) as lost"; fail=1
    fi
  done
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
