#!/usr/bin/env bash
# test_install.sh BUILD_DIR PROG VERSION: `cmake --install --component tools` into a
# temporary prefix installs bin/sfmpi with its helpers, the man page and the Slurm
# template, and the installed sfmpi finds its helpers next to itself (not in the build).
set -u
build=$1 prog=$2 version=$3
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
cmake --install "$build" --component tools --prefix "$tmp/p" >"$tmp/log" 2>&1 || { cat "$tmp/log"; exit 1; }
for f in bin/sfmpi bin/sfmpi-keygen bin/sfmpi-gendata bin/sfmpi-psidata bin/sfmpi-csv2h5 \
         bin/sfmpi-check-cluster share/man/man1/sfmpi.1 \
         share/sfmpi/slurm/party.sbatch; do
  [ -f "$tmp/p/$f" ] || fail "$f not installed"
done
for f in bin/sfmpi bin/sfmpi-keygen share/sfmpi/slurm/party.sbatch; do
  [ -x "$tmp/p/$f" ] || fail "$f is not executable"
done
grep -q "$build" "$tmp/p/bin/sfmpi" && fail "the installed sfmpi names the build tree"
env -u SFMPI_TOOLDIR -u SFMPI_KEYGEN "$tmp/p/bin/sfmpi" --version >"$tmp/v" || fail "sfmpi --version"
[ "$(cat "$tmp/v")" = "sfmpi $version" ] || fail "sfmpi --version says '$(cat "$tmp/v")', expected sfmpi $version"
# a production run with the installed keygen, kept keys checked by the installed checker
env -u SFMPI_TOOLDIR -u SFMPI_KEYGEN "$tmp/p/bin/sfmpi" run --mode=prod -n 2 --oversubscribe --timeout 30 \
  --keep "$tmp/k" "$prog" hello >"$tmp/out" 2>"$tmp/err" || { fail "installed sfmpi run failed"; cat "$tmp/err"; }
grep -qx "arg 1: hello" "$tmp/out" || fail "the installed run's output: $(cat "$tmp/out")"
"$tmp/p/bin/sfmpi" check-cluster --party bob --key "$tmp/k/bob.key" "$tmp/k/cluster.json" >"$tmp/out" 2>&1 ||
  { fail "installed check-cluster"; cat "$tmp/out"; }
# the installed data tools: an ID set, and a CSV column converted
env -u SFMPI_TOOLDIR "$tmp/p/bin/sfmpi" psi-data --out "$tmp/ids" --rows 100 --overlap 10 >"$tmp/out" 2>&1 ||
  { fail "installed psi-data"; cat "$tmp/out"; }
grep -q '"overlap": 10,' "$tmp/ids/truth.json" 2>/dev/null || fail "installed psi-data wrote no truth.json"
printf 'id\n5\n6\n' >"$tmp/in.csv"
env -u SFMPI_TOOLDIR "$tmp/p/bin/sfmpi" csv2h5 --column id --out "$tmp/in.h5" "$tmp/in.csv" 2>"$tmp/err" ||
  { fail "installed csv2h5"; cat "$tmp/err"; }
grep -q "wrote 2 rows (int64)" "$tmp/err" || fail "installed csv2h5 says: $(cat "$tmp/err")"
# without its helpers next to it, the installed sfmpi says where it looked
rm "$tmp/p/bin/sfmpi-check-cluster"
"$tmp/p/bin/sfmpi" check-cluster x.json 2>"$tmp/err"; rc=$?
{ [ $rc = 2 ] && grep -q "cannot find sfmpi-check-cluster (looked in $tmp/p/bin; set SFMPI_TOOLDIR)" "$tmp/err"; } ||
  { fail "missing helper: exit $rc"; cat "$tmp/err"; }
[ $fails = 0 ] && echo "install test passed"
exit $((fails > 0))
