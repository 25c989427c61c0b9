#!/usr/bin/env bash
# bridge.sh: run a benchmark in production mode on this machine, one job per party
# (modelled on scripts/launch-local, reduced to what the benchmarks need).
#
#   bench/bridge.sh [options] N ./prog [program args...]
#
# Makes a key pair per party (sfmpi-keygen), picks free loopback ports at run time, writes
# a cluster file with the chosen channel settings, starts every party and exits with the
# worst exit status. Party 0's stdout is the benchmark's output (sf_print prints once).
# Only 127.0.0.1 is used.
#
# Options:
#   --cipher C        chachapoly (default) or aesgcm: the cluster file's "channel"."cipher"
#   --channel JSON    extra members of "channel", e.g. '"max_frame": 4194304'
#   --ranks K         ranks per party (through mpirun -np K; default 1, started directly)
#   --parties a,b,c   party names (default alice,bob,carol,dave,...)
#   --timeout S       kill everything after S seconds (default 900)
# Environment: BUILD_DIR (default build-bench2) for sfmpi-keygen, or SFMPI_KEYGEN.
set -u
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
cipher=chachapoly extra="" ranks=1 parties="" timeout=900
while [ $# -gt 0 ]; do
  case "$1" in
    --cipher) cipher=$2; shift 2;;
    --channel) extra=$2; shift 2;;
    --ranks) ranks=$2; shift 2;;
    --parties) parties=$2; shift 2;;
    --timeout) timeout=$2; shift 2;;
    -h|--help) sed -n '2,18p' "$0"; exit 0;;
    --*) echo "bridge.sh: unknown option $1" >&2; exit 2;;
    *) break;;
  esac
done
if [ $# -lt 2 ] || ! [[ "$1" =~ ^[0-9]+$ ]] || [ "$1" -lt 2 ]; then
  echo "usage: bridge.sh [options] N ./prog [args...]   (N >= 2; see --help)" >&2; exit 2
fi
n=$1; shift
prog=$1; shift
[ -x "$prog" ] || { echo "bridge.sh: $prog is not an executable" >&2; exit 2; }
build=${BUILD_DIR:-$root/build-bench2}
keygen=${SFMPI_KEYGEN:-$build/tools/sfmpi-keygen}
[ -x "$keygen" ] || { echo "bridge.sh: $keygen not found (build first, or set SFMPI_KEYGEN)" >&2; exit 2; }

defaults=(alice bob carol dave erin frank grace heidi)
if [ -n "$parties" ]; then IFS=, read -r -a names <<<"$parties"; else
  names=(); for ((i = 0; i < n; i++)); do names+=("${defaults[$i]:-p$i}"); done; fi
[ ${#names[@]} -eq "$n" ] || { echo "bridge.sh: --parties names ${#names[@]} parties, N is $n" >&2; exit 2; }

dir=$(mktemp -d /tmp/sfmpi-bench-bridge.XXXXXX)
pids=()
# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
  for p in "${pids[@]+"${pids[@]}"}"; do kill -TERM "$p" 2>/dev/null; done
  rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# free ports: bind port 0 on 127.0.0.1, read the number, release it
read -r -a port <<<"$(python3 - "$n" <<'EOF'
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket(); s.bind(("127.0.0.1", 0)); socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
EOF
)"
[ ${#port[@]} -eq "$n" ] || { echo "bridge.sh: cannot find free ports" >&2; exit 1; }

entries=""
for ((i = 0; i < n; i++)); do
  pub=$("$keygen" --party "${names[$i]}" --out "$dir/${names[$i]}.key" --force 2>/dev/null) ||
    { echo "bridge.sh: key generation for ${names[$i]} failed" >&2; exit 1; }
  entries+="${entries:+,}
    {\"name\": \"${names[$i]}\", \"address\": \"127.0.0.1:${port[$i]}\", \"public_key\": \"$pub\"}"
done
cat >"$dir/cluster.json" <<EOF
{
  "version": 1,
  "job_id": "bench-$$-$(date +%s%N)",
  "parties": [$entries
  ],
  "channel": {"cipher": "$cipher"${extra:+, $extra}}
}
EOF

for ((i = 0; i < n; i++)); do
  args=(--sf-mode=prod "--sf-party=${names[$i]}" "--sf-cluster=$dir/cluster.json" "--sf-key=$dir/${names[$i]}.key")
  if [ "$ranks" -gt 1 ]; then
    OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 \
      mpirun --oversubscribe --mca mpi_yield_when_idle 1 -np "$ranks" "$prog" "$@" "${args[@]}" &
  else
    "$prog" "$@" "${args[@]}" &
  fi
  pids+=($!)
done

# the watchdog kills its sleep when it is stopped, so nothing keeps our stdout open
( trap 'kill "$s" 2>/dev/null; exit 0' TERM
  sleep "$timeout" & s=$!
  wait "$s"
  echo "bridge.sh: timeout after ${timeout}s; stopping every party" >&2
  kill -TERM "${pids[@]}" 2>/dev/null ) >/dev/null &
watchdog=$!
worst=0
for pid in "${pids[@]}"; do
  wait "$pid"; rc=$?
  [ $rc -gt $worst ] && worst=$rc
done
kill "$watchdog" 2>/dev/null; wait "$watchdog" 2>/dev/null
pids=()
exit $worst
