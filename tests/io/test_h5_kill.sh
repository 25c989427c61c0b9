#!/usr/bin/env bash
# Killed writes: sf__h5_write_atomic must leave the target either absent (before the first
# complete write) or a complete valid file whose data match its version attribute, never a
# partial or corrupt one, whenever the writer is killed with SIGKILL.
#
#   test_h5_kill.sh H5_WRITER [ITERATIONS]      (default 30)
#
# Odd iterations kill the writer 0-300 ms after it starts (mostly during its first write);
# even ones 0-300 ms after its first commit (during the next write, or around a rename).
# After each kill `H5_WRITER --check` validates the target and the version must be one the
# writer could have produced by then (versions only move forward). Leftover temporary
# files (<path>.tmp.*) are allowed after SIGKILL: they are counted and removed. Then an
# uninterrupted run, and reads concurrent with a running writer.
set -u
W=${1:?usage: test_h5_kill.sh H5_WRITER [ITERATIONS]}
N=${2:-30}
dir=$(mktemp -d "${TMPDIR:-/tmp}/sf_h5_kill.XXXXXX") || exit 1
trap 'rm -rf "$dir"' EXIT
path=$dir/target.h5
fail=0 absent=0 unchanged=0 advanced=0 leftover=0 last=""

die() { echo "FAIL: $*" >&2; fail=1; }
rand_ms() { echo $((RANDOM % 301)); }
sleep_ms() { sleep "$(printf '%d.%03d' $(($1 / 1000)) $(($1 % 1000)))"; }

for ((i = 1; i <= N; i++)); do
  base=$((i * 1000000))
  log=$dir/log.$i
  "$W" "$path" "$base" >"$log" 2>"$dir/err.$i" &
  pid=$!
  if ((i % 2 == 0)); then
    for ((t = 0; t < 200; t++)); do # wait for the first commit (up to 10 s)
      grep -qs committed "$log" && break
      sleep 0.05
    done
  fi
  ms=$(rand_ms)
  sleep_ms "$ms"
  kill -KILL "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
  if [ -s "$dir/err.$i" ]; then die "iteration $i: writer error: $(cat "$dir/err.$i")"; fi
  maxc=$(awk '/^committed/ {v = $2} END {print v}' "$log")
  out=$("$W" --check "$path" 2>"$dir/cerr")
  rc=$?
  case $rc in
    2)
      if [ -n "$last" ] || [ -n "$maxc" ]; then
        die "iteration $i: target vanished (last version ${last:-none}, committed ${maxc:-none})"
      fi
      absent=$((absent + 1)) what="absent" ;;
    0)
      v=$out ok=0
      if [ -n "$maxc" ]; then
        { [ "$v" = "$maxc" ] || [ "$v" = $((maxc + 1)) ]; } && ok=1
      else
        { [ "$v" = "$base" ] || [ "$v" = "$last" ]; } && ok=1
      fi
      [ $ok = 1 ] || die "iteration $i: version $v unexpected (last ${last:-none}, base $base, committed ${maxc:-none})"
      if [ "$v" = "$last" ]; then unchanged=$((unchanged + 1)) what="unchanged"; else advanced=$((advanced + 1)) what="new"; fi
      last=$v ;;
    *) die "iteration $i: target is corrupt: $(cat "$dir/cerr")"; what="CORRUPT" ;;
  esac
  n=0
  for f in "$path".tmp.*; do [ -e "$f" ] && n=$((n + 1)) && rm -f "$f"; done
  leftover=$((leftover + n))
  printf 'kill %2d after %3d ms%s: %-9s version %-10s commits %s, temp files left %d\n' "$i" "$ms" \
    "$( ((i % 2 == 0)) && echo ' past 1st commit' || echo '                ')" "$what" "${last:--}" \
    "$(grep -c committed "$log")" "$n"
  find "$dir" -mindepth 1 -maxdepth 1 ! -name target.h5 ! -name 'log.*' ! -name 'err.*' ! -name cerr |
    grep -q . &&
    die "iteration $i: unexpected files: $(ls "$dir")"
done

# an uninterrupted run: two complete versions
"$W" "$path" 900000000 2 >"$dir/log.full" 2>&1 || die "uninterrupted writer failed: $(cat "$dir/log.full")"
out=$("$W" --check "$path" 2>&1)
[ "$out" = 900000001 ] || die "after an uninterrupted run: expected version 900000001, got: $out"
ls "$path".tmp.* >/dev/null 2>&1 && die "an uninterrupted run left temporary files"

# reads while a writer replaces the file: always a complete file
"$W" "$path" 950000000 >"$dir/log.conc" 2>&1 &
pid=$!
for ((k = 0; k < 8; k++)); do
  out=$("$W" --check "$path" 2>&1) || die "read during writes: $out"
  sleep 0.07
done
kill -KILL "$pid" 2>/dev/null
wait "$pid" 2>/dev/null
out=$("$W" --check "$path" 2>&1) || die "after the concurrent phase: $out"
rm -f "$path".tmp.*

echo "killed writes: $N kills: target absent $absent, unchanged $unchanged, new version $advanced;" \
  "corrupt 0 expected, result: $([ $fail = 0 ] && echo none || echo FAILED);" \
  "temporary files left after SIGKILL: $leftover (removed)"
exit $fail
