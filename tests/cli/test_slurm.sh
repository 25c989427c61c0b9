#!/usr/bin/env bash
# test_slurm.sh SFMPI PROG: scripts/slurm/party.sbatch through stand-ins for sbatch, srun
# and squeue (tests/cli/slurm, first in PATH): a real two-party production run on
# loopback, two ranks per party, each party's job submitted as a user would. The stand-ins
# check the arguments; alice's job learns its end from SLURM_JOB_END_TIME, bob's from
# squeue; both must cap the cluster file's 600 s connect timeout at 25% of 20 min (300 s).
# Also: the template's checks of SF_KEY and friends run (the quoting bug hid them).
set -u
sfmpi=$1 prog=$(readlink -f "$2")
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
tmpl=$src/scripts/slurm/party.sbatch
export PATH="$here/slurm:$PATH"
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT

read -r pa pb <<<"$("$src/scripts/free-ports" 2)"
ka=$("$sfmpi" keygen --party alice --out "$tmp/alice.key" 2>/dev/null) || fail "keygen alice"
kb=$("$sfmpi" keygen --party bob --out "$tmp/bob.key" 2>/dev/null) || fail "keygen bob"
cat >"$tmp/cluster.json" <<JSON
{"version": 1, "job_id": "slurm-test-$$",
 "parties": [{"name": "alice", "address": "127.0.0.1:$pa", "public_key": "$ka"},
             {"name": "bob", "address": "127.0.0.1:$pb", "public_key": "$kb"}],
 "channel": {"connect_timeout": 600}}
JSON

# a missing SF_KEY is named (before the fix, an apostrophe in the template broke these checks)
sbatch --export="ALL,SF_PARTY=alice,SF_CLUSTER=$tmp/cluster.json" "$tmpl" "$prog" >"$tmp/o" 2>&1; rc=$?
{ [ $rc = 2 ] && grep -q "set SF_KEY to this party's key file" "$tmp/o"; } || { fail "no SF_KEY: exit $rc"; cat "$tmp/o"; }

export STUB_MAX_CONNECT=300
for p in alice bob; do
  mkdir -p "$tmp/ompi-$p"
  nte=0; [ $p = bob ] && nte=1
  # shellcheck disable=SC2030,SC2031 # each party's job has its own environment, on purpose
  ( export STUB_NO_END_TIME=$nte OMPI_MCA_orte_tmpdir_base="$tmp/ompi-$p"
    cd "$tmp" && sbatch --export="ALL,SF_PARTY=$p,SF_CLUSTER=$tmp/cluster.json,SF_KEY=$tmp/$p.key" \
      --ntasks=2 --time=00:20:00 "$tmpl" "$prog" x -- y >"$tmp/$p.out" 2>"$tmp/$p.err"
    echo $? >"$tmp/$p.rc" ) &
done
wait
for p in alice bob; do
  rc=$(cat "$tmp/$p.rc")
  [ "$rc" = 0 ] || { fail "$p's job: exit $rc"; sed 's/^/    /' "$tmp/$p.err"; }
  grep -q "srun stand-in: arguments checked (connect timeout 300 s); mpirun -np 2" "$tmp/$p.err" ||
    fail "$p: the srun stand-in did not pass its checks"
  grep -q "connect timeout 600s capped at 300s (25% of the job's 1[12][0-9][0-9]s left)" "$tmp/$p.err" ||
    fail "$p: no capping line"
  grep -q "connected 2/2: all parties are up" "$tmp/$p.err" || fail "$p: not connected"
done
printf 'arg 1: x\narg 2: y\n' >"$tmp/want"
cmp -s "$tmp/alice.out" "$tmp/want" || { fail "alice's output"; cat "$tmp/alice.out"; }
[ ! -s "$tmp/bob.out" ] || fail "bob printed: $(cat "$tmp/bob.out")"
[ $fails = 0 ] && echo "slurm template test passed"
exit $((fails > 0))
