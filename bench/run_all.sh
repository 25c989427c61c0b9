#!/bin/sh
# Run every benchmark and write the raw output to a file (and to the terminal), and every
# figure as a JSON line (bench/README.md, "Result format") to $JSON.
#
#   bench/run_all.sh [OUTPUT_FILE]          default: $BUILD_DIR/bench-results.txt
#
# Environment (the sizes below are this script's own: TINY_ITERS, MIB, REPS... of the
# environment only reach more.sh and spu_rt.sh under MORE=1):
#   JSON       the JSON-lines results file, appended to (default: OUTPUT_FILE with .jsonl
#              for its .txt suffix); plot it with bench/plot
#   MORE=1     also run bench/more.sh and bench/spu_rt.sh with the same build, appending
#              their output to OUTPUT_FILE and their figures to $JSON (their own sizes and
#              QUICK apply; see their headers)
#   BUILD_DIR  build tree with the bench binaries (default: <repo>/build-bench), built by
#              cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release && cmake --build build-bench
#   QUICK=1    CI-sized runs (seconds, not minutes); the figures are then only indicative
#   MPIRUN     MPI launcher (default: mpirun)
# Benchmarks are measurements: a failing one is reported in the file and the script goes
# on; the exit status is non-zero only if a benchmark could not run or crashed.
set -u
here=$(cd "$(dirname "$0")" && pwd)
BUILD_DIR=${BUILD_DIR:-$here/../build-bench}
B=$BUILD_DIR/bench
OUT=${1:-$BUILD_DIR/bench-results.txt}
MPIRUN=${MPIRUN:-mpirun}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
JSON=${JSON:-${SF_BENCH_JSON:-${OUT%.txt}.jsonl}}
# shellcheck source=bench/bench_json.sh
. "$here/bench_json.sh"
bench_json_setup "$0"
# JSON members, not shell words: the quotes are meant literally
# shellcheck disable=SC2089,SC2090
SF_BENCH_CONFIG="\"quick\": ${QUICK:-0}${SF_BENCH_CONFIG:+, $SF_BENCH_CONFIG}"
# shellcheck disable=SC2090
export SF_BENCH_CONFIG

if [ "${QUICK:-0}" = 1 ]; then
    call_args="--iters=100000 --reps=3"
    ranks_args="--n=1000 --n=10000"
    transfer_args="--reps=3 --time=0.02 --max-bytes=1048576"
    tiny_iters=20000
else
    call_args=""
    ranks_args=""
    transfer_args=""
    tiny_iters=1000000
fi

status=0
: >"$OUT"
log() { echo "$*" | tee -a "$OUT"; }
# The exit status does not pass through the pipe to tee in POSIX sh: keep it in a file.
runc() {
    log "\$ $*"
    { "$@" 2>&1; echo $? >"$OUT.rc"; } | tee -a "$OUT"
    rc=$(cat "$OUT.rc")
    rm -f "$OUT.rc"
    if [ "$rc" != 0 ]; then
        log "!! exit status $rc"
        status=1
    fi
}

log "# sfmpi benchmarks, $(date -u '+%Y-%m-%d %H:%M:%S UTC'), $(uname -srm), $(nproc) cores"
log "# commit $SF_BENCH_COMMIT, build $BUILD_DIR, QUICK=${QUICK:-0}, JSON lines to $SF_BENCH_JSON"
log "# load average: $(cut -d' ' -f1-3 /proc/loadavg)"

if [ -x "$B/bench_switch" ]; then
    runc "$B/bench_switch"
else
    log "# bench_switch: not built ($B/bench_switch missing)"
fi
# shellcheck disable=SC2086
runc "$B/bench_call" $call_args
# shellcheck disable=SC2086
runc "$B/bench_ranks" $ranks_args
# shellcheck disable=SC2086
runc "$MPIRUN" -np 2 "$B/bench_transfer" --sf-mode=sim $transfer_args
runc "$B/bench_tiny" --iters=$tiny_iters --sf-mode=debug
runc "$MPIRUN" -np 2 "$B/bench_tiny" --iters=$tiny_iters --sf-mode=sim --sf-parties=alice,bob
runc "$MPIRUN" -np 3 --oversubscribe "$B/bench_tiny" --iters=$tiny_iters --sf-mode=sim
if [ "${MORE:-0}" = 1 ]; then
    # their own SF_BENCH_CONFIG: the quick flag of this script is not theirs
    for s in more.sh spu_rt.sh; do
        log "\$ $here/$s"
        if ! SF_BENCH_CONFIG="\"quick\": ${QUICK:-0}" BUILD_DIR=$BUILD_DIR "$here/$s" "$OUT.$s.txt"; then
            log "!! $s failed"
            status=1
        fi
        cat "$OUT.$s.txt" >>"$OUT"
        rm -f "$OUT.$s.txt"
    done
fi
log "# load average: $(cut -d' ' -f1-3 /proc/loadavg)"
log "# raw output written to $OUT, JSON lines to $SF_BENCH_JSON (plot: bench/plot $SF_BENCH_JSON DIR)"
exit $status
