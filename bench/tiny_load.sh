#!/usr/bin/env bash
# tiny_load.sh: the production tiny-task loop (bench_tiny through bench/bridge.sh) against a
# blocking TCP round trip of 64 bytes between two processes (bench_bridge --pingpong), on a
# quiet machine and then with one busy process per core in the background (stress-ng
# --cpu N), in one script, RUNS runs of each (medians).
#
#   BUILD_DIR=build-bench bench/tiny_load.sh [RUNS] [ITERS]     (default 5 runs, 50,000 iterations)
#
# An iteration is one cross-party round trip between alice and bob (m1 alice -> bob, m2
# bob -> alice); with 3 parties bob also sends m2 to carol, who is on no reply path.
# Goals (issue 13): quiet, at most 2x the round trip; loaded, at most 2x the quiet figure.
# The figures are text (bench/results/tiny_load.txt keeps a run).
set -u
cd "$(dirname "$0")/.." || exit 2
B=${BUILD_DIR:-build-bench}
RUNS=${1:-5} ITERS=${2:-50000}
command -v stress-ng >/dev/null || { echo "tiny_load.sh: needs stress-ng (apt-get install stress-ng)"; exit 2; }
for t in bench/bench_tiny bench/bench_bridge tools/sfmpi-keygen; do
  [ -x "$B/$t" ] || { echo "tiny_load.sh: $B/$t is not built"; exit 2; }
done
med() { sort -n | awk '{v[NR]=$1} END {if (NR) print (NR % 2 ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2)}'; }
tmp=$(mktemp -d)
stress=""
cleanup() { [ -n "$stress" ] && kill "$stress" 2>/dev/null; wait 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
measure() { # label
  local r np extra
  for ((r = 1; r <= RUNS; r++)); do
    "$B/bench/bench_bridge" --pingpong=20000 | grep -o 'blocking: [0-9.]* us' | awk '{print $2}' >>"$tmp/$1.pp"
    for np in 2 3; do
      extra=(); [ "$np" = 2 ] && extra=("--sf-parties=alice,bob")
      BUILD_DIR=$B timeout 300 bench/bridge.sh "$np" "$B/bench/bench_tiny" --iters="$ITERS" "${extra[@]}" |
        grep -o "prod $np parties: [0-9.]* us/iteration" | awk '{print $4}' >>"$tmp/$1.tiny$np"
    done
  done
}
echo "== quiet: $RUNS runs, $ITERS iterations each"
measure quiet
ncpu=$(nproc)
echo "== loaded: stress-ng --cpu $ncpu (one busy process per core) in the background"
stress-ng --cpu "$ncpu" --timeout 3600s >/dev/null 2>&1 &
stress=$!
sleep 1
measure load
kill "$stress" 2>/dev/null; wait "$stress" 2>/dev/null; stress=""
for l in quiet load; do
  pp=$(med <"$tmp/$l.pp")
  for np in 2 3; do
    us=$(med <"$tmp/$l.tiny$np")
    q=$(med <"$tmp/quiet.tiny$np")
    printf 'tiny prod %s parties, %s: %s us/iteration (median of %s runs: %s); TCP round trip %s us; %.2fx the round trip' \
      "$np" "$l" "$us" "$RUNS" "$(tr '\n' ' ' <"$tmp/$l.tiny$np" | sed 's/ $//')" "$pp" "$(echo "$us $pp" | awk '{print $1/$2}')"
    [ "$l" = load ] && printf '; %.2fx the quiet figure (goal <= 2)' "$(echo "$us $q" | awk '{print $1/$2}')"
    [ "$l" = quiet ] && [ "$np" = 2 ] && printf ' (goal <= 2 per round trip, 1 per iteration)'
    echo
  done
done
