#!/usr/bin/env bash
# results_test.sh BUILD_DIR: the benchmarks' JSON lines and bench/plot, at tiny sizes.
# Runs bench_call and bench_tiny (debug mode) and the shell helper with --json / SF_BENCH_JSON
# into one file, checks every line (tests/bench/check_results.py), plots it with bench/plot
# and checks that one PNG per benchmark name exists and is a PNG.
set -u
build=$1
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
tmp=$(mktemp -d /tmp/sfmpi-bench-test.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
json=$tmp/results.jsonl
unset SF_BENCH_JSON SF_BENCH_CONFIG SF_MODE SF_PARTIES

"$build/bench/bench_call" --iters=2000 --reps=1 --case=0 --json "$json" >"$tmp/call.out" ||
  fail "bench_call exited with $?: $(cat "$tmp/call.out")"
grep -q '^call debug 1 party' "$tmp/call.out" || fail "bench_call printed no result line"
SF_BENCH_CONFIG='"run": "ctest"' "$build/bench/bench_tiny" --iters=200 --sf-mode=debug \
  --json="$json" >"$tmp/tiny.out" || fail "bench_tiny exited with $?"
# the shell helper, with a name and strings that need escaping
(
  # shellcheck source=bench/bench_json.sh
  . "$root/bench/bench_json.sh"
  export SF_BENCH_JSON=$json SF_BENCH_COMMIT=test
  bench_json 'shell "quoted" \ name' "$(bench_json_cfg 'say=a "b" \ c	d' bytes=1024)" 2.5 us 2 'raw "x"'
) || fail "bench_json (shell) failed"
python3 "$here/check_results.py" "$json" call call.overhead tiny tiny.vmhwm \
  'shell "quoted" \ name' || fail "the results file is not well-formed"
python3 - "$json" <<'EOF' || fail "a line lacks the configuration it should have"
import json, sys
rs = [json.loads(l) for l in open(sys.argv[1])]
call = [r for r in rs if r["name"] == "call"]
assert len(call) == 1 and call[0]["config"]["case"] == "release" and call[0]["config"]["iters"] == 2000, call
assert call[0]["baseline_name"] == "direct C call" and call[0]["value"] > call[0]["baseline"] > 0, call
tiny = [r for r in rs if r["name"] == "tiny"][0]
assert tiny["config"] == {"mode": "debug", "parties": 3, "iters": 200, "wrong": 0, "run": "ctest"}, tiny
sh = [r for r in rs if r["name"].startswith("shell")][0]
assert sh["config"] == {"say": 'a "b" \\ c\td', "bytes": 1024} and sh["ratio"] == 1.25, sh
assert sh["baseline_name"] == 'raw "x"' and sh["commit"] == "test", sh
EOF
"$root/bench/plot" --check "$json" >/dev/null || fail "bench/plot --check refused the file"
"$root/bench/plot" "$json" "$tmp/charts" >"$tmp/plot.out" 2>&1 || fail "bench/plot: $(cat "$tmp/plot.out")"
n=0
for name in call call.overhead tiny tiny.vmhwm shell_quoted_name; do
  f=$tmp/charts/$name.png
  [ -s "$f" ] || fail "no chart $f (bench/plot said: $(cat "$tmp/plot.out"))"
  [ "$(head -c 8 "$f" | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a ] || fail "$f is not a PNG"
  n=$((n + 1))
done
[ "$(find "$tmp/charts" -name '*.png' | wc -l)" = "$n" ] || fail "bench/plot drew other files: $(ls "$tmp/charts")"
# --json without a file is a usage error naming the option
if "$build/bench/bench_call" --json >"$tmp/usage.out" 2>&1; then fail "bench_call --json (no file) succeeded"; fi
grep -q -- '--json needs a file name' "$tmp/usage.out" || fail "no message for --json without a file: $(cat "$tmp/usage.out")"
echo "ok: $(wc -l <"$json") lines, $n charts"
