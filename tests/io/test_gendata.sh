#!/usr/bin/env bash
# tools/sfmpi-gendata: generate a small set, read it back and check the relation; the same
# seed gives the same files.
set -euo pipefail
G=${1:?usage: test_gendata.sh SFMPI_GENDATA}
d=$(mktemp -d "${TMPDIR:-/tmp}/sf_gendata.XXXXXX")
trap 'rm -rf "$d"' EXIT
"$G" --rows 2000 --out "$d/a"
"$G" --check "$d/a"
"$G" --rows 2000 --out "$d/b" >/dev/null
for p in alice bob carol; do
  [ -f "$d/a/$p.h5" ] || { echo "FAIL: $p.h5 missing" >&2; exit 1; }
done
# deterministic: a second run writes the same data (same digest of every value)
a=$("$G" --check "$d/a") b=$("$G" --check "$d/b")
[ "${a#"check $d/a"}" = "${b#"check $d/b"}" ] || { echo "FAIL: runs differ: $a / $b" >&2; exit 1; }
"$G" --rows 2000 --seed 7 --out "$d/c" >/dev/null
c=$("$G" --check "$d/c")
[ "${a#"check $d/a"}" != "${c#"check $d/c"}" ] || { echo "FAIL: --seed has no effect" >&2; exit 1; }
find "$d/a" \( -name '*.tmp.*' -o -name '*.gen.*' \) | grep -q . && { echo "FAIL: temporary files left" >&2; exit 1; }
"$G" --rows 5 2>/dev/null && { echo "FAIL: missing --out accepted" >&2; exit 1; }
echo "gendata: ok"
