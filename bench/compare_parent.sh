#!/usr/bin/env bash
# bench/compare_parent.sh [OUTPUT_FILE]: the production bridge of this tree against the
# parent build (default 1302803, the parent of the bridge rebuild's first commit), and the
# handshake through the real accept path while strangers hold connections at the port.
#
#   bench/compare_parent.sh [OUTPUT_FILE]        # 5 rounds, ~8 minutes on the 2-core VM
#   QUICK=1 bench/compare_parent.sh out.txt      # 2 small rounds, ~40 s; indicative only
#   PARENT=<rev> ROUNDS=7 bench/compare_parent.sh
#   PARENT_BUILD=/work/parent/build bench/compare_parent.sh   # reuse an existing parent build
#   ONLY=compare | ONLY=load                     # one of the two parts
#
# Part 1 (compare). Both trees are built the same way (CMAKE_BUILD_TYPE=$BUILD_TYPE, default
# Release) in build directories of their own: the parent in a temporary git worktree
# ($PARENT_SRC, default /tmp/sfmpi-parent-<rev>, made with `git worktree add --detach` if it
# is not there; remove it with `git worktree remove $PARENT_SRC`), this tree in $NEW_BUILD
# (default build-bench-new). Then, for each group of measurements, ROUNDS rounds back to
# back, each round a parent turn followed by a new turn (parent, new, parent, new, ...:
# the two figures of a pair are seconds apart). Every turn uses its own tree's binaries
# and its own bench/bridge.sh, and measures its baselines just before its figure:
#   bridge     $MIB MiB alice -> bob (bench_bridge through bridge.sh, each cipher of
#              $CIPHERS), next to raw TCP (bench_bridge --tcp), socat TLS 1.3 (the chain of
#              more.sh) and the OpenSSL TLS 1.3 pair, all measured in the same turn;
#   handshake  bench_handshake over TCP (the tree's noise.c, Noise KK) next to TLS 1.3
#              (bench_bridge --tls-handshake) and to the same connect and bytes without
#              crypto; and in memory (both sides in one thread) next to one X25519;
#   accept     the handshake through the tree's REAL bridge: bob is a party process of that
#              tree (bench_tiny, waiting at start-up for alice), and the same client binary
#              (this tree's bench_accept --client=raw, speaking each tree's protocol
#              version: 1 for 1302803, 2 now) times $ACCEPT_N handshakes; next to the
#              turn's TLS 1.3;
#   tiny       the production tiny-task loop (bench_tiny through bridge.sh, 2 and 3
#              parties) next to a blocking TCP ping-pong (bench_bridge --pingpong).
# Per round and at the end it prints, for every measurement: the parent's and the new
# figure, the new/parent ratio per pair (median, min-max), each one's ratio to its
# same-turn baseline, and the noise: the ratios of the same build's figures in consecutive
# rounds (parent r+1 / parent r and new r+1 / new r: same code, one run farther apart
# than a pair). A difference is "beyond noise" when the median pair ratio is farther from 1
# than the typical (median) same-code ratio AND at least 80% of the pairs agree on the
# direction (4 of 5); it says so when it exceeds even the largest same-code ratio.
# Otherwise it is "within noise". Each verdict is given for the figure itself and for its
# ratio to each same-turn baseline (the requirement: each ratio within noise of the
# parent's). As the parent always runs first in a pair, an order check pairs each new
# figure with the next round's parent figure as well.
#
# Part 2 (load, this tree only). One bob (bench_tiny, waiting for alice) and bench_accept
# --client=conn (the bridge's own dialer, mpi/prod/conn.c) timing $ACCEPT_N handshakes per
# block; blocks alternate quiet / loaded, $LOAD_ROUNDS pairs; loaded = tests/prod/attacker
# idle and garbage, $LOAD_CONNS connections each, held at bob's port. Reports the median
# and p90 per block, the loaded/quiet ratio per pair (median, min-max), goal <= 2x.
#
# Environment: PARENT, PARENT_SRC, PARENT_BUILD, NEW_BUILD, BUILD_TYPE, NO_BUILD=1 (use the
# builds as they are), ROUNDS (5; QUICK 2), MIB (512; QUICK 64), REPS (5; QUICK 3), WARMUP
# (1), CIPHERS ("chachapoly aesgcm"), HS_N (500; QUICK 100), ACCEPT_N (300; QUICK 100),
# TINY_ITERS (50000; QUICK 5000), TINY_PARTIES ("2 3"), PP_N (20000; QUICK 5000),
# LOAD_ROUNDS (5; QUICK 2), LOAD_CONNS (50), ONLY ("compare load"), MEASURE (the groups
# of part 1: "bridge handshake accept tiny"). The figures are kept
# in OUTPUT_FILE.data (round tree key value); SUMMARY_ONLY=FILE.data prints their summary
# again (with the same CIPHERS and TINY_PARTIES) without measuring anything.
# Needs socat and openssl (apt-get install socat openssl) for the TLS baselines, python3.
set -u
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
. "$here/tls13.sh"
QUICK=${QUICK:-0}
if [ "$QUICK" = 1 ]; then
  ROUNDS=${ROUNDS:-2} MIB=${MIB:-64} REPS=${REPS:-3} HS_N=${HS_N:-100} ACCEPT_N=${ACCEPT_N:-100}
  TINY_ITERS=${TINY_ITERS:-5000} PP_N=${PP_N:-5000} LOAD_ROUNDS=${LOAD_ROUNDS:-2}
else
  ROUNDS=${ROUNDS:-5} MIB=${MIB:-512} REPS=${REPS:-5} HS_N=${HS_N:-500} ACCEPT_N=${ACCEPT_N:-300}
  TINY_ITERS=${TINY_ITERS:-50000} PP_N=${PP_N:-20000} LOAD_ROUNDS=${LOAD_ROUNDS:-5}
fi
WARMUP=${WARMUP:-1}
CIPHERS=${CIPHERS:-chachapoly aesgcm}
TINY_PARTIES=${TINY_PARTIES:-2 3}
LOAD_CONNS=${LOAD_CONNS:-50}
ONLY=${ONLY:-compare load}
MEASURE=${MEASURE:-bridge handshake accept tiny}
BUILD_TYPE=${BUILD_TYPE:-Release}
PARENT=${PARENT:-1302803}
NEW_BUILD=${NEW_BUILD:-$root/build-bench-new}
case $NEW_BUILD in /*) ;; *) NEW_BUILD=$root/$NEW_BUILD;; esac
unset SF_JOB_ID SF_PARTY SF_CLUSTER SF_KEY SF_MODE 2>/dev/null

die() { echo "compare_parent.sh: $*" >&2; exit 2; }
on() { [[ " $ONLY " == *" $1 "* ]]; }

# ------------------------------------------------------------------ the summary (python)
summary() { # "final" or a round number; [data file]; [group: only its measurements]
  python3 - "${2:-$res}" "$1" "$CIPHERS" "$TINY_PARTIES" "${3:-}" <<'EOF'
import math, statistics, sys
path, final, ciphers, tinyp, group = sys.argv[1], sys.argv[2], sys.argv[3].split(), sys.argv[4].split(), sys.argv[5]
R = {}
for line in open(path):
    r, tree, key, v = line.split()
    R[(int(r), tree, key)] = float(v)
rounds = sorted({k[0] for k in R})
# (group, key, name, unit, higher is better, [(baseline key, baseline name)])
M = []
for c in ciphers:
    M.append(("bridge", f"bridge.{c}", f"bridge {c}", "MB/s", True,
              [(f"socat.{c}", "socat TLS 1.3"), ("tcp", "raw TCP"), (f"pair.{c}", "OpenSSL TLS 1.3 pair")]))
M.append(("handshake", "hs.noise", "handshake over TCP (bench_handshake: the tree's Noise KK)", "us", False,
          [("tls", "TLS 1.3 handshake"), ("hs.plain", "the same connect and bytes without crypto")]))
M.append(("handshake", "hs.mem", "handshake in memory (bench_handshake, both sides in one thread)", "us", False,
          [("x25519", "one X25519")]))
M.append(("accept", "hs.accept", "handshake through the real bridge (each tree's bob, the same raw client)", "us", False,
          [("tls2", "TLS 1.3 handshake")]))
for n in tinyp:
    M.append(("tiny", f"tiny.{n}", f"tiny tasks, {n} parties", "us/it", False, [(f"pp.{n}", "blocking TCP ping-pong")]))
if group:
    M = [m for m in M if m[0] == group]
M = [m[1:] for m in M]
B = [("tcp", "raw TCP", "MB/s", True)] + [(f"socat.{c}", f"socat TLS 1.3 {c}", "MB/s", True) for c in ciphers] + \
    [(f"pair.{c}", f"OpenSSL pair {c}", "MB/s", True) for c in ciphers] + \
    [("tls", "TLS 1.3 handshake (handshake group)", "us", False), ("hs.plain", "connect + bytes without crypto", "us", False),
     ("x25519", "one X25519", "us", False), ("tls2", "TLS 1.3 handshake (accept group)", "us", False)] + \
    [(f"pp.{n}", f"ping-pong (before tiny {n})", "us", False) for n in tinyp]

def get(r, t, k): return R.get((r, t, k))
def med(v): return statistics.median(v) if v else float("nan")
def f(x, unit=""):
    if x is None or x != x: return "n/a"
    return f"{x:.0f}" if abs(x) >= 100 else f"{x:.1f}" if abs(x) >= 10 else f"{x:.2f}"
def rng(v): return f"{min(v):.3f}-{max(v):.3f}" if v else "n/a"
def gain(ratio, higher):  # ratio new/parent -> speed change (positive = new faster)
    return ratio - 1 if higher else 1 / ratio - 1

def series(key, norm=None):
    """per round: parent and new figure (optionally divided by the same turn's baseline)"""
    out = {}
    for r in rounds:
        v = []
        for t in ("parent", "new"):
            x = get(r, t, key)
            if x is not None and norm:
                b = get(r, t, norm)
                x = x / b if b else None
            v.append(x)
        if None not in v: out[r] = v
    return out

def judge(s, higher, label, out):
    rs = sorted(s)
    pairs = [s[r][1] / s[r][0] for r in rs if s[r][0] > 0]
    if not pairs:
        out.append(f"    {label}: n/a"); return None
    null = []
    for t in (0, 1):
        for a, b in zip(rs, rs[1:]):
            if s[a][t] > 0: null.append(s[b][t] / s[a][t])
    m = med(pairs)
    noise = max((abs(math.log(x)) for x in null), default=float("nan"))
    typ = med([abs(math.log(x)) for x in null]) if null else float("nan")
    worse = sum(1 for p in pairs if (p < 1) == higher and p != 1)
    better = sum(1 for p in pairs if (p > 1) == higher and p != 1)
    agree = worse if gain(m, higher) < 0 else better
    g = gain(m, higher)
    # beyond noise: the median change is larger than the typical same-code change AND at
    # least 80% of the pairs point the same way; "clearly" when it is larger than the
    # largest same-code change too
    if not null:
        verdict = f"{'faster' if g > 0 else 'slower'} by {abs(g)*100:.1f}% (one round: no noise estimate)"
    elif abs(math.log(m)) <= typ or agree < math.ceil(0.8 * len(pairs)):
        verdict = f"within noise ({'+' if g >= 0 else '-'}{abs(g)*100:.1f}%)"
    else:
        verdict = (f"{'FASTER' if g > 0 else 'SLOWER'} by {abs(g)*100:.1f}% ({agree}/{len(pairs)} pairs; "
                   f"{'beyond even the largest' if abs(math.log(m)) > noise else 'beyond the typical'} same-code change)")
    out.append(f"    {label}: new/parent median {m:.3f} (pairs {rng(pairs)}; new worse in {worse}/{len(pairs)}); "
               f"same-build round-to-round ratios {rng(null)}: typical +-{(math.exp(typ)-1)*100:.1f}%, "
               f"largest +-{(math.exp(noise)-1)*100:.1f}% -> {verdict}")
    # the same figures paired the other way round (new r, then parent r+1): the parent ran
    # first in every pair above, so an effect of the order shows as a difference here
    back = [s[a][1] / s[b][0] for a, b in zip(rs, rs[1:]) if s[b][0] > 0]
    if back:
        bw = sum(1 for p in back if (p < 1) == higher and p != 1)
        out.append(f"      order check, new r / parent r+1: median {med(back):.3f} ({rng(back)}; new worse in {bw}/{len(back)})")
    return verdict

if final != "final":
    r = int(final)
    print(f"  round {r}: parent | new | new/parent  (each with its ratio to the same turn's baseline)")
    for key, name, unit, higher, bases in M:
        p, n = get(r, "parent", key), get(r, "new", key)
        if p is None or n is None: continue
        line = f"  {name}: parent {f(p)} {unit}, new {f(n)} {unit}, new/parent {n/p:.3f}"
        for bk, bn in bases:
            bp, bn_ = get(r, "parent", bk), get(r, "new", bk)
            if bp and bn_:
                line += f"; vs {bn}: parent {p/bp:.3f}, new {n/bn_:.3f}"
        print(line)
    sys.exit(0)

print()
print(f"=== SUMMARY over {len(rounds)} rounds (in each round and measurement: the parent's turn, then the new build's)")
print("Noise: the ratios of the same build's figures in consecutive rounds (same code; one run farther apart than a pair).")
verdicts = []
for key, name, unit, higher, bases in M:
    s = series(key)
    if not s: continue
    rs = sorted(s)
    pv, nv = [s[r][0] for r in rs], [s[r][1] for r in rs]
    print(f"\n{name} ({unit}, {'higher' if higher else 'lower'} is better)")
    print(f"  parent: {' '.join(f(x) for x in pv)}  median {f(med(pv))} (min {f(min(pv))}, max {f(max(pv))})")
    print(f"  new:    {' '.join(f(x) for x in nv)}  median {f(med(nv))} (min {f(min(nv))}, max {f(max(nv))})")
    out = []
    v = judge(s, higher, "figure", out)
    verdicts.append((name, "figure", v))
    for bk, bn in bases:
        sb = series(key, bk)
        if not sb: continue
        rb = sorted(sb)
        out.append(f"    ratio to {bn}: parent {' '.join(f'{sb[r][0]:.3f}' for r in rb)} (median {med([sb[r][0] for r in rb]):.3f}); "
                   f"new {' '.join(f'{sb[r][1]:.3f}' for r in rb)} (median {med([sb[r][1] for r in rb]):.3f})")
        v = judge(sb, higher, f"ratio to {bn}", out)
        verdicts.append((name, f"ratio to {bn}", v))
    print("\n".join(out))

print("\nBaselines (the same code in both turns: their new-turn/parent-turn ratio is the drift between turns)")
for key, name, unit, higher in B:
    pv = [get(r, "parent", key) for r in rounds]
    nv = [get(r, "new", key) for r in rounds]
    if None in pv or None in nv: continue
    ratios = [n / p for p, n in zip(pv, nv)]
    print(f"  {name} ({unit}): parent turns {' '.join(f(x) for x in pv)}; new turns {' '.join(f(x) for x in nv)}; "
          f"new-turn/parent-turn median {med(ratios):.3f} ({rng(ratios)})")
print("\nVERDICTS")
for name, what, v in verdicts:
    print(f"  {name}, {what}: {v}")
EOF
}

# SUMMARY_ONLY=FILE.data: print the final summary of an earlier run's data and stop
if [ -n "${SUMMARY_ONLY:-}" ]; then summary final "$SUMMARY_ONLY"; exit; fi


# ------------------------------------------------------------------ the two trees
prev=$(git -C "$root" rev-parse --verify -q "$PARENT^{commit}") || die "no commit $PARENT"
pshort=$(git -C "$root" rev-parse --short "$prev")
if [ -n "${PARENT_BUILD:-}" ]; then
  [ -f "$PARENT_BUILD/CMakeCache.txt" ] || die "PARENT_BUILD=$PARENT_BUILD is not a CMake build directory"
  PARENT_SRC=$(sed -n 's/^CMAKE_HOME_DIRECTORY:INTERNAL=//p' "$PARENT_BUILD/CMakeCache.txt")
else
  PARENT_SRC=${PARENT_SRC:-/tmp/sfmpi-parent-$pshort}
  PARENT_BUILD=$PARENT_SRC/build-bench-parent
  if [ ! -e "$PARENT_SRC" ]; then
    git -C "$root" worktree add --detach "$PARENT_SRC" "$prev" >/dev/null 2>&1 ||
      die "cannot make a worktree of $pshort at $PARENT_SRC"
  fi
fi
[ "$(git -C "$PARENT_SRC" rev-parse HEAD 2>/dev/null)" = "$prev" ] ||
  die "$PARENT_SRC is not a checkout of $pshort (set PARENT_SRC or PARENT_BUILD)"
git -C "$PARENT_SRC" diff --quiet HEAD 2>/dev/null || echo "compare_parent.sh: warning: $PARENT_SRC differs from $pshort" >&2

build() { # src dir, build dir, targets...
  local s=$1 b=$2; shift 2
  mkdir -p "$b"
  if [ ! -f "$b/CMakeCache.txt" ]; then
    cmake -S "$s" -B "$b" -DCMAKE_BUILD_TYPE="$BUILD_TYPE" >"$b/compare_parent-configure.log" 2>&1 ||
      { cat "$b/compare_parent-configure.log"; die "configuring $b failed"; }
  fi
  cmake --build "$b" -j2 --target "$@" >"$b/compare_parent-build.log" 2>&1 ||
    { tail -30 "$b/compare_parent-build.log"; die "building in $b failed"; }
}
ptargets=(bench_bridge bench_handshake bench_tiny sfmpi-keygen)
ntargets=(bench_bridge bench_handshake bench_tiny sfmpi-keygen bench_accept attacker)
if [ "${NO_BUILD:-0}" != 1 ]; then
  build "$PARENT_SRC" "$PARENT_BUILD" "${ptargets[@]}"
  build "$root" "$NEW_BUILD" "${ntargets[@]}"
fi
for p in bench/bench_bridge bench/bench_handshake bench/bench_tiny tools/sfmpi-keygen; do
  [ -x "$PARENT_BUILD/$p" ] || die "$PARENT_BUILD/$p missing"
done
for p in bench/bench_bridge bench/bench_handshake bench/bench_tiny tools/sfmpi-keygen bench/bench_accept tests/attacker; do
  [ -x "$NEW_BUILD/$p" ] || die "$NEW_BUILD/$p missing"
done
btype() { sed -n 's/^CMAKE_BUILD_TYPE:[A-Z]*=//p' "$1/CMakeCache.txt"; }
# the bridge protocol version a tree speaks (its hello and prologue), for bench_accept --proto
proto_of() {
  local v
  v=$(sed -n 's/^#define BR_PROTO_VERSION \([0-9]*\).*/\1/p' "$1/mpi/prod/conn.h" 2>/dev/null)
  [ -n "$v" ] || v=$(sed -n 's/^#define PROTO_VERSION \([0-9]*\).*/\1/p' "$1/mpi/transport_bridge.c" 2>/dev/null)
  echo "${v:-?}"
}
pproto=$(proto_of "$PARENT_SRC") nproto=$(proto_of "$root")

out=${1:-$NEW_BUILD/compare-parent-results.txt}
tmp=$(mktemp -d /tmp/sfmpi-compare.XXXXXX)
res=$out.data # one line per figure: round tree key value
: >"$res"
bg=() # processes of ours still running (socat, bob, attackers)
cleanup() {
  for p in "${bg[@]+"${bg[@]}"}"; do kill "$p" 2>/dev/null; done
  for p in "${bg[@]+"${bg[@]}"}"; do wait "$p" 2>/dev/null; done
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
stop_bg() { for p in "$@"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done; bg=(); }

exec > >(tee "$out") 2>&1
freeports() {
  python3 - "$1" <<'EOF'
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket(); s.bind(("127.0.0.1", 0)); socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
EOF
}
# record: round tree key value (the value is the last number matched, or nothing)
rec() { [ -n "$4" ] && echo "$1 $2 $3 $4" >>"$res"; }
num() { grep -o "$1" | tail -1 | grep -oE '[0-9]+(\.[0-9]+)?' | tail -1; }

newc=$(git -C "$root" rev-parse --short HEAD)
echo "sfmpi bench/compare_parent.sh: $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
echo "new:    commit $newc$(git -C "$root" diff --quiet HEAD 2>/dev/null || echo ' (working tree differs)'), $NEW_BUILD ($(btype "$NEW_BUILD"))"
echo "parent: commit $pshort, $PARENT_SRC, $PARENT_BUILD ($(btype "$PARENT_BUILD"))"
echo "bridge protocol versions (bench_accept --proto): parent $pproto, new $nproto"
[ "$(btype "$NEW_BUILD")" = "$(btype "$PARENT_BUILD")" ] || echo "WARNING: the two trees are built differently"
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(uname -sr)"
echo "sizes: ROUNDS=$ROUNDS MIB=$MIB REPS=$REPS WARMUP=$WARMUP CIPHERS='$CIPHERS' HS_N=$HS_N ACCEPT_N=$ACCEPT_N TINY_ITERS=$TINY_ITERS TINY_PARTIES='$TINY_PARTIES' PP_N=$PP_N LOAD_ROUNDS=$LOAD_ROUNDS LOAD_CONNS=$LOAD_CONNS"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"

have_tls=1
command -v socat >/dev/null || have_tls=0
if command -v openssl >/dev/null &&
   openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$tmp/key.pem" \
     -out "$tmp/cert.pem" -days 2 -subj /CN=127.0.0.1 >/dev/null 2>&1; then
  cat "$tmp/key.pem" "$tmp/cert.pem" >"$tmp/server.pem"
else
  have_tls=0
fi
[ $have_tls = 1 ] || echo "WARNING: socat or openssl missing: the TLS baselines are skipped"
for c in $CIPHERS; do
  suite=$(tls13_suite "$c") || die "unknown cipher $c"
  tls13_conf "$tmp/ssl-$c.cnf" "$suite"
done

# A party `bob` of build $1 waiting at start-up for alice (2 parties, long timeouts), in
# directory $2; sets bob_pid and bob_port.
start_bob() {
  local B=$1 d=$2 pa pb p
  mkdir -p "$d"
  read -r pa_port bob_port <<<"$(freeports 2)"
  pa=$("$B/tools/sfmpi-keygen" --party alice --out "$d/alice.key" --force 2>/dev/null) || die "keygen"
  pb=$("$B/tools/sfmpi-keygen" --party bob --out "$d/bob.key" --force 2>/dev/null) || die "keygen"
  cat >"$d/cluster.json" <<EOF
{
  "version": 1,
  "job_id": "bench-accept-$$-$(date +%s%N)",
  "parties": [
    {"name": "alice", "address": "127.0.0.1:$pa_port", "public_key": "$pa"},
    {"name": "bob", "address": "127.0.0.1:$bob_port", "public_key": "$pb"}
  ],
  "channel": {"connect_timeout": 3600, "peer_timeout": 3600}
}
EOF
  "$B/bench/bench_tiny" --iters=1 --sf-parties=alice,bob --sf-mode=prod --sf-party=bob \
    --sf-cluster="$d/cluster.json" --sf-key="$d/bob.key" >"$d/bob.out" 2>"$d/bob.err" &
  bob_pid=$!
  bg+=("$bob_pid")
}

# ------------------------------------------------------------------ one turn of one tree
# turn GROUP ROUND TREE: one group's measurement with that tree's binaries, each next to
# its baselines measured just before it in the same turn.
turn() {
  local g=$1 r=$2 tree=$3 S B proto line
  if [ "$tree" = parent ]; then S=$PARENT_SRC B=$PARENT_BUILD proto=$pproto; else S=$root B=$NEW_BUILD proto=$nproto; fi
  echo "--- $g, round $r, $tree ($B)   load $(cut -d' ' -f1-3 /proc/loadavg)"
  case $g in
  bridge) # throughput, next to raw TCP, socat TLS 1.3 and the OpenSSL pair
    line=$("$B/bench/bench_bridge" --tcp --mib="$MIB" --reps="$REPS" --warmup="$WARMUP" | grep 'bridge raw-tcp:')
    echo "$line"; rec "$r" "$tree" tcp "$(echo "$line" | num 'raw-tcp: [0-9]* MB/s')"
    for c in $CIPHERS; do
      if [ $have_tls = 1 ]; then
        read -r p1 p2 p3 <<<"$(freeports 3)"
        OPENSSL_CONF="$tmp/ssl-$c.cnf" socat -d -d -u -b 16384 \
          "OPENSSL-LISTEN:$p2,bind=127.0.0.1,reuseaddr,fork,cert=$tmp/server.pem,verify=0" \
          "TCP:127.0.0.1:$p3" 2>"$tmp/socat-b.log" &
        s1=$!
        OPENSSL_CONF="$tmp/ssl-$c.cnf" socat -d -d -u -b 16384 \
          "TCP-LISTEN:$p1,bind=127.0.0.1,reuseaddr,fork" "OPENSSL:127.0.0.1:$p2,verify=0" 2>"$tmp/socat-a.log" &
        s2=$!
        bg+=("$s1" "$s2")
        sleep 0.3
        line=$("$B/bench/bench_bridge" --chain="$p1,$p3" --mib="$MIB" --reps="$REPS" --warmup="$WARMUP" | grep 'bridge tls-socat:')
        stop_bg "$s1" "$s2"
        echo "$c: $line ($(grep -o 'SSL proto version used: [A-Za-z0-9.]*' "$tmp/socat-a.log" | sort -u | sed 's/.*: //' | tr '\n' ' ')$(grep -o 'SSL connection using [A-Z0-9_]*' "$tmp/socat-a.log" | sort -u | sed 's/.*using //' | tr '\n' ' '))"
        rec "$r" "$tree" "socat.$c" "$(echo "$line" | num 'tls-socat: [0-9]* MB/s')"
        line=$("$B/bench/bench_bridge" --tls-pair="$(tls13_suite "$c")" --cert="$tmp/cert.pem" --key="$tmp/key.pem" \
                 --mib="$MIB" --reps="$REPS" --warmup="$WARMUP" | grep 'bridge tls-openssl-pair:')
        echo "$c: $line"; rec "$r" "$tree" "pair.$c" "$(echo "$line" | num 'pair: [0-9]* MB/s')"
      fi
      line=$(cd "$S" && BUILD_DIR=$B bench/bridge.sh --timeout 600 --cipher "$c" 2 "$B/bench/bench_bridge" \
               --mib="$MIB" --reps="$REPS" --warmup="$WARMUP" | grep 'bridge sfmpi:')
      echo "$c: $line"; rec "$r" "$tree" "bridge.$c" "$(echo "$line" | num 'sfmpi: [0-9]* MB/s')"
    done;;
  handshake) # the tree's Noise code: in memory (next to one X25519) and over TCP (next to
             # the same connect and bytes without crypto, and to TLS 1.3)
    if [ $have_tls = 1 ]; then
      line=$("$B/bench/bench_bridge" --tls-handshake="$HS_N" --cert="$tmp/cert.pem" --key="$tmp/key.pem" | grep 'SSL_connect median')
      echo "$line"; rec "$r" "$tree" tls "$(echo "$line" | num 'SSL_connect median [0-9.]* us')"
    fi
    line=$("$B/bench/bench_handshake" --n="$HS_N" --no-aead | grep -E 'handshake (tcp|in-memory Noise|in-memory: one X25519)')
    echo "$line"
    rec "$r" "$tree" hs.noise "$(echo "$line" | num 'connect + handshake median [0-9.]* us')"
    rec "$r" "$tree" hs.plain "$(echo "$line" | num 'plain connect + same bytes [0-9.]* us')"
    rec "$r" "$tree" hs.mem "$(echo "$line" | num 'in-memory Noise[A-Za-z0-9_]*: median [0-9.]* us')"
    rec "$r" "$tree" x25519 "$(echo "$line" | num 'crypto_scalarmult) median [0-9.]* us')";;
  accept) # the handshake through the tree's real bridge (a bob of that tree; the same
          # client binary for both), next to TLS 1.3
    if [ $have_tls = 1 ]; then
      line=$("$B/bench/bench_bridge" --tls-handshake="$HS_N" --cert="$tmp/cert.pem" --key="$tmp/key.pem" | grep 'SSL_connect median')
      echo "$line"; rec "$r" "$tree" tls2 "$(echo "$line" | num 'SSL_connect median [0-9.]* us')"
    fi
    start_bob "$B" "$tmp/bob-$tree-$r"
    line=$("$NEW_BUILD/bench/bench_accept" --cluster="$tmp/bob-$tree-$r/cluster.json" --key="$tmp/bob-$tree-$r/alice.key" \
             --client=raw --proto="$proto" --n="$ACCEPT_N" --label="$tree bob" 2>&1)
    stop_bg "$bob_pid"
    echo "$line"; rec "$r" "$tree" hs.accept "$(echo "$line" | num 'handshake median [0-9.]* us')";;
  tiny) # the tiny-task loop, with the round-trip floor measured just before
    for np in $TINY_PARTIES; do
      extra=(); [ "$np" = 2 ] && extra=("--sf-parties=alice,bob")
      line=$("$B/bench/bench_bridge" --pingpong="$PP_N" | grep pingpong)
      echo "$line"; rec "$r" "$tree" "pp.$np" "$(echo "$line" | num 'blocking: [0-9.]* us')"
      line=$(cd "$S" && BUILD_DIR=$B bench/bridge.sh --timeout 600 "$np" "$B/bench/bench_tiny" --iters="$TINY_ITERS" "${extra[@]}" |
               grep 'us/iteration')
      echo "$line"; rec "$r" "$tree" "tiny.$np" "$(echo "$line" | num 'parties: [0-9.]* us/iteration')"
    done;;
  esac
}

# ------------------------------------------------------------------ part 1
# Measurement-major: for each group, ROUNDS pairs back to back (parent, new, parent, new,
# ...), so the two figures of a pair are seconds apart and a same-build pair of
# consecutive rounds is only one run farther apart.
if on compare; then
  echo
  echo "##### part 1: parent $pshort vs new $newc, $ROUNDS rounds per group, alternating (groups: $MEASURE)"
  for g in $MEASURE; do
    echo
    echo "=== $g"
    for ((r = 1; r <= ROUNDS; r++)); do
      turn "$g" "$r" parent
      turn "$g" "$r" new
      summary "$r" "$res" "$g"
    done
  done
  summary final
fi

# ------------------------------------------------------------------ part 2
if on load; then
  echo
  echo "##### part 2: handshakes through the real accept path of the new build, quiet vs $LOAD_CONNS idle + $LOAD_CONNS garbage connections held at bob's port"
  d=$tmp/bob-load
  start_bob "$NEW_BUILD" "$d"
  echo "bob: $NEW_BUILD/bench/bench_tiny (pid $bob_pid) at 127.0.0.1:$bob_port, waiting for alice (connect_timeout 3600)"
  A=("$NEW_BUILD/bench/bench_accept" --cluster="$d/cluster.json" --key="$d/alice.key" --client=conn --n="$ACCEPT_N")
  conns() { ss -Htn state established "( sport = :$bob_port )" 2>/dev/null | wc -l; }
  : >"$tmp/load"
  for ((r = 1; r <= LOAD_ROUNDS; r++)); do
    echo "--- pair $r   load $(cut -d' ' -f1-3 /proc/loadavg)"
    line=$("${A[@]}" --label="quiet $r" 2>&1); echo "$line"
    echo "quiet $r $(echo "$line" | num 'median [0-9.]* us') $(echo "$line" | num 'p90 [0-9.]* us')" >>"$tmp/load"
    "$NEW_BUILD/tests/attacker" idle --to "$bob_port" --conns "$LOAD_CONNS" --secs 3600 >"$tmp/att-idle" 2>&1 &
    a1=$!
    "$NEW_BUILD/tests/attacker" garbage --to "$bob_port" --conns "$LOAD_CONNS" --secs 3600 --seed "$r" >"$tmp/att-garbage" 2>&1 &
    a2=$!
    bg+=("$a1" "$a2")
    sleep 1
    c0=$(conns)
    line=$("${A[@]}" --label="loaded $r" 2>&1); echo "$line"
    c1=$(conns)
    echo "connections established at bob's port: $c0 before the loaded block, $c1 after it (the attackers' and ours)"
    echo "loaded $r $(echo "$line" | num 'median [0-9.]* us') $(echo "$line" | num 'p90 [0-9.]* us')" >>"$tmp/load"
    stop_bg "$a1" "$a2"
    bg+=("$bob_pid")
    sleep 1
  done
  kill -0 "$bob_pid" 2>/dev/null && echo "bob still waiting at the end (as it must)" || echo "WARNING: bob exited: $(tail -3 "$d/bob.err")"
  stop_bg "$bob_pid"
  echo "bob's log: $(wc -l <"$d/bob.err") lines; last: $(tail -1 "$d/bob.err")"
  python3 - "$tmp/load" <<'EOF'
import statistics, sys
q, l = {}, {}
for line in open(sys.argv[1]):
    w = line.split()
    if len(w) < 4: continue
    (q if w[0] == "quiet" else l)[int(w[1])] = (float(w[2]), float(w[3]))
rs = sorted(set(q) & set(l))
if not rs:
    print("SUMMARY load: no complete pair"); sys.exit(0)
rat = [l[r][0] / q[r][0] for r in rs]
rat90 = [l[r][1] / q[r][1] for r in rs]
m = statistics.median(rat)
print()
print(f"=== SUMMARY handshake under load ({len(rs)} pairs, quiet then loaded)")
print(f"  quiet  median per block (us): {' '.join(f'{q[r][0]:.0f}' for r in rs)}; median {statistics.median([q[r][0] for r in rs]):.0f}; p90 per block {' '.join(f'{q[r][1]:.0f}' for r in rs)}")
print(f"  loaded median per block (us): {' '.join(f'{l[r][0]:.0f}' for r in rs)}; median {statistics.median([l[r][0] for r in rs]):.0f}; p90 per block {' '.join(f'{l[r][1]:.0f}' for r in rs)}")
print(f"  loaded/quiet per pair (medians): {' '.join(f'{x:.2f}' for x in rat)}; median {m:.2f} (min {min(rat):.2f}, max {max(rat):.2f})")
print(f"  loaded/quiet per pair (p90):     {' '.join(f'{x:.2f}' for x in rat90)}; median {statistics.median(rat90):.2f}")
print(f"VERDICT handshake under load: {m:.2f}x the quiet figure (goal <= 2x): {'met' if m <= 2 else 'NOT met'}")
EOF
fi

echo
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "output: $out"
