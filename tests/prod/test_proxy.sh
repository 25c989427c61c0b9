#!/usr/bin/env bash
# test_proxy.sh PROXY BIGTRANSFER KEYGEN [--size S] [--flips N] [--replays N] [--resets N]
#               [--badlens N] [--lenflips N] [--taildrops N] [--taildrop-dir 0|1]
#               [--min N] [--seed S] [--span BYTES] [--reverse PCT] [--limit SECONDS]
#               [--channel '"key": value, ...']   (more "channel" settings)
#               [--require-aes 1]  (skip, exit 77, on a CPU without AES instructions)
#
# Runs bigtransfer (alice -> bob, S bytes, default 256M) in production mode with
# faulty_proxy sitting at bob's advertised address: the cluster file gives bob the proxy's
# port, bob binds its real port with --sf-listen, and alice (the lower index, so the
# dialer) reaches bob only through the proxy, which injects the faults.
# Passes only if both parties exit 0, alice's stdout is exactly the "transfer ok" line,
# and the proxy injected at least min(MIN, budget) faults of every kind with a budget.
# Everything is bounded by --limit (default 240 s); every process is killed on exit.
# SF_TEST_VERBOSE=1 prints the logs even on success; SF_TEST_KEEP=DIR copies them to DIR.
set -u
proxy=$1 prog=$2 keygen=$3
shift 3
size=256M flips=10 replays=10 resets=25 badlens=0 lenflips=0 taildrops=0 taildrop_dir=0
min=3 seed=1 span=4194304 reverse=30 limit=240 channel=""
while [ $# -gt 0 ]; do
  case "$1" in
    --size) size=$2;; --flips) flips=$2;; --replays) replays=$2;; --resets) resets=$2;;
    --badlens) badlens=$2;; --lenflips) lenflips=$2;; --min) min=$2;; --seed) seed=$2;;
    --span) span=$2;; --reverse) reverse=$2;; --taildrops) taildrops=$2;;
    --taildrop-dir) taildrop_dir=$2;; --channel) channel=", $2";;
    --require-aes)
      grep -qw aes /proc/cpuinfo 2>/dev/null || { echo "SKIP: no AES instructions on this CPU"; exit 77; };;
    --limit) limit=$2;;
    *) echo "test_proxy.sh: unknown option $1" >&2; exit 2;;
  esac
  shift 2
done
case "$size" in
  *[kK]) bytes=$(( ${size%?} << 10 ));; *[mM]) bytes=$(( ${size%?} << 20 ));;
  *[gG]) bytes=$(( ${size%?} << 30 ));; *) bytes=$size;;
esac

dir=$(mktemp -d /tmp/sfmpi-prod-proxy.XXXXXX)
pids=()
# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
  for p in "${pids[@]+"${pids[@]}"}"; do kill -TERM "$p" 2>/dev/null; done
  sleep 0.2
  for p in "${pids[@]+"${pids[@]}"}"; do kill -KILL "$p" 2>/dev/null; done
  wait 2>/dev/null
  rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

read -r p_alice p_bob p_proxy < <("$(dirname "$0")/../../scripts/free-ports" 3)
[ -n "${p_proxy:-}" ] || { echo "FAIL: cannot find free ports"; exit 1; }

pub_a=$("$keygen" --party alice --out "$dir/alice.key" 2>/dev/null) || { echo "FAIL: keygen alice"; exit 1; }
pub_b=$("$keygen" --party bob --out "$dir/bob.key" 2>/dev/null) || { echo "FAIL: keygen bob"; exit 1; }
cat >"$dir/cluster.json" <<EOF
{
  "version": 1,
  "job_id": "test-proxy-$$",
  "parties": [
    {"name": "alice", "address": "127.0.0.1:$p_alice", "public_key": "$pub_a"},
    {"name": "bob", "address": "127.0.0.1:$p_proxy", "public_key": "$pub_b"}
  ],
  "channel": {"peer_timeout": 20, "heartbeat": 0.5$channel}
}
EOF

"$proxy" --listen "$p_proxy" --to "$p_bob" --flips "$flips" --replays "$replays" \
  --resets "$resets" --badlens "$badlens" --lenflips "$lenflips" --seed "$seed" --span "$span" \
  --reverse "$reverse" --taildrops "$taildrops" --taildrop-dir "$taildrop_dir" 2>"$dir/proxy.err" &
proxy_pid=$!
pids+=("$proxy_pid")
common=(--sf-mode=prod "--sf-cluster=$dir/cluster.json")
t0=$(date +%s.%N)
"$prog" "$size" "${common[@]}" --sf-party=bob "--sf-key=$dir/bob.key" \
  "--sf-listen=127.0.0.1:$p_bob" >"$dir/bob.out" 2>"$dir/bob.err" &
bob_pid=$!
pids+=("$bob_pid")
"$prog" "$size" "${common[@]}" --sf-party=alice "--sf-key=$dir/alice.key" \
  >"$dir/alice.out" 2>"$dir/alice.err" &
alice_pid=$!
pids+=("$alice_pid")

# watchdog: the parties must be done within the limit
# (its sleep is killed with it: an orphaned sleep would outlive the test)
( trap 'kill $s 2>/dev/null; exit 0' TERM; sleep "$limit" & s=$!; wait $s
  touch "$dir/timeout"; kill -KILL "$alice_pid" "$bob_pid" 2>/dev/null ) &
watchdog=$!
wait "$alice_pid"; rc_a=$?
wait "$bob_pid"; rc_b=$?
t1=$(date +%s.%N)
kill "$watchdog" 2>/dev/null; wait "$watchdog" 2>/dev/null
kill -TERM "$proxy_pid"; wait "$proxy_pid"; rc_p=$?

fail=0
elapsed=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')
counts=$(grep -E '^faults: ' "$dir/proxy.err" | tail -1)
echo "transfer of $bytes bytes: ${elapsed}s; alice exit $rc_a, bob exit $rc_b, proxy exit $rc_p"
echo "proxy: ${counts:-<no report>} ($(grep -c 'accepted;' "$dir/proxy.err") connections)"
echo "alice: $(grep -c 'reconnected to bob' "$dir/alice.err") reconnects;" \
  "bob: $(grep -c 'frame from alice failed authentication' "$dir/bob.err") auth failures," \
  "$(grep -c 'bad length' "$dir/bob.err") bad lengths;" \
  "alice: $(grep -c 'frame from bob failed authentication' "$dir/alice.err") auth failures," \
  "$(grep -c 'bad length' "$dir/alice.err") bad lengths"
[ -e "$dir/timeout" ] && { echo "FAIL: the parties did not finish within ${limit}s"; fail=1; }
[ "$rc_a" = 0 ] || { echo "FAIL: alice exited $rc_a"; fail=1; }
[ "$rc_b" = 0 ] || { echo "FAIL: bob exited $rc_b"; fail=1; }
[ "$rc_p" = 0 ] || { echo "FAIL: the proxy exited $rc_p"; fail=1; }
want="transfer ok: $bytes bytes in 33 objects, digests match"
if [ "$(cat "$dir/alice.out")" != "$want" ] || [ "$(wc -l <"$dir/alice.out")" != 1 ]; then
  echo "FAIL: alice's stdout is not '$want'"; fail=1
fi
[ -s "$dir/bob.out" ] && { echo "FAIL: bob printed on stdout"; fail=1; }
for kv in "flips $flips" "replays $replays" "resets $resets" "badlens $badlens" "lenflips $lenflips" \
          "taildrops $taildrops"; do
  read -r what n <<<"$kv"
  set -- "$what" "$n"
  need=$(( $2 < min ? $2 : min ))
  got=$(sed -n "s/.*[ :]$1=\([0-9]*\).*/\1/p" <<<"$counts")
  if [ -z "$got" ] || [ "$got" -lt "$need" ]; then
    echo "FAIL: the proxy injected ${got:-?} $1 (wanted at least $need)"; fail=1
  fi
done
if [ $fail != 0 ] || [ -n "${SF_TEST_VERBOSE:-}" ]; then
  echo "--- alice stdout:"; head -c 2000 "$dir/alice.out"
  echo "--- alice stderr (last 40 lines):"; tail -40 "$dir/alice.err"
  echo "--- bob stderr (last 40 lines):"; tail -40 "$dir/bob.err"
  echo "--- proxy stderr (last 30 lines):"; tail -30 "$dir/proxy.err"
  if [ -n "${SF_TEST_KEEP:-}" ]; then cp -r "$dir" "$SF_TEST_KEEP" && echo "logs kept in $SF_TEST_KEEP"; fi
fi
# nothing may remain
for p in "$alice_pid" "$bob_pid" "$proxy_pid"; do
  if kill -0 "$p" 2>/dev/null; then echo "FAIL: process $p still running"; fail=1; fi
done
[ $fail = 0 ] && echo "PASS"
exit $fail
