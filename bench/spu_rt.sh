#!/usr/bin/env bash
# bench/spu_rt.sh [OUTPUT_FILE]: SPU operations through the runtime (bench_spu_rt) in every
# configuration, and the protocol-core harness (bench_spu) as the reference, in one run
# (see bench/README.md, "Results: SPU through the runtime"). Every line carries its
# same-run plaintext baseline.
#
#   cmake -S . -B build-bench-spu -DCMAKE_BUILD_TYPE=Release
#   cmake --build build-bench-spu -j2 --target bench_spu_rt bench_spu
#   bench/spu_rt.sh [OUTPUT_FILE]        # ~3 minutes on the 2-core VM
#   QUICK=1 bench/spu_rt.sh out.txt      # small sizes, ~20 s; figures indicative only
#
# Configurations:
#   sim-shm    mpirun -np 3, simulation mode, Open MPI's own choice of transport (shared
#              memory on one machine)
#   sim-tcp    the same with --mca btl self,tcp: TCP over loopback
#   debug      debug mode (one process, coroutines), the real protocol
#   debug-plain  debug mode with --sf-spu=plain (plaintext functional simulation);
#              skipped with a note when the binary does not accept the option
#   harness    bench_spu: the protocol core alone, threads over an in-memory net
#   harness-aes  the same with --prg=aes, when the build's protocol core has AES streams
#
# Environment: BUILD_DIR (default build-bench-spu), N (elements, default 1048576), MM
# (matmul size, default 1000), REPS (timed repetitions, default 5), ABY3 (1: also aby3
# over all three parties, default 1), SIM_SPLIT (mul_fxp calls per batch in simulation
# mode, default 1), TIMEOUT (seconds per run, default 600), MPIRUN.
set -u
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
B=${BUILD_DIR:-$root/build-bench-spu}
[ -d "$B" ] || B=$root/$B
out=${1:-$B/spu-rt-results.txt}
QUICK=${QUICK:-0}
if [ "$QUICK" = 1 ]; then
  N=${N:-65536} MM=${MM:-200} REPS=${REPS:-3}
else
  N=${N:-1048576} MM=${MM:-1000} REPS=${REPS:-5}
fi
ABY3=${ABY3:-1}
SIM_SPLIT=${SIM_SPLIT:-1}
TIMEOUT=${TIMEOUT:-600}
MPIRUN=${MPIRUN:-mpirun}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
MPI=(timeout "$TIMEOUT" "$MPIRUN" -np 3 --oversubscribe --mca mpi_yield_when_idle 1)
BIN=$B/bench/bench_spu_rt
for p in bench_spu_rt bench_spu; do
  [ -x "$B/bench/$p" ] || { echo "spu_rt.sh: $B/bench/$p not built (see the header)" >&2; exit 2; }
done
ARGS=(--n="$N" --mm="$MM" --reps="$REPS" --aby3="$ABY3")
PARTIES=--sf-parties=alice,bob,carol

tmp=$(mktemp -d /tmp/sfmpi-bench-spu-rt.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM
exec > >(tee "$out") 2>&1

section() { echo; echo "=== $*"; }
# run NAME CMD...: run one configuration, report its exit status (124 = timed out)
run() {
  local name=$1; shift
  section "$name: $*"
  local t0=$SECONDS
  "$@" 2>&1 | sed "s/^spu_rt mode=/spu_rt config=$name mode=/"
  local rc=${PIPESTATUS[0]}
  [ "$rc" = 0 ] || echo "spu_rt.sh: $name exited with status $rc$([ "$rc" = 124 ] && echo ' (timed out)')"
  echo "($name: $((SECONDS - t0)) s)"
}

echo "sfmpi bench/spu_rt.sh: $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
echo "commit $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo '?')$(git -C "$root" diff --quiet HEAD 2>/dev/null || echo ' (working tree differs)')"
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(uname -sr), $("$MPIRUN" --version 2>/dev/null | head -1)"
echo "sizes: N=$N MM=$MM REPS=$REPS ABY3=$ABY3 SIM_SPLIT=$SIM_SPLIT"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"

# (a) simulation mode: three MPI ranks of one job on this machine
run sim-shm "${MPI[@]}" "$BIN" --sf-mode=sim "$PARTIES" "${ARGS[@]}" --split-mul="$SIM_SPLIT" --tag=shm
run sim-tcp "${MPI[@]}" --mca btl self,tcp "$BIN" --sf-mode=sim "$PARTIES" "${ARGS[@]}" \
  --split-mul="$SIM_SPLIT" --tag=tcp

# (b) debug mode, the real protocol (all parties coroutines of one thread)
run debug timeout "$TIMEOUT" "$BIN" --sf-mode=debug "${ARGS[@]}"

# (c) debug mode, plaintext functional simulation, if this build has it
if timeout 60 "$BIN" --sf-mode=debug --sf-spu=plain --sf-quiet --n=16 --mm=4 --reps=1 --aby3=0 \
     >"$tmp/probe.out" 2>&1; then
  # aby3 is the same plaintext computation under --sf-spu=plain: semi2k only
  run debug-plain timeout "$TIMEOUT" "$BIN" --sf-mode=debug --sf-spu=plain "${ARGS[@]}" --aby3=0
else
  section "debug-plain: skipped: this build does not run --sf-spu=plain:"
  sed 's/^/  /' "$tmp/probe.out" | head -5
fi

# (d) the protocol core alone (the reference): members and dealer as threads, in-memory net
section "harness: $B/bench/bench_spu --runs=$REPS --n=$N --mm=$MM --aby3=$ABY3"
timeout "$TIMEOUT" "$B/bench/bench_spu" --runs="$REPS" --n="$N" --mm="$MM" --aby3="$ABY3"
# builds whose protocol core has AES-128-CTR streams (the runtime's choice when every CPU
# has AES instructions: see its "SPU ... streams" info line above) measure those as well
if "$B/bench/bench_spu" --prg=aes --runs=1 --n=16 --mm=4 --aby3=0 >/dev/null 2>&1; then
  section "harness-aes: $B/bench/bench_spu --prg=aes --runs=$REPS --n=$N --mm=$MM --aby3=$ABY3"
  timeout "$TIMEOUT" "$B/bench/bench_spu" --prg=aes --runs="$REPS" --n="$N" --mm="$MM" --aby3="$ABY3" |
    sed 's/^\(semi2k\|aby3\)/aes \1/'
fi

# one line per configuration and operation
section "SUMMARY (alice's median; goals: semi2k mul_fxp >= 30 M/s, less >= 2 M/s, matmul 1000^3 <= 1.0 s)"
grep '^spu_rt config=.* op=' "$out" | awk '{
  cfg = $2; sub("config=", "", cfg); spu = ""; op = ""; rate = ""; plain = ""; b = ""; chk = "";
  for (i = 1; i <= NF; i++) {
    if ($i ~ /^spu=/) spu = substr($i, 5)
    else if ($i ~ /^op=/) op = substr($i, 4)
    else if ($i ~ /^median_s=/) med = substr($i, 10)
    else if ($i ~ /^rate=/) rate = substr($i, 6)
    else if ($i ~ /^plain_rate=/) plain = substr($i, 12)
    else if ($i ~ /^(MATCH|DIFF)$/ && b == "") b = $i
    else if ($i ~ /^check=/) chk = substr($i, 7)
  }
  sub(/\(.*/, "", spu);
  printf "SUMMARY %-12s %-7s %-11s median %8s s  rate %-13s plain %-13s bytes %-5s check %s\n",
         cfg, spu, op, med, rate, plain, (b == "" ? "n/a" : b), chk
}'
grep '^semi2k\|^aby3' "$out" | sed 's/^/SUMMARY harness      /' | cut -c1-150
grep '^aes ' "$out" | sed 's/^aes /SUMMARY harness-aes  /' | cut -c1-150
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "raw output: $out"
