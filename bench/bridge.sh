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
#   --json FILE       the benchmark's JSON-lines results file (exported as SF_BENCH_JSON:
#                     party 0 writes the figures; bench/README.md, "Result format")
#   --link SPEC       run every channel through bench/linkemu, an emulated link: SPEC is
#                     key=value,... of rate, delay, fwd-rate, fwd-delay, back-rate,
#                     back-delay, buffer (linkemu's options, e.g. 'rate=100mbit,delay=10ms').
#                     Party i listens on its own port (--sf-listen) and the cluster file
#                     names the relay's port for it, so every connection to i goes through
#                     the relay ("fwd" = from the dialing party, the lower index, to i).
#                     The relay's per-connection bytes and totals go to stderr at the end.
# Environment: BUILD_DIR (default build-bench2) for sfmpi-keygen (SFMPI_KEYGEN) and
# bench/linkemu (LINKEMU).
set -u
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
cipher=chachapoly extra="" ranks=1 parties="" timeout=900 link=""
while [ $# -gt 0 ]; do
  case "$1" in
    --cipher) cipher=$2; shift 2;;
    --channel) extra=$2; shift 2;;
    --ranks) ranks=$2; shift 2;;
    --parties) parties=$2; shift 2;;
    --timeout) timeout=$2; shift 2;;
    --json) [ -n "${2:-}" ] || { echo "bridge.sh: --json needs a file name" >&2; exit 2; }
            case $2 in /*) SF_BENCH_JSON=$2;; *) SF_BENCH_JSON=$PWD/$2;; esac
            export SF_BENCH_JSON; shift 2;;
    --link) [ -n "${2:-}" ] || { echo "bridge.sh: --link needs a spec, e.g. rate=100mbit,delay=10ms" >&2; exit 2; }
            link=$2; shift 2;;
    -h|--help) sed -n '2,29p' "$0"; exit 0;;
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
linkemu=${LINKEMU:-$build/bench/linkemu}
link_args=()
if [ -n "$link" ]; then
  [ -x "$linkemu" ] || { echo "bridge.sh: $linkemu not found (build first, or set LINKEMU)" >&2; exit 2; }
  IFS=, read -r -a kvs <<<"$link"
  for kv in "${kvs[@]}"; do
    case "${kv%%=*}" in
      rate|delay|fwd-rate|fwd-delay|back-rate|back-delay|buffer) ;;
      *) echo "bridge.sh: --link $link: unknown key '${kv%%=*}' (rate, delay, fwd-rate, fwd-delay, back-rate, back-delay, buffer)" >&2; exit 2;;
    esac
    [[ "$kv" == *=?* ]] || { echo "bridge.sh: --link $link: '$kv' has no value (key=value)" >&2; exit 2; }
    link_args+=("--${kv%%=*}" "${kv#*=}")
  done
fi

defaults=(alice bob carol dave erin frank grace heidi)
if [ -n "$parties" ]; then IFS=, read -r -a names <<<"$parties"; else
  names=(); for ((i = 0; i < n; i++)); do names+=("${defaults[$i]:-p$i}"); done; fi
[ ${#names[@]} -eq "$n" ] || { echo "bridge.sh: --parties names ${#names[@]} parties, N is $n" >&2; exit 2; }

dir=$(mktemp -d /tmp/sfmpi-bench-bridge.XXXXXX)
pids=() relay=""
# shellcheck disable=SC2317  # run by the EXIT trap
cleanup() {
  for p in "${pids[@]+"${pids[@]}"}"; do kill -TERM "$p" 2>/dev/null; done
  [ -z "$relay" ] || { kill -TERM "$relay" 2>/dev/null; wait "$relay" 2>/dev/null; }
  rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# free ports: bind port 0 on 127.0.0.1, read the number, release it
nports=$n; [ -z "$link" ] || nports=$((2 * n))
read -r -a port <<<"$(python3 - "$nports" <<'EOF'
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket(); s.bind(("127.0.0.1", 0)); socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
EOF
)"
[ ${#port[@]} -eq "$nports" ] || { echo "bridge.sh: cannot find free ports" >&2; exit 1; }
# with --link: party i listens on port[n + i] (--sf-listen); the relay on port[i] forwards there
listen=()
if [ -n "$link" ]; then
  pairs=()
  for ((i = 0; i < n; i++)); do
    listen[i]=127.0.0.1:${port[$((n + i))]}
    pairs+=(--pair "${port[$i]}:${port[$((n + i))]}")
  done
  "$linkemu" "${pairs[@]}" "${link_args[@]}" >"$dir/linkemu.out" 2>"$dir/linkemu.err" &
  relay=$!
  for ((t = 0; t < 100; t++)); do
    grep -q '^linkemu: ready' "$dir/linkemu.out" 2>/dev/null && break
    kill -0 "$relay" 2>/dev/null || break
    sleep 0.05
  done
  grep -q '^linkemu: ready' "$dir/linkemu.out" 2>/dev/null ||
    { cat "$dir/linkemu.err" >&2; echo "bridge.sh: the link emulator did not start (--link $link)" >&2; exit 2; }
  echo "bridge.sh: every channel through linkemu ${link_args[*]}" >&2
fi

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
  [ -z "$link" ] || args+=("--sf-listen=${listen[$i]}")
  if [ "$ranks" -gt 1 ]; then
    OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 \
      mpirun --oversubscribe --mca mpi_yield_when_idle 1 --bind-to none -np "$ranks" "$prog" "$@" "${args[@]}" &
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
if [ -n "$relay" ]; then
  kill -TERM "$relay" 2>/dev/null; wait "$relay" 2>/dev/null
  relay=""
  cat "$dir/linkemu.err" >&2
fi
exit $worst
