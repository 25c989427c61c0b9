#!/usr/bin/env bash
# bench/more.sh [OUTPUT_FILE]: the production-mode, handshake, HDF5 and allreduce
# benchmarks (see bench/README.md, "Production mode" and "Parties with several ranks and
# HDF5"). Every figure is printed next to its baseline, measured in the same run.
#
#   cmake -S . -B build-bench2 -DCMAKE_BUILD_TYPE=Release && cmake --build build-bench2 -j2
#   bench/more.sh [OUTPUT_FILE]          # ~10 minutes on the 2-core VM
#   QUICK=1 bench/more.sh out.txt        # small sizes, a minute; figures indicative only
#   ONLY="bridge handshake tiny h5 allreduce" bench/more.sh    # a subset
#
# Environment: BUILD_DIR (default build-bench2), MIB (object / dataset size, default
# 1024), REPS (timed repetitions, default 5), WARMUP (untimed first repetitions, default
# 2), TINY_RUNS (runs per tiny-tasks configuration, default 5), TINY_ITERS (default
# 100000), H5FILE (default /tmp/sfmpi-bench-h5read.h5), COLD=0 (skip the HDF5 reads
# after dropping the page cache; they run when drop_caches is permitted), MPIRUN. Needs socat and openssl for the TLS baselines
# (apt-get install socat openssl); without them those lines say "skipped".
set -u
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
. "$here/tls13.sh"
B=${BUILD_DIR:-$root/build-bench2}
[ -d "$B" ] || B=$root/$B
out=${1:-$B/bench-more-results.txt}
QUICK=${QUICK:-0}
if [ "$QUICK" = 1 ]; then
  MIB=${MIB:-64} REPS=${REPS:-3} WARMUP=${WARMUP:-1} TINY_RUNS=${TINY_RUNS:-1} TINY_ITERS=${TINY_ITERS:-10000}
  HS_N=${HS_N:-200}
else
  MIB=${MIB:-1024} REPS=${REPS:-5} WARMUP=${WARMUP:-2} TINY_RUNS=${TINY_RUNS:-5} TINY_ITERS=${TINY_ITERS:-100000}
  HS_N=${HS_N:-1000}
fi
H5FILE=${H5FILE:-/tmp/sfmpi-bench-h5read.h5}
ONLY=${ONLY:-bridge handshake tiny h5 allreduce}
MPIRUN=${MPIRUN:-mpirun}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
MPI=("$MPIRUN" --oversubscribe --mca mpi_yield_when_idle 1)
export BUILD_DIR=$B
for p in bench_bridge bench_handshake bench_h5read bench_tiny; do
  [ -x "$B/bench/$p" ] || { echo "more.sh: $B/bench/$p not built (see the header)" >&2; exit 2; }
done

tmp=$(mktemp -d /tmp/sfmpi-bench-more.XXXXXX)
spids=()
cleanup() {
  for p in "${spids[@]+"${spids[@]}"}"; do kill "$p" 2>/dev/null; done
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

exec > >(tee "$out") 2>&1
on() { [[ " $ONLY " == *" $1 "* ]]; }
section() { echo; echo "=== $*"; }
med() { sort -g | awk '{a[NR]=$1} END {if (NR==0) print "n/a"; else if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {if (a+0>0 && b+0>0) printf "%.2f", a/b; else print "n/a"}'; }
freeports() {
  python3 - "$1" <<'EOF'
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket(); s.bind(("127.0.0.1", 0)); socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
EOF
}

echo "sfmpi bench/more.sh: $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
echo "commit $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo '?')$(git -C "$root" diff --quiet 2>/dev/null || echo ' (working tree differs)')"
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(uname -sr)"
echo "sizes: MIB=$MIB REPS=$REPS WARMUP=$WARMUP TINY_RUNS=$TINY_RUNS TINY_ITERS=$TINY_ITERS"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"

# a self-signed ECDSA P-256 certificate for the TLS baselines
have_cert=0
if command -v openssl >/dev/null &&
   openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$tmp/key.pem" \
     -out "$tmp/cert.pem" -days 2 -subj /CN=127.0.0.1 >/dev/null 2>&1; then
  cat "$tmp/key.pem" "$tmp/cert.pem" >"$tmp/server.pem"
  have_cert=1
fi

# ------------------------------------------------------------------ 1. bridge throughput
if on bridge; then
  section "bridge: ${MIB} MiB alice -> bob (production mode) vs raw TCP vs TLS 1.3"
  have_tls=$have_cert
  command -v socat >/dev/null || have_tls=0
  [ $have_tls = 1 ] || echo "TLS baselines skipped: socat or openssl missing"
  "$B/bench/bench_bridge" --tcp --mib="$MIB" --reps="$REPS" --warmup="$WARMUP"
  tcp=$(grep -o 'bridge raw-tcp: [0-9]* MB/s' "$out" | tail -1 | awk '{print $3}')
  for cipher in chachapoly aesgcm; do
    suite=$(tls13_suite "$cipher")
    echo "--- cipher $cipher (TLS 1.3 suite $suite)"
    bench/bridge.sh --cipher "$cipher" 2 "$B/bench/bench_bridge" --mib="$MIB" --reps="$REPS" --warmup="$WARMUP" |
      sed "s/^bridge sfmpi/bridge sfmpi $cipher/"
    sf=$(grep -o "bridge sfmpi $cipher: [0-9]* MB/s" "$out" | tail -1 | awk '{print $4}')
    socat_mbs="" pair_mbs=""
    if [ $have_tls = 1 ]; then
      tls13_conf "$tmp/ssl-$cipher.cnf" "$suite"
      read -r p1 p2 p3 <<<"$(freeports 3)"
      # -b 16384: one TLS record per read (socat's default 8192 is slower; 64 KiB-1 MiB no better here)
      OPENSSL_CONF="$tmp/ssl-$cipher.cnf" socat -d -d -u -b 16384 \
        "OPENSSL-LISTEN:$p2,bind=127.0.0.1,reuseaddr,fork,cert=$tmp/server.pem,verify=0" \
        "TCP:127.0.0.1:$p3" 2>"$tmp/socat-b.log" &
      spids+=($!)
      OPENSSL_CONF="$tmp/ssl-$cipher.cnf" socat -d -d -u -b 16384 \
        "TCP-LISTEN:$p1,bind=127.0.0.1,reuseaddr,fork" \
        "OPENSSL:127.0.0.1:$p2,verify=0" 2>"$tmp/socat-a.log" &
      spids+=($!)
      sleep 0.5
      "$B/bench/bench_bridge" --chain="$p1,$p3" --mib="$MIB" --reps="$REPS" --warmup="$WARMUP" |
        sed "s/^bridge tls/bridge tls $cipher/"
      for p in "${spids[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
      spids=()
      echo "socat negotiated: $(grep -o 'SSL proto version used: [A-Za-z0-9.]*' "$tmp/socat-a.log" | sort -u | sed 's/.*: //' | tr '\n' ' ')$(grep -o 'SSL connection using [A-Z0-9_]*' "$tmp/socat-a.log" | sort -u | sed 's/.*using //' | tr '\n' ' ')"
      socat_mbs=$(grep -o "bridge tls $cipher-socat: [0-9]* MB/s" "$out" | tail -1 | awk '{print $4}')
      "$B/bench/bench_bridge" --tls-pair="$suite" --cert="$tmp/cert.pem" --key="$tmp/key.pem" \
        --mib="$MIB" --reps="$REPS" --warmup="$WARMUP" | sed "s/^bridge tls/bridge tls $cipher/"
      pair_mbs=$(grep -o "bridge tls $cipher-openssl-pair: [0-9]* MB/s" "$out" | tail -1 | awk '{print $4}')
    fi
    echo "SUMMARY bridge $cipher: sfmpi ${sf:-?} MB/s; raw TCP ${tcp:-?} MB/s (ratio $(ratio "${sf:-0}" "${tcp:-0}")); socat TLS ${socat_mbs:-skipped} MB/s (sfmpi/TLS $(ratio "${sf:-0}" "${socat_mbs:-0}"), goal >= 1.0); OpenSSL pair ${pair_mbs:-skipped} MB/s (sfmpi/pair $(ratio "${sf:-0}" "${pair_mbs:-0}"))"
  done
fi

# ------------------------------------------------------------------ 2. handshake
if on handshake; then
  section "handshake: Noise KK X25519 + ChaChaPoly (the bridge's functions)"
  "$B/bench/bench_handshake" --n="$HS_N"
  "$B/bench/bench_handshake" --n="$HS_N" --cipher=aesgcm --no-aead | grep -v 'step'
  if [ $have_cert = 1 ]; then
    "$B/bench/bench_bridge" --tls-handshake="$HS_N" --cert="$tmp/cert.pem" --key="$tmp/key.pem"
  fi
  kk=$(grep -o 'tcp Noise_KK_25519_ChaChaPoly_SHA256: connect + handshake median [0-9.]* us' "$out" | tail -1 | awk '{print $(NF-1)}')
  tls=$(grep -o 'connect + SSL_connect median [0-9.]* us' "$out" | tail -1 | awk '{print $(NF-1)}')
  echo "SUMMARY handshake: Noise KK over TCP ${kk:-?} us (goal <= 500); TLS 1.3 over TCP ${tls:-skipped} us (sfmpi/TLS time ratio $(ratio "${kk:-0}" "${tls:-0}"))"
  if command -v openssl >/dev/null; then
    echo "openssl speed for scale: $(openssl speed -seconds 1 ecdhx25519 2>/dev/null | grep X25519 | awk '{print $(NF)" X25519 ops/s"}'), $(openssl speed -seconds 1 -bytes 16384 -evp chacha20-poly1305 2>/dev/null | tail -1 | awk '{printf "chacha20-poly1305 %.0f MB/s", $2*1.024/1000}'), $(openssl speed -seconds 1 -bytes 16384 -evp aes-256-gcm 2>/dev/null | tail -1 | awk '{printf "aes-256-gcm %.0f MB/s", $2*1.024/1000}')"
  fi
fi

# ------------------------------------------------------------------ 3. tiny tasks
if on tiny; then
  section "tiny tasks: production mode, $TINY_ITERS iterations, $TINY_RUNS runs per configuration"
  for np in 2 3; do
    extra=(); [ "$np" = 2 ] && extra=("--sf-parties=alice,bob")
    : >"$tmp/tiny$np"
    : >"$tmp/pp$np"
    for ((r = 1; r <= TINY_RUNS; r++)); do
      # the floor: one blocking TCP round trip between two processes (an iteration is one
      # cross-party round trip: m1 alice -> bob, m2 bob -> alice), measured between runs
      "$B/bench/bench_bridge" --pingpong=20000 | tee -a "$tmp/pp$np"
      bench/bridge.sh "$np" "$B/bench/bench_tiny" --iters="$TINY_ITERS" "${extra[@]}" | tee -a "$tmp/tiny$np"
    done
    us=$(grep -o 'prod [0-9] parties: [0-9.]* us/iteration' "$tmp/tiny$np" | awk '{print $4}' | med)
    pp=$(grep -o 'blocking: [0-9.]* us' "$tmp/pp$np" | awk '{print $2}' | med)
    echo "--- same loop in simulation mode (one mpirun job, $np ranks) for comparison"
    "${MPI[@]}" -np "$np" "$B/bench/bench_tiny" --iters="$TINY_ITERS" --sf-mode=sim "${extra[@]}" | tee "$tmp/tinysim$np"
    sim=$(grep -o 'sim [0-9] parties: [0-9.]* us/iteration' "$tmp/tinysim$np" | awk '{print $4}')
    hwm=$(grep 'VmHWM' "$tmp/tiny$np" | sed -E 's/.*party ([a-z]+) VmHWM after [0-9]+ iterations ([0-9]+) KiB, after [0-9]+ iterations ([0-9]+) KiB.*/\1 \2 \3/' |
          awk '{k=$1; if (!(k in lo1) || $2<lo1[k]) lo1[k]=$2; if ($2>hi1[k]) hi1[k]=$2; if (!(k in lo2) || $3<lo2[k]) lo2[k]=$3; if ($3>hi2[k]) hi2[k]=$3; order[k]=NR}
               END {for (k in order) printf "%s %s-%s -> %s-%s KiB; ", k, lo1[k], hi1[k], lo2[k], hi2[k]}')
    echo "SUMMARY tiny prod $np parties: median $us us/iteration over $TINY_RUNS runs (goal <= 50; RayFed 7800; TCP round-trip floor $pp us, ratio $(ratio "$us" "$pp"); sim mode same run $sim us); VmHWM after $((TINY_ITERS / 10)) -> $TINY_ITERS iterations (range over runs): $hwm"
  done
fi

# ------------------------------------------------------------------ 4. HDF5 read
if on h5; then
  section "HDF5 read: ${MIB} MiB float64 through sf_h5_read vs plain H5Dread (same process)"
  "$B/bench/bench_h5read" --write --file="$H5FILE" --mib="$MIB" || exit 1
  if sync && echo 3 >/proc/sys/vm/drop_caches 2>/dev/null; then dropok=1; else dropok=0; fi
  echo "drop_caches: $([ $dropok = 1 ] && echo works || echo 'not permitted: warm-cache reads only')"
  H=(--file="$H5FILE" --reps="$REPS" --warmup="$WARMUP")
  modes=(warm); [ "${COLD:-1}" = 1 ] && [ $dropok = 1 ] && modes+=(cold)
  for m in "${modes[@]}"; do
    c=(); [ "$m" = cold ] && c=(--cold)
    echo "--- $m page cache"
    "$B/bench/bench_h5read" "${H[@]}" "${c[@]}" --sf-mode=debug --sf-parties=alice
    "${MPI[@]}" -np 1 "$B/bench/bench_h5read" "${H[@]}" "${c[@]}" --sf-mode=sim --sf-parties=alice
    "${MPI[@]}" -np 2 "$B/bench/bench_h5read" "${H[@]}" "${c[@]}" --sf-mode=sim --sf-parties=alice --sf-ranks-per-party=2
    "$B/bench/bench_h5read" "${H[@]}" "${c[@]}" --sf-mode=debug --sf-parties=alice --sf-ranks-per-party=2
  done
fi

# ------------------------------------------------------------------ 5. allreduce
if on allreduce; then
  section "allreduce (bench/bench_allreduce, run as is)"
  if [ -x "$B/bench/bench_allreduce" ]; then
    for np in 2 3; do
      echo "--- mpirun -np $np"
      "${MPI[@]}" -np "$np" "$B/bench/bench_allreduce" --sf-mode=sim
    done
  else
    echo "bench_allreduce is not built in $B: skipped"
  fi
fi

echo
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "output: $out"
