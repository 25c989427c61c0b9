#!/usr/bin/env bash
# test_refused.sh CASE PROG KEYGEN
#
# Production-mode start-up refusals, one CASE per run (PROG: any 2-party alice/bob
# program, e.g. bigtransfer):
#   wrong_key      alice's key file holds another key pair for alice: exit 2, the error
#                  names the key file and parties[0].public_key
#   unknown_party  --sf-party=dave: exit 2, the error names dave and lists the parties
#   key_mode       alice's key file has mode 0644: exit 2, the error names the file
#   other_job      alice --sf-job-id=A, bob --sf-job-id=B (connect_timeout 3): both exit 6
#                  with "gave up ... waiting for" the other; bob (the target) logs
#                  "refused a connection ... handshake failed"; alice logs that bob refused
#   cluster_key    a cluster file with an unknown key (top level, and in "channel"):
#                  exit 2, the error names the file and the key
#   fifo           --sf-cluster=FIFO, then --sf-key=FIFO (FIFOs nobody writes to), then
#                  --sf-cluster=/dev/zero: each exits 2 within 5 s, the error naming the
#                  file and what it is ("is a FIFO, not a regular file")
# Every party runs under a time limit; nothing is left running.
set -u
case_=$1 prog=$2 keygen=$3
dir=$(mktemp -d /tmp/sfmpi-prod-refused.XXXXXX)
pids=()
# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
  for p in "${pids[@]+"${pids[@]}"}"; do kill -KILL "$p" 2>/dev/null; done
  wait 2>/dev/null
  rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

read -r p_alice p_bob < <("$(dirname "$0")/../../scripts/free-ports" 2)
[ -n "${p_bob:-}" ] || { echo "FAIL: cannot find free ports"; exit 1; }
pub_a=$("$keygen" --party alice --out "$dir/alice.key" 2>/dev/null) || { echo "FAIL: keygen"; exit 1; }
pub_b=$("$keygen" --party bob --out "$dir/bob.key" 2>/dev/null) || { echo "FAIL: keygen"; exit 1; }

# write_cluster FILE [TOP_EXTRA [CHANNEL_EXTRA]]
write_cluster() {
  cat >"$1" <<EOF
{
  "version": 1,
  "job_id": "test-refused-$$",${2:-}
  "parties": [
    {"name": "alice", "address": "127.0.0.1:$p_alice", "public_key": "$pub_a"},
    {"name": "bob", "address": "127.0.0.1:$p_bob", "public_key": "$pub_b"}
  ],
  "channel": {"connect_timeout": 3, "peer_timeout": 5, "heartbeat": 0.5${3:-}}
}
EOF
}
write_cluster "$dir/cluster.json"

fail=0
# check NAME WANT_EXIT GOT_EXIT ERRFILE REGEX...: exit code and every regex (grep -E)
check() {
  local name=$1 want=$2 got=$3 errf=$4
  shift 4
  echo "$name: exit $got; $(grep -m1 'error:' "$errf")"
  [ "$got" = "$want" ] || { echo "FAIL: $name exited $got, expected $want"; fail=1; }
  for re in "$@"; do
    grep -Eq -- "$re" "$errf" || { echo "FAIL: $name's stderr does not match: $re"; fail=1; }
  done
}
# run1 NAME ARGS...: one party in the foreground under a time limit
run1() {
  local name=$1
  shift
  timeout -k 2 20 "$prog" 64 --sf-mode=prod "$@" >"$dir/$name.out" 2>"$dir/$name.err"
}

cl=$dir/cluster.json
# shellcheck disable=SC2001,SC2016 # a sed bracket expression: its $ is a literal character
q() { sed 's/[][\.*^$()+?{}|]/\\&/g' <<<"$1"; } # regex-quote a path

case "$case_" in
wrong_key)
  "$keygen" --party alice --out "$dir/alice-other.key" >/dev/null 2>&1 || { echo "FAIL: keygen"; exit 1; }
  run1 alice --sf-party=alice "--sf-cluster=$cl" "--sf-key=$dir/alice-other.key"
  check "alice with another key" 2 $? "$dir/alice.err" \
    "^sfmpi: \[prod alice\] error: $(q "$dir/alice-other.key"): public key does not match parties\[0\]\.public_key for party 'alice'"
  ;;
unknown_party)
  run1 dave --sf-party=dave "--sf-cluster=$cl" "--sf-key=$dir/alice.key"
  check "dave" 2 $? "$dir/dave.err" \
    "^sfmpi: \[prod dave\] error: --sf-party=dave: no party 'dave' in $(q "$cl") \(its parties: alice, bob\)"
  ;;
key_mode)
  chmod 0644 "$dir/alice.key"
  run1 alice --sf-party=alice "--sf-cluster=$cl" "--sf-key=$dir/alice.key"
  check "alice with a 0644 key file" 2 $? "$dir/alice.err" \
    "^sfmpi: \[prod alice\] error: $(q "$dir/alice.key"): key file is (readable by others|accessible by group or others) \(mode 0644\)"
  ;;
other_job)
  declare -A pid rc
  for n in alice bob; do
    j=A; [ $n = bob ] && j=B
    timeout -k 2 20 "$prog" 64 --sf-mode=prod "--sf-party=$n" "--sf-cluster=$cl" \
      "--sf-key=$dir/$n.key" "--sf-job-id=$j" >"$dir/$n.out" 2>"$dir/$n.err" &
    pid[$n]=$!
    pids+=($!)
  done
  t0=$(date +%s)
  for n in alice bob; do wait "${pid[$n]}"; rc[$n]=$?; done
  echo "both ended after $(( $(date +%s) - t0 )) s"
  check "alice (job A)" 6 "${rc[alice]}" "$dir/alice.err" \
    "^sfmpi: \[prod alice\] error: gave up after 3 s \(connect_timeout\) waiting for bob at 127\.0\.0\.1:$p_bob; connected 1/2" \
    "\[prod alice bridge\] bob at 127\.0\.0\.1:$p_bob refused the handshake"
  check "bob (job B)" 6 "${rc[bob]}" "$dir/bob.err" \
    "^sfmpi: \[prod bob\] error: gave up after 3 s \(connect_timeout\) waiting for alice at 127\.0\.0\.1:$p_alice; connected 1/2" \
    "\[prod bob bridge\] refused a connection from 127\.0\.0\.1: claiming to be alice: the handshake failed"
  ;;
cluster_key)
  write_cluster "$dir/top.json" '
  "colour": "blue",'
  run1 alice --sf-party=alice "--sf-cluster=$dir/top.json" "--sf-key=$dir/alice.key"
  check "unknown top-level key" 2 $? "$dir/alice.err" \
    "^sfmpi: \[prod alice\] error: $(q "$dir/top.json"): colour: unknown key"
  write_cluster "$dir/chan.json" "" ', "retries": 5'
  run1 alice --sf-party=alice "--sf-cluster=$dir/chan.json" "--sf-key=$dir/alice.key"
  check "unknown channel key" 2 $? "$dir/alice.err" \
    "^sfmpi: \[prod alice\] error: $(q "$dir/chan.json"): channel\.retries: unknown key"
  ;;
fifo)
  mkfifo "$dir/cluster.fifo" "$dir/key.fifo" || { echo "FAIL: mkfifo"; exit 1; }
  # timed NAME ARGS...: run1, then fail if it took more than 5 s
  timed() {
    local t0=$SECONDS rc
    run1 "$@"
    rc=$?
    [ $((SECONDS - t0)) -le 5 ] || { echo "FAIL: $1 took $((SECONDS - t0)) s"; fail=1; }
    return $rc
  }
  timed alice --sf-party=alice "--sf-cluster=$dir/cluster.fifo" "--sf-key=$dir/alice.key"
  check "cluster file a FIFO" 2 $? "$dir/alice.err" \
    "^sfmpi: \[prod alice\] error: $(q "$dir/cluster.fifo"): is a FIFO, not a regular file"
  timed bob --sf-party=bob "--sf-cluster=$cl" "--sf-key=$dir/key.fifo"
  check "key file a FIFO" 2 $? "$dir/bob.err" \
    "^sfmpi: \[prod bob\] error: $(q "$dir/key.fifo"): is a FIFO, not a regular file"
  timed zero --sf-party=alice --sf-cluster=/dev/zero "--sf-key=$dir/alice.key"
  check "cluster file /dev/zero" 2 $? "$dir/zero.err" \
    "^sfmpi: \[prod alice\] error: /dev/zero: is a character device, not a regular file"
  ;;
*) echo "test_refused.sh: unknown case $case_" >&2; exit 2;;
esac
for f in "$dir"/*.out; do
  [ -s "$f" ] && { echo "FAIL: $(basename "$f" .out) printed on stdout"; fail=1; }
done
if [ $fail != 0 ] || [ -n "${SF_TEST_VERBOSE:-}" ]; then
  for f in "$dir"/*.err; do echo "--- $(basename "$f"):"; head -20 "$f"; done
fi
[ $fail = 0 ] && echo "PASS"
exit $fail
