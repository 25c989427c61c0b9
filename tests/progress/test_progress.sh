#!/usr/bin/env bash
# test_progress.sh CASE PROG KEYGEN MPIEXEC
#
# Progress lines of long operations, end to end (PROG: tests/progress/progress_prog.c).
# The hidden knobs SF_PROGRESS_AFTER / SF_PROGRESS_EVERY (seconds) and SF_H5_BLOCK_BYTES
# make small runs show lines. Cases:
#   startup   production, alice and bob; bob starts 2.5 s after alice: alice's stderr has
#             "start-up: connected 1/2, waiting for bob at 127.0.0.1:PORT; N s of
#             connect_timeout" lines and a "done" line; again with --sf-progress=off and
#             with --sf-quiet: no progress line from either party
#   h5_debug  debug mode, --sf-ranks-per-party=2: writing and reading a 3 MiB dataset in
#             1 MiB blocks shows "writing"/"reading" lines with sizes of the 3.0 MiB
#             total, from alice/0 only, and the data reads back right
#   h5_sim    the same read in simulation mode (collective MPI-IO reads in blocks, two
#             ranks with unequal shares); lines from alice/0 only (mpirun: not a terminal,
#             so auto gives plain lines)
#   spu       debug mode: an SPU kernel of 5 multiplications shows "N operations, X sent"
#             lines on both parties' leaders and a "done" line
#   transfer  production: 256 MiB alice -> bob shows "receiving from alice: X of 256.0 MiB"
#             lines at bob and a done line
#   pty       simulation mode as a singleton (no mpirun): auto under a pseudo-terminal
#             (python3's pty) redraws the line ("\r...\033[K") and clears it at the end
#             ("\r\033[K", no "done" line); the same run with stderr in a file prints
#             plain lines ending in "\n" and no "\r"
set -u
case_=$1 prog=$2 keygen=$3 mpiexec=$4
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/prod/lib.sh
. "$here/../prod/lib.sh"
prod_dir "progress-$case_"
fail=0
bad() { echo "FAIL: $*"; fail=1; }
# has FILE REGEX [WHAT]: FILE has a line matching REGEX (grep -E)
has() { grep -Eq -- "$2" "$1" || bad "${3:-$1} has no line matching: $2"; }
hasnt() { ! grep -Eq -- "$2" "$1" || bad "${3:-$1} has a line matching: $2"; }
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1

# prod_run NAME DELAY [alice's extra options...]: alice and bob in production, bob DELAY s
# later; stderr in $dir/NAME.{alice,bob}.err, stdout in $dir/NAME.out
prod_run() {
  local name=$1 delay=$2 pa pb
  shift 2
  read -r pa pb < <("$here/../../scripts/free-ports" 2)
  prod_cluster "$dir/$name.json" "progress-$name-$$" '"connect_timeout": 30, "peer_timeout": 30' alice:"$pa" bob:"$pb"
  port_bob=$pb
  timeout 60 "$prog" "${args[@]}" --sf-mode=prod --sf-party=alice --sf-cluster="$dir/$name.json" \
    --sf-key="$dir/alice.key" "$@" >"$dir/$name.out" 2>"$dir/$name.alice.err" &
  local a=$!
  pids+=("$a")
  sleep "$delay"
  timeout 60 "$prog" "${args[@]}" --sf-mode=prod --sf-party=bob --sf-cluster="$dir/$name.json" \
    --sf-key="$dir/bob.key" "$@" >/dev/null 2>"$dir/$name.bob.err" &
  local b=$!
  pids+=("$b")
  wait "$a"; local ra=$?
  wait "$b"; local rb=$?
  if [ "$ra" != 0 ] || [ "$rb" != 0 ]; then
    bad "$name: exit alice $ra, bob $rb"
    cat "$dir/$name".*.err
  fi
}

case $case_ in
startup)
  prod_keys "$keygen" alice bob
  args=(idle)
  export SF_PROGRESS_AFTER=1 SF_PROGRESS_EVERY=0.5
  prod_run on 2.5
  f=$dir/on.alice.err
  has "$f" "^\[prod alice/0\] progress: start-up: connected 1/2, waiting for bob at 127\.0\.0\.1:$port_bob; [0-9]+ s of connect_timeout 30 s$"
  has "$f" "^\[prod alice/0\] progress: start-up: done in [0-9.]+ s$"
  n=$(grep -c "waiting for bob" "$f")
  [ "$n" -ge 2 ] || bad "alice printed $n waiting lines in 2.5 s (every 0.5 s after 1 s: expected 2 or more)"
  has "$dir/on.out" "^idle ok$" "stdout"
  prod_run off 2.5 --sf-progress=off
  prod_run quiet 2.5 --sf-quiet
  for r in off quiet; do
    for p in alice bob; do hasnt "$dir/$r.$p.err" "progress:"; done
  done
  has "$dir/off.alice.err" "all parties are up"  # off silences progress only
  hasnt "$dir/quiet.alice.err" "all parties are up"
  echo "startup: $n waiting lines on alice; none with --sf-progress=off or --sf-quiet"
  ;;
h5_debug|h5_sim)
  export SF_PROGRESS_AFTER=0 SF_PROGRESS_EVERY=0 SF_H5_BLOCK_BYTES=1048576
  if [ "$case_" = h5_debug ]; then
    "$prog" h5 "$dir/x.h5" 3072 --sf-mode=debug --sf-parties=alice,bob --sf-ranks-per-party=2 \
      >"$dir/out" 2>"$dir/err"
  else
    timeout 90 "$mpiexec" -np 4 --oversubscribe --mca mpi_yield_when_idle 1 "$prog" h5 "$dir/x.h5" 3072 \
      --sf-mode=sim --sf-parties=alice,bob --sf-ranks-per-party=2 >"$dir/out" 2>"$dir/err"
  fi
  rc=$?
  [ "$rc" = 0 ] || bad "exit $rc"
  m=${case_#h5_}
  has "$dir/out" "^h5 ok: wrote 3145728 bytes, read them back, 0 wrong$" stdout
  has "$dir/err" "^\[$m alice/0\] progress: writing $dir/x.h5:x: 1\.0 MiB of 3\.0 MiB \(33%\), [0-9.]+ s(, [0-9.]+ MiB/s)?$"
  has "$dir/err" "^\[$m alice/0\] progress: writing $dir/x.h5:x: done, 3\.0 MiB in [0-9.]+ s$"
  has "$dir/err" "^\[$m alice/0\] progress: reading $dir/x.h5:x: [0-9.]+ MiB of 3\.0 MiB \([0-9]+%\), "
  has "$dir/err" "^\[$m alice/0\] progress: reading $dir/x.h5:x: done, 3\.0 MiB in [0-9.]+ s$"
  hasnt "$dir/err" "alice/1\] progress|bob/[01]\] progress"
  n=$(grep -c "progress: reading" "$dir/err")
  # each rank reads 1.5 MiB in 1 MiB blocks: 2 blocks, 2 lines, then done
  [ "$n" = 3 ] || bad "$n reading lines, expected 3 (2 blocks and done)"
  grep progress "$dir/err" | head -8
  ;;
spu)
  SF_PROGRESS_AFTER=0 SF_PROGRESS_EVERY=0 "$prog" spu 5 --sf-mode=debug --sf-parties=alice,bob \
    >"$dir/out" 2>"$dir/err" || bad "exit $?"
  has "$dir/out" "^spu ok: sum 4096\.0$" stdout
  for p in alice bob; do
    has "$dir/err" "^\[debug $p/0\] progress: SPU kernel 'chain': 1 operation, [0-9.]+ (B|KiB|MiB) sent, [0-9.]+ s$"
    has "$dir/err" "^\[debug $p/0\] progress: SPU kernel 'chain': 6 operations, "
    has "$dir/err" "^\[debug $p/0\] progress: SPU kernel 'chain': done, 6 operations, [0-9.]+ (KiB|MiB) sent in [0-9.]+ s$"
  done
  grep progress "$dir/err" | tail -3
  ;;
transfer)
  prod_keys "$keygen" alice bob
  args=(transfer 256)
  export SF_PROGRESS_AFTER=0 SF_PROGRESS_EVERY=0
  prod_run t 0
  has "$dir/t.out" "^transfer ok: 268435456 bytes$" stdout
  f=$dir/t.bob.err
  has "$f" "^\[prod bob/0\] progress: receiving from alice: [0-9.]+ (KiB|MiB) of 256\.0 MiB \([0-9]+%\), [0-9.]+ s(, [0-9.]+ MiB/s)?$"
  has "$f" "^\[prod bob/0\] progress: receiving from alice: done, 256\.0 MiB in [0-9.]+ s$"
  hasnt "$dir/t.alice.err" "progress: receiving"
  grep progress "$f" | head -3
  ;;
pty)
  export SF_PROGRESS_AFTER=0 SF_PROGRESS_EVERY=0 SF_H5_BLOCK_BYTES=1048576
  cmd=("$prog" h5 "$dir/x.h5" 3072 --sf-mode=sim --sf-parties=alice)
  python3 - "$dir/tty.out" "${cmd[@]}" <<'PY' || bad "the run under a pty failed"
import os, pty, sys
out, cmd = sys.argv[1], sys.argv[2:]
pid, fd = pty.fork()
if pid == 0:
    os.execvp(cmd[0], cmd)
data = b""
while True:
    try:
        chunk = os.read(fd, 65536)
    except OSError:
        break
    if not chunk:
        break
    data += chunk
_, status = os.waitpid(pid, 0)
open(out, "wb").write(data)
sys.exit(os.waitstatus_to_exitcode(status))
PY
  python3 - "$dir/tty.out" <<'PY' || bad "the terminal output is not a redrawn line"
import re, sys
s = open(sys.argv[1], "rb").read().decode()
ok = True
def need(cond, what):
    global ok
    if not cond:
        print("FAIL: under a pty: " + what); ok = False
need(re.search(r"\r\[sim alice/0\] progress: reading \S+x\.h5:x: [0-9.]+ MiB of 3\.0 MiB \(\d+%\), [^\r\n]*\x1b\[K", s), "no redrawn reading line")
need(re.search(r"\r\[sim alice/0\] progress: writing \S+x\.h5:x: [0-9.]+ MiB of 3\.0 MiB", s), "no redrawn writing line")
need(s.count("\x1b[K\r\x1b[K") >= 2, "the lines are not cleared at the end of each operation")
need("done" not in s, "a done line was printed on a terminal")
need(re.search(r"h5 ok: wrote 3145728 bytes, read them back, 0 wrong", s), "the program's output is missing")
print(repr(s[:300]))
sys.exit(0 if ok else 1)
PY
  "${cmd[@]}" >"$dir/out" 2>"$dir/err" || bad "the run without a terminal failed"
  has "$dir/err" "^\[sim alice/0\] progress: reading $dir/x\.h5:x: [0-9.]+ MiB of 3\.0 MiB \([0-9]+%\), "
  has "$dir/err" "^\[sim alice/0\] progress: reading $dir/x\.h5:x: done, 3\.0 MiB in "
  ! grep -q $'\r' "$dir/err" || bad "a carriage return without a terminal"
  ;;
*) echo "unknown case $case_"; exit 2;;
esac
[ "$fail" = 0 ] && echo "PASS: $case_"
exit "$fail"
