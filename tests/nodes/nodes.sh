#!/usr/bin/env bash
# Several "nodes" on one machine: network namespaces as hosts, joined by a bridge, with
# addresses private to this run (a 10.x.y.0/24 not in use here).
#
#   nodes.sh BUILD_DIR SOURCE_DIR            the test (ctest label "nodes")
#   nodes.sh --bench BUILD_DIR SOURCE_DIR    bench_transfer between two hosts (JSON lines
#                                            to $SF_BENCH_JSON when set)
#
# The test:
#  (a) simulation mode, 3 parties x 2 ranks (vertical_linreg on sfmpi-gendata's data), the
#      job spread over hosts h1 and h2 by Open MPI's own launcher: mpirun's rsh agent is a
#      script that enters the host's namespace (and a UTS namespace with the host's name),
#      so bob's two ranks sit on different hosts; the byte transport is TCP between hosts
#      (shared memory only within one);
#  (b) production, each party's own job (mpirun -np 2) in its own namespace h1, h2, h3,
#      dialing the others at their hosts' addresses;
# and checks that both print exactly what debug mode prints.
#
# Where namespaces cannot be made (not root, no CAP_SYS_ADMIN, no `ip`), it prints one line
# saying so and exits 77 (ctest: skipped); so it does where the bridge does not forward
# (a FORWARD policy of DROP with br_netfilter, as Docker sets). Everything it makes is named
# sfn<pid>...: it is removed on exit (also on INT/TERM), and what a killed run left behind
# (its pid gone) is swept at the next start. (Runs in other PID namespaces that share this
# network namespace are not told apart: their pids look gone from here.)
set -u
bench=0
if [ "${1:-}" = --bench ]; then bench=1; shift; fi
build=${1:?usage: nodes.sh [--bench] BUILD_DIR SOURCE_DIR}
src=${2:?usage: nodes.sh [--bench] BUILD_DIR SOURCE_DIR}
build=$(cd "$build" && pwd) src=$(cd "$src" && pwd)
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1

skip() { echo "SKIP: nodes: $*"; exit 77; }
fail() { echo "FAIL: nodes: $*"; exit 1; }

command -v ip >/dev/null 2>&1 || skip "no 'ip' command (iproute2) to make network namespaces"
command -v unshare >/dev/null 2>&1 || skip "no 'unshare' (util-linux) to give each host its name"
command -v mpirun >/dev/null 2>&1 || skip "no mpirun"
P=sfn$$

# ---- leftovers of runs that were killed: their pid is gone (or a zombie)
alive() { kill -0 "$1" 2>/dev/null && ! grep -q '^[0-9]* (.*) Z' "/proc/$1/stat" 2>/dev/null; }
sweep() {
  local ns pid link
  for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep -E '^sfn[0-9]+h[0-9]$'); do
    pid=${ns#sfn}; pid=${pid%h*}
    if ! alive "$pid" || [ "$pid" = $$ ]; then
      ip netns pids "$ns" 2>/dev/null | xargs -r kill -9 2>/dev/null
      ip netns del "$ns" 2>/dev/null
    fi
  done
  for link in $(ip -o link show 2>/dev/null | awk -F': ' '{print $2}' | cut -d@ -f1 | grep -E '^sfn[0-9]+(br|v[0-9])$'); do
    pid=${link#sfn}; pid=${pid%br}; pid=${pid%v[0-9]}
    if ! alive "$pid" || [ "$pid" = $$ ]; then ip link del "$link" 2>/dev/null; fi
  done
}
# shellcheck disable=SC2317  # called through the EXIT trap
cleanup() {
  local k
  for k in 1 2 3; do
    ip link del "${P}v$k" 2>/dev/null
    ip netns pids "${P}h$k" 2>/dev/null | xargs -r kill -9 2>/dev/null
    ip netns del "${P}h$k" 2>/dev/null
  done
  ip link del "${P}br" 2>/dev/null
  jobs -p | xargs -r kill -9 2>/dev/null
  [ -n "${work:-}" ] && rm -rf "$work"
}
sweep

# ---- may we make namespaces here?
if ! err=$(ip netns add "${P}h1" 2>&1); then
  skip "network namespaces are not permitted here (ip netns add: ${err:-failed})"
fi
work=$(mktemp -d /tmp/sfnodes.XXXXXX) || { ip netns del "${P}h1"; fail "mktemp failed"; }
mkdir -p "$work/ompi"
export OMPI_MCA_orte_tmpdir_base="$work/ompi" # session directories of this run's own
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM HUP

# a /24 of 10.0.0.0/8 that no address or route here overlaps (a VPN's 10.200.0.0/16 too)
net=$( { ip -4 -o addr show; ip -4 route show table all; } 2>/dev/null | python3 -c '
import ipaddress, re, sys
used = []
for line in sys.stdin:
    for m in re.finditer(r"\b(\d+\.\d+\.\d+\.\d+)(/\d+)?\b", line):
        try:
            used.append(ipaddress.ip_network(m.group(1) + (m.group(2) or "/32"), strict=False))
        except ValueError:
            pass
used = [u for u in used if u.prefixlen > 0]  # the default route overlaps everything
seed = int(sys.argv[1])
for k in range(4096):
    a, b = 200 + (seed + k) % 50, ((seed + k) // 50) % 250
    cand = ipaddress.ip_network("10.%d.%d.0/24" % (a, b))
    if not any(cand.overlaps(u) for u in used):
        print("10.%d.%d" % (a, b))
        break
' $$)
[ -n "$net" ] || fail "no free 10.x.y.0/24 for the test's bridge"
ip link add "${P}br" type bridge || fail "cannot make a bridge"
if ! ip addr add "$net.1/24" dev "${P}br" || ! ip link set "${P}br" up; then
  fail "cannot bring up the bridge"
fi
for k in 1 2 3; do
  [ "$k" = 1 ] || ip netns add "${P}h$k" || fail "cannot make namespace ${P}h$k"
  if ! { ip link add "${P}v$k" type veth peer name eth0 netns "${P}h$k" &&
          ip link set "${P}v$k" master "${P}br" up &&
          ip -n "${P}h$k" addr add "$net.1$k/24" dev eth0 &&
          ip -n "${P}h$k" link set eth0 up && ip -n "${P}h$k" link set lo up; }; then
    fail "cannot wire host h$k"
  fi
done

# does the bridge forward? (with br_netfilter and a FORWARD policy of DROP it does not)
ip netns exec "${P}h2" timeout 5 python3 -c '
import socket, sys
s = socket.socket(); s.bind((sys.argv[1], 7099)); s.listen(1); s.settimeout(4)
c, _ = s.accept(); c.recv(1)' "$net.12" 2>/dev/null &
sleep 0.3
if ! ip netns exec "${P}h1" timeout 4 python3 -c '
import socket, sys
socket.create_connection((sys.argv[1], 7099), timeout=3).send(b"x")' "$net.12" 2>/dev/null; then
  wait
  skip "the bridge between the namespaces does not forward (br_netfilter with a FORWARD policy of DROP?)"
fi
wait

# mpirun's rsh agent: "agent HOST command..." runs the command in HOST's namespace, as ssh
# would (one shell command line), with the host's own name (Open MPI tells hosts apart by
# name: without it, ranks on different hosts would talk through shared memory)
cat >"$work/agent" <<EOF
#!/bin/sh
host=\$1; shift
case \$host in
  $net.11) ns=${P}h1 n=h1 ;;
  $net.12) ns=${P}h2 n=h2 ;;
  $net.13) ns=${P}h3 n=h3 ;;
  *) echo "nodes agent: unknown host \$host" >&2; exit 1 ;;
esac
exec ip netns exec \$ns unshare --uts sh -c "hostname \$n; \$*"
EOF
chmod +x "$work/agent"
btls=self,vader,tcp
mpi_hosts=(--mca plm_rsh_agent "$work/agent" --mca oob_tcp_if_include "$net.0/24"
           --mca btl "$btls" --mca btl_tcp_if_include "$net.0/24"
           --mca hwloc_base_binding_policy none)

if [ "$bench" = 1 ]; then
  printf '%s slots=1\n%s slots=1\n' "$net.11" "$net.12" >"$work/hosts"
  SF_BENCH_CONFIG='"link": "veth between two network namespaces, TCP"' \
    timeout 600 mpirun -np 2 --hostfile "$work/hosts" "${mpi_hosts[@]}" \
    "$build/bench/bench_transfer" --sf-mode=sim --sf-parties=alice,bob --min-bytes=65536 "${@:3}"
  exit $?
fi

prog=$build/examples/vertical_linreg
[ -x "$prog" ] || fail "$prog is not built"
data=$work/vdata
"$build/tools/sfmpi-gendata" --rows 3000 --out "$data" >/dev/null || fail "sfmpi-gendata failed"
"$prog" "$data" --sf-mode=debug --sf-quiet --sf-parties=alice,bob,carol --sf-ranks-per-party=2 \
  >"$work/debug.out" 2>"$work/debug.err" || fail "debug mode failed: $(cat "$work/debug.err")"
[ -s "$work/debug.out" ] || fail "debug mode printed nothing"
status=0

# (a) simulation, 6 ranks over h1 and h2: where did each rank run?
printf '%s slots=3\n%s slots=3\n' "$net.11" "$net.12" >"$work/hosts"
# shellcheck disable=SC2016  # expanded by the ranks' shells
place=$(timeout 60 mpirun -np 6 --hostfile "$work/hosts" "${mpi_hosts[@]}" \
  sh -c 'echo "$OMPI_COMM_WORLD_RANK $(hostname)"' 2>&1 | sort -n | awk '{print $2}' | tr '\n' ' ')
echo "ranks 0-5 on hosts: $place"
[ "$place" = "h1 h1 h1 h2 h2 h2 " ] || fail "the ranks did not land on two hosts as planned: $place"
if ! timeout 120 mpirun -np 6 --hostfile "$work/hosts" "${mpi_hosts[@]}" \
    "$prog" "$data" --sf-mode=sim --sf-quiet --sf-parties=alice,bob,carol --sf-ranks-per-party=2 \
    >"$work/sim.out" 2>"$work/sim.err"; then
  echo "FAIL: nodes: simulation over two hosts failed:"; cat "$work/sim.err"; status=1
elif ! diff -u "$work/debug.out" "$work/sim.out"; then
  echo "FAIL: nodes: simulation over two hosts (bob's ranks on h1 and h2) printed otherwise than debug mode"
  status=1
else
  echo "ok: simulation, 3 parties x 2 ranks over hosts h1 and h2 (TCP between them) = debug mode"
fi

# (b) production: each party's job (2 ranks) in its own namespace, at its host's address
names=(alice bob carol)
entries=""
for k in 1 2 3; do
  pub=$("$build/tools/sfmpi-keygen" --party "${names[$((k - 1))]}" --out "$work/${names[$((k - 1))]}.key" 2>/dev/null) ||
    fail "sfmpi-keygen failed"
  entries+="${entries:+,}{\"name\": \"${names[$((k - 1))]}\", \"address\": \"$net.1$k:7100\", \"public_key\": \"$pub\"}"
done
echo "{\"version\": 1, \"job_id\": \"nodes-$$\", \"parties\": [$entries]}" >"$work/cluster.json"
pids=()
for k in 1 2 3; do
  nm=${names[$((k - 1))]}
  mkdir -p "$work/ompi.$nm"
  ip netns exec "${P}h$k" timeout 120 env OMPI_MCA_orte_tmpdir_base="$work/ompi.$nm" \
    OMPI_MCA_hwloc_base_binding_policy=none mpirun -np 2 --oversubscribe \
    "$prog" "$data" --sf-mode=prod --sf-quiet "--sf-party=$nm" "--sf-cluster=$work/cluster.json" \
    "--sf-key=$work/$nm.key" >"$work/prod.$nm.out" 2>"$work/prod.$nm.err" &
  pids+=($!)
done
prod_ok=1
for k in 0 1 2; do
  if ! wait "${pids[$k]}"; then
    echo "FAIL: nodes: production party ${names[$k]} (host h$((k + 1))) failed:"; cat "$work/prod.${names[$k]}.err"
    prod_ok=0
  fi
done
# (sf_print prints once per run, at the first party: the three outputs together are the run's)
if [ "$prod_ok" = 1 ] &&
   ! diff -u "$work/debug.out" <(cat "$work/prod.alice.out" "$work/prod.bob.out" "$work/prod.carol.out"); then
  echo "FAIL: nodes: production over three hosts printed otherwise than debug mode"; prod_ok=0
fi
if [ "$prod_ok" = 1 ]; then
  echo "ok: production, each party's 2-rank job in its own namespace ($net.11-13) = debug mode"
else
  status=1
fi
exit $status
