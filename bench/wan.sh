#!/usr/bin/env bash
# wan.sh: run a production-mode sfmpi job on this machine over an emulated wide-area link.
#
#   bench/wan.sh [--link SPEC] [bridge.sh options] N ./prog [program args...]
#
# The front of `bench/bridge.sh --link SPEC` (see its --help): one job per party, fresh
# keys, free loopback ports, and every channel through bench/linkemu, which adds SPEC's
# one-way delay and rate limit to each direction. SPEC defaults to rate=100mbit,delay=10ms;
# its keys are rate, delay, fwd-rate, fwd-delay, back-rate, back-delay, buffer. The relay's
# per-connection bytes and totals are printed to stderr when the job ends.
#
#   bench/wan.sh 2 build-bench/bench/bench_bridge --mib=32 --reps=3
#   bench/wan.sh --link rate=1gbit,delay=50ms 3 build-bench/examples/millionaires
set -u
here=$(cd "$(dirname "$0")" && pwd)
link=rate=100mbit,delay=10ms
case "${1:-}" in
  --link) [ $# -ge 2 ] || { echo "wan.sh: --link needs a spec, e.g. rate=100mbit,delay=10ms" >&2; exit 2; }
          link=$2; shift 2;;
  --link=*) link=${1#--link=}; shift;;
  -h|--help) sed -n '2,14p' "$0"; exit 0;;
esac
exec "$here/bridge.sh" --link "$link" "$@"
