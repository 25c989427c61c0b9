#!/usr/bin/env bash
# test_coredump.sh STEADY KEYGEN
#
# A production party's secret key must not land in a core dump of its process: the key,
# the handshake states and the channel keys live in sodium_malloc memory (locked and
# marked MADV_DONTDUMP). Three parties run `longrun`; once they are connected, gcore dumps
# alice's process, which keeps running; the dump must not hold alice's secret key (raw
# bytes or hex), and must hold her public key (so it really is her memory). Skipped (77)
# where gcore is missing or may not attach (ptrace restrictions). Processes are not made
# non-dumpable: that would break Open MPI's single-copy transfers and debugger attach.
set -u
prog=$1 keygen=$2
command -v gcore >/dev/null || { echo "SKIP: no gcore (gdb)"; exit 77; }
. "$(dirname "$0")/lib.sh"
prod_dir core
names=(alice bob carol)
read -r -a port < <("$(dirname "$0")/../../scripts/free-ports" 3)
prod_keys "$keygen" "${names[@]}"
alice_pub=${pub[alice]}
prod_cluster "$dir/cluster.json" "core-$$" "" "alice:${port[0]}" "bob:${port[1]}" "carol:${port[2]}"
for n in "${names[@]}"; do
  "$prog" 1000000 2000 --sf-mode=prod "--sf-party=$n" "--sf-cluster=$dir/cluster.json" \
    "--sf-key=$dir/$n.key" >/dev/null 2>"$dir/$n.err" &
  pids+=($!)
done
for _ in $(seq 1 100); do grep -q "all parties are up" "$dir/alice.err" && break; sleep 0.1; done
grep -q "all parties are up" "$dir/alice.err" || { echo "FAIL: not connected"; cat "$dir"/*.err; exit 1; }
if ! gcore -o "$dir/core" "${pids[0]}" >"$dir/gcore.log" 2>&1 || [ ! -s "$dir/core.${pids[0]}" ]; then
  echo "SKIP: gcore could not dump the process:"; tail -3 "$dir/gcore.log"; exit 77
fi
secret=$(sed -n 's/.*"secret_key": *"\([0-9a-f]*\)".*/\1/p' "$dir/alice.key")
[ ${#secret} = 64 ] || { echo "FAIL: cannot read the key file"; exit 1; }
python3 - "$dir/core.${pids[0]}" "$secret" "$alice_pub" <<'PY'
import sys
core = open(sys.argv[1], 'rb').read()
sk, pk = bytes.fromhex(sys.argv[2]), bytes.fromhex(sys.argv[3])
found = {'secret key (raw)': core.count(sk), 'secret key (hex)': core.count(sys.argv[2].encode()),
         'public key (raw)': core.count(pk)}
print('core of %d MB: %s' % (len(core) >> 20, ', '.join('%s x%d' % kv for kv in found.items())))
bad = found['secret key (raw)'] or found['secret key (hex)']
if bad: print('FAIL: the secret key is in the core dump')
if not found['public key (raw)']: print('FAIL: the core does not hold the public key (not her memory?)')
sys.exit(1 if bad or not found['public key (raw)'] else 0)
PY
rc=$?
[ $rc = 0 ] && echo PASS
exit $rc
