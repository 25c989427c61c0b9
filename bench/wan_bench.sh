#!/usr/bin/env bash
# bench/wan_bench.sh [OUTPUT_FILE]: the link emulator's figures and the PSI floor (see
# bench/README.md, "Link emulator" and "PSI floor"), each next to its baseline.
#
#   cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release && cmake --build build-bench -j2
#   bench/wan_bench.sh [OUTPUT_FILE]     # ~2 minutes
#   QUICK=1 bench/wan_bench.sh out.txt   # ~20 s; figures indicative only
#
# 1. bench_psi_floor (one core);
# 2. linkemu_check at each of LINKS (default 100mbit/10ms 100mbit/50ms 1gbit/10ms): round
#    trip against 2 x delay, rate each way against the configured rate;
# 3. bench_bridge in production mode through bench/wan.sh at WAN_LINK (default
#    rate=100mbit,delay=10ms), MIB MiB per move (default 64): its goodput against the rate,
#    and its time against the link's model, bytes on the wire / rate + one round trip.
# Environment: BUILD_DIR (default build-bench), REPS (default 5), MIB, LINKS, WAN_LINK.
# JSON: the JSON-lines file (default OUTPUT_FILE with .jsonl for .txt); the benchmarks write
# their own lines, this script adds wan.bridge (goodput, and time against the model).
set -u
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
# shellcheck source=bench/bench_json.sh
. "$here/bench_json.sh"
B=${BUILD_DIR:-$root/build-bench}
[ -d "$B" ] || B=$root/$B
out=${1:-$B/bench-wan-results.txt}
JSON=${JSON:-${SF_BENCH_JSON:-${out%.txt}.jsonl}}
case $JSON in /*) ;; *) JSON=$PWD/$JSON ;; esac
bench_json_setup "$0"
QUICK=${QUICK:-0}
if [ "$QUICK" = 1 ]; then REPS=${REPS:-1} MIB=${MIB:-8} floor_args=(--reps 3 --time 0.1); bytes_s=1
else REPS=${REPS:-5} MIB=${MIB:-64} floor_args=(--reps 15); bytes_s=4; fi
LINKS=${LINKS:-100mbit/10ms 100mbit/50ms 1gbit/10ms}
WAN_LINK=${WAN_LINK:-rate=100mbit,delay=10ms}
for p in bench_psi_floor linkemu linkemu_check bench_bridge; do
  [ -x "$B/bench/$p" ] || { echo "wan_bench.sh: $B/bench/$p not built (see the header)" >&2; exit 2; }
done
[ -x "$B/tools/sfmpi-keygen" ] || { echo "wan_bench.sh: $B/tools/sfmpi-keygen not built" >&2; exit 2; }
tmp=$(mktemp -d /tmp/sfmpi-bench-wan.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM
exec > >(tee "$out") 2>&1
echo "# wan_bench.sh $(date -u +%Y-%m-%dT%H:%M:%SZ) commit $SF_BENCH_COMMIT load $(cut -d' ' -f1-3 /proc/loadavg)"

echo; echo "=== PSI floor"
"$B/bench/bench_psi_floor" "${floor_args[@]}"

echo; echo "=== link emulator against its configuration"
for l in $LINKS; do
  rate=${l%/*} delay=${l#*/}
  bits=$(awk -v r="$rate" 'BEGIN { u = tolower(r); m = u ~ /gbit$/ ? 1e9 : u ~ /mbit$/ ? 1e6 : 1e3;
                                   printf "%d", (r + 0) * m }')
  "$B/bench/linkemu_check" --rate "$rate" --delay "$delay" --reps "$REPS" \
    --bytes $((bits * bytes_s / 8)) 2>"$tmp/check.err" || { cat "$tmp/check.err"; exit 1; }
done

echo; echo "=== bench_bridge through wan.sh --link $WAN_LINK"
BUILD_DIR=$B "$here/wan.sh" --link "$WAN_LINK" --timeout 600 2 "$B/bench/bench_bridge" \
  --mib="$MIB" --reps="$REPS" --warmup=1 >"$tmp/bridge.out" 2>"$tmp/bridge.err"
rc=$?
cat "$tmp/bridge.out" "$tmp/bridge.err"
[ $rc = 0 ] || { echo "wan_bench.sh: bench_bridge failed ($rc)"; exit 1; }
secs=$(sed -n 's/^bridge sfmpi: .*median \([0-9.]*\) s$/\1/p' "$tmp/bridge.out")
wire=$(sed -n 's/^linkemu: total: .* fwd \([0-9]*\) bytes.*/\1/p' "$tmp/bridge.err")
spec_rate=$(sed -n 's/.*rate=\([0-9.]*[a-zA-Z]*\).*/\1/p' <<<"$WAN_LINK")
spec_delay=$(sed -n 's/.*delay=\([0-9.]*[a-z]*\).*/\1/p' <<<"$WAN_LINK")
awk -v s="$secs" -v w="$wire" -v n=$((REPS + 1)) -v mib="$MIB" -v r="$spec_rate" -v d="$spec_delay" '
  function unit(x, k) { x = tolower(x); return x ~ k }
  BEGIN {
    rate = (r + 0) * (unit(r, "gbit$") ? 1e9 : unit(r, "mbit$") ? 1e6 : 1e3);
    delay = (d + 0) * (unit(d, "us$") ? 1e-6 : unit(d, "ms$") ? 1e-3 : 1);
    bytes = mib * 1048576; per = w / n; model = per * 8 / rate + 2 * delay;
    printf "wan bridge: %d bytes in %.3f s = %.2f Mbit/s goodput (link %.0f Mbit/s: %.3f); " \
           "%.0f bytes on the wire per move (+%.3f %%); model %.3f s, measured / model %.3f\n",
           bytes, s, bytes * 8 / s / 1e6, rate / 1e6, bytes * 8 / s / rate, per,
           100 * (per / bytes - 1), model, s / model
    printf "%s %s %s %s\n", bytes * 8 / s / 1e6, rate / 1e6, s, model > "/dev/stderr"
  }' 2>"$tmp/fig"
read -r good link_mbit t model <"$tmp/fig"
c=$(bench_json_cfg link="$WAN_LINK" mib="$MIB" reps="$REPS")
bench_json wan.bridge.goodput "$c" "$good" Mbit/s "$link_mbit" "configured rate"
bench_json wan.bridge.time "$c" "$t" s "$model" "wire bytes / rate + 2 x delay"
echo; echo "# done; JSON lines in $SF_BENCH_JSON"
