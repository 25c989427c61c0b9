#!/usr/bin/env python3
"""The PSI data generator (tools/sfmpi-psidata) read back through psidata_dump.

usage: test_psidata.py int64|bytes|string|errors SFMPI_PSIDATA PSIDATA_DUMP

For an ID type: counts, uniqueness within each party, the exact n-way overlap against
truth.h5 and truth.json, pairwise-only IDs (3 and 4 parties) absent from the truth,
shuffled files, determinism for a seed (and independence of --block), features a function
of the ID, the stored form of the type. "errors": every bad option with its exact message,
and failures that must leave no file behind. Exit 0 only if every check held.
"""
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from fractions import Fraction

M64 = (1 << 64) - 1
failures = 0


def check(cond, what):
    global failures
    if not cond:
        failures += 1
        print(f"FAIL: {what}", file=sys.stderr)
    return cond


def mix(x):
    x = (x + 0x9E3779B97F4A7C15) & M64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & M64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & M64
    return x ^ (x >> 31)


def fnv1a(b):
    h = 0xCBF29CE484222325
    for c in b:
        h = ((h ^ c) * 0x100000001B3) & M64
    return h


def feature(idbytes, j):
    return (mix(fnv1a(idbytes) ^ ((0xD6E8FEB86659FD93 * (j + 1)) & M64)) >> 11) * 2.0 ** -53


def run(gen, *args, expect=0):
    p = subprocess.run([gen, *args], capture_output=True, text=True, timeout=100)
    if not check(p.returncode == expect,
                 f"{' '.join(args)}: exit {p.returncode}, expected {expect}: {p.stderr.strip()}"):
        return None
    return p


def dump(dumper, path, ds):
    """(header fields, rows): int64 -> int, bytes/string -> bytes, float64 -> [float]."""
    p = subprocess.run([dumper, path, ds], capture_output=True, text=True, timeout=60)
    if p.returncode != 0:
        raise SystemExit(f"psidata_dump {path} {ds} failed: {p.stderr}")
    lines = p.stdout.splitlines()
    head = lines[0].split()
    kind = head[0]
    if kind == "int64":
        rows = [int(x) for x in lines[1:]]
    elif kind in ("bytes", "string"):
        rows = [bytes.fromhex(x) for x in lines[1:]]
    else:
        rows = [[float(v) for v in x.split()] for x in lines[1:]]
    check(len(rows) == int(head[1]), f"{path}: {ds}: row count {len(rows)} vs header {head}")
    return head, rows


def id_bytes(kind, v):
    if kind == "int64":
        return (v & M64).to_bytes(8, "little")
    if kind == "string":
        return v.split(b"\0", 1)[0]
    return v


def sort_key(kind, v):
    return v  # int64: numeric; bytes and strings: byte order (memcmp)


def read_set(dumper, d, parties, want_kind, width):
    data = {}
    for p in parties:
        head, ids = dump(dumper, os.path.join(d, p + ".h5"), "ids")
        check(head[0] == want_kind, f"{p}: kind {head[0]}, expected {want_kind}")
        if want_kind != "int64":
            check(int(head[2]) == width, f"{p}: width {head[2]}, expected {width}")
        if want_kind == "string":
            check(head[3] == "nullpad", f"{p}: string padding {head[3]}, expected nullpad")
        data[p] = ids
    return data


def check_set(gen, dumper, kind, width, tdir, name, parties, rows, overlap, pairwise,
              features=0, seed="11", block=None, extra=()):
    d = os.path.join(tdir, name)
    tname = {"int64": "int64", "bytes": f"bytes:{width}", "string": f"string:{width}"}[kind]
    rows_arg = ",".join(f"{p}={n}" for p, n in zip(parties, rows))
    args = ["--out", d, "--parties", ",".join(parties), "--rows", rows_arg,
            "--overlap", str(overlap), "--pairwise", str(pairwise), "--type", tname,
            "--features", str(features), "--seed", seed, *extra]
    if block:
        args += ["--block", str(block)]
    if run(gen, *args) is None:
        return None
    data = read_set(dumper, d, parties, kind, width)
    P = len(parties)
    if isinstance(overlap, int):
        k = overlap
    elif overlap.endswith("%"):
        k = int(Fraction(overlap[:-1]) / 100 * min(rows))
    else:
        k = int(Fraction(overlap) * min(rows))
    ctx = f"[{name}]"
    # counts and uniqueness within each party
    for p, n in zip(parties, rows):
        check(len(data[p]) == n, f"{ctx} {p}: {len(data[p])} rows, expected {n}")
        check(len(set(data[p])) == n, f"{ctx} {p}: duplicated IDs")
    # how many parties hold each ID
    holders = {}
    for p in parties:
        for v in data[p]:
            holders[v] = holders.get(v, 0) + 1
    nway = sorted((v for v, c in holders.items() if c == P), key=lambda v: sort_key(kind, v))
    check(len(nway) == k, f"{ctx} n-way intersection has {len(nway)} IDs, expected {k}")
    if P >= 3:
        partial = sum(1 for c in holders.values() if 1 < c < P)
        check(partial == P * pairwise,
              f"{ctx} {partial} IDs held by some but not all parties, expected {P * pairwise}")
        check(all(c in (1, P - 1, P) for c in holders.values()),
              f"{ctx} an ID held by neither 1, P-1 nor P parties")
        for i in range(P):  # every party shares exactly pairwise IDs more with each other
            for j in range(i + 1, P):
                both = len(set(data[parties[i]]) & set(data[parties[j]]))
                want = k + (P - 2) * pairwise
                check(both == want, f"{ctx} {parties[i]} & {parties[j]}: {both}, expected {want}")
    uniq = sum(1 for c in holders.values() if c == 1)
    want_uniq = sum(rows) - P * k - (P * (P - 1) * pairwise if P >= 3 else 0)
    check(uniq == want_uniq, f"{ctx} {uniq} IDs of one party only, expected {want_uniq}")
    # the truth: sorted, equal to the n-way intersection, in truth.json too
    head, truth = dump(dumper, os.path.join(d, "truth.h5"), "ids")
    check(truth == nway, f"{ctx} truth.h5 is not the sorted n-way intersection")
    check(all(truth[i] < truth[i + 1] for i in range(len(truth) - 1)), f"{ctx} truth not sorted")
    with open(os.path.join(d, "truth.json")) as f:
        tj = json.load(f)
    check(tj["overlap"] == k and tj["parties"] == parties and tj["type"] == tname,
          f"{ctx} truth.json parameters {tj}")
    if tj["intersection_in_json"]:
        conv = {"int64": lambda x: x, "bytes": bytes.fromhex,
                "string": lambda s: s.encode().ljust(width, b"\0")}[kind]
        check([conv(x) for x in tj["intersection"]] == truth,
              f"{ctx} truth.json intersection differs from truth.h5")
    # shuffled: no party's file in ascending or descending order, shared IDs not in front
    for p in parties:
        ids = data[p]
        if len(ids) >= 20:
            check(ids != sorted(ids) and ids != sorted(ids, reverse=True),
                  f"{ctx} {p}: IDs are sorted, not shuffled")
            common = set(truth)
            pos = [i for i, v in enumerate(ids) if v in common]
            if 0 < k < len(ids) // 2:
                check(max(pos) >= k + 5, f"{ctx} {p}: the intersection sits at the front")
    # stored form
    if kind == "int64":
        check(all(0 <= v < 2 ** 63 for h in data.values() for v in h), f"{ctx} int64 range")
    if kind == "string":
        lens = set()
        for h in data.values():
            for v in h:
                s = v.split(b"\0", 1)[0]
                lens.add(len(s))
                check(v[len(s):] == b"\0" * (width - len(s)), f"{ctx} string not NUL-padded")
                check(all(c in b"0123456789abcdefghijklmnopqrstuvwxyz" for c in s),
                      f"{ctx} string has characters outside [0-9a-z]: {s!r}")
                check(len(s) >= 16, f"{ctx} string shorter than 16: {s!r}")
        if width > 16:
            check(len(lens) > 1, f"{ctx} every string has the same length {lens}")
    # features: a function of the ID
    if features:
        for p in parties:
            head, feats = dump(dumper, os.path.join(d, p + ".h5"), "features")
            check(head[0] == "float64" and int(head[2]) == features,
                  f"{ctx} {p}: features header {head}")
            for v, row in zip(data[p], feats):
                want = [feature(id_bytes(kind, v), j) for j in range(features)]
                if not check(row == want, f"{ctx} {p}: features of {v!r} are {row}, expected {want}"):
                    break
    return data


def dumps_of(dumper, d, names):
    out = {}
    for n in names:
        p = subprocess.run([dumper, os.path.join(d, n + ".h5"), "ids"], capture_output=True,
                           text=True, timeout=60)
        out[n] = p.stdout
    return out


def test_type(gen, dumper, kind):
    width = {"int64": 8, "bytes": 32, "string": 24}[kind]
    with tempfile.TemporaryDirectory(prefix="psidata.") as t:
        check_set(gen, dumper, kind, width, t, "two", ["alice", "bob"], [300, 500], "0.4", 0,
                  features=3)
        check_set(gen, dumper, kind, width, t, "three", ["alice", "bob", "carol"],
                  [400, 450, 420], 50, 30, features=2, block=64)
        check_set(gen, dumper, kind, width, t, "four", ["p0", "p1", "p2", "p3"],
                  [200, 260, 230, 300], 40, 10, block=33)
        check_set(gen, dumper, kind, width, t, "decimal", ["alice", "bob"], [100, 300], "0.29", 0)
        check_set(gen, dumper, kind, width, t, "none", ["alice", "bob"], [100, 100], 0, 0)
        check_set(gen, dumper, kind, width, t, "all", ["alice", "bob", "carol"],
                  [100, 100, 100], "100%", 0)
        check_set(gen, dumper, kind, width, t, "empty", ["alice", "bob"], [0, 50], 0, 0)
        check_set(gen, dumper, kind, width, t, "big", ["alice", "bob"], [20000, 30000], "0.5", 0,
                  block=1000)
        # deterministic for a seed, independent of --block; another seed differs
        base = ["--parties", "a,b,c", "--rows", "500", "--overlap", "100", "--pairwise", "20",
                "--type", {"int64": "int64", "bytes": f"bytes:{width}",
                           "string": f"string:{width}"}[kind], "--features", "2"]
        for name, extra in (("s1", ["--seed", "5"]), ("s2", ["--seed", "5", "--block", "7"]),
                            ("s3", ["--seed", "6"])):
            run(gen, "--out", os.path.join(t, name), *base, *extra)
        names = ["a", "b", "c", "truth"]
        d1, d2, d3 = (dumps_of(dumper, os.path.join(t, s), names) for s in ("s1", "s2", "s3"))
        check(d1 == d2 and d1["a"].count("\n") == 501, "same seed, other --block: different files")
        check(all(d1[n] != d3[n] for n in names), "another seed gives the same IDs")
        left = [f for f in os.listdir(os.path.join(t, "s1")) if ".tmp." in f]
        check(not left, f"temporary files left behind: {left}")


def expect_error(gen, args, message, code=2):
    p = subprocess.run([gen, *args], capture_output=True, text=True, timeout=60)
    check(p.returncode == code, f"{args}: exit {p.returncode}, expected {code}")
    check(p.stderr.strip() == message,
          f"{args}: stderr\n  {p.stderr.strip()!r}\nexpected\n  {message!r}")


def test_errors(gen, dumper):
    me = "sfmpi-psidata: "
    with tempfile.TemporaryDirectory(prefix="psidata.") as t:
        o = ["--out", os.path.join(t, "x")]
        cases = [
            ([], me + "--out DIR is required (see --help)"),
            (o + ["--parties", "alice"], me + "--parties alice: PSI needs at least 2 parties (see --help)"),
            (o + ["--parties", "a,a"], me + '--parties a,a: party "a" named twice (see --help)'),
            (o + ["--parties", "a,,b"], me + "--parties a,,b: an empty party name (see --help)"),
            (o + ["--parties", "a,truth"], me + '--parties a,truth: party name "truth" is not 1-64 '
             'of [A-Za-z0-9_.-] (not starting with . or -, not "truth") (see --help)'),
            (o + ["--parties", "a,b/c"], me + '--parties a,b/c: party name "b/c" is not 1-64 '
             'of [A-Za-z0-9_.-] (not starting with . or -, not "truth") (see --help)'),
            (o + ["--parties", "a,b", "--rows", "a=10"],
             me + '--rows a=10: no rows given for party "b" (see --help)'),
            (o + ["--parties", "a,b", "--rows", "a=10,c=3"],
             me + '--rows a=10,c=3: "c" is not one of --parties (see --help)'),
            (o + ["--parties", "a,b", "--rows", "a=10,b=x"],
             me + "--rows x: expected a whole number (see --help)"),
            (o + ["--rows", "-5"], me + "--rows -5: expected a whole number (see --help)"),
            (o + ["--rows", "10", "--overlap", "11"],
             me + "--overlap 11: 11 IDs, but alice has only 10 rows"),
            (o + ["--overlap", "1.5"], me + "--overlap 1.5: a fraction above 1 (100%) (see --help)"),
            (o + ["--overlap", "abc"], me + "--overlap abc: expected a whole number (see --help)"),
            (o + ["--overlap", "0.5x"],
             me + "--overlap 0.5x: expected a count, a fraction in [0, 1] or a percentage (see --help)"),
            (o + ["--pairwise", "3"], me + "--pairwise needs 3 or more parties (with 2, every "
             "shared ID is in the intersection)"),
            (o + ["--parties", "a,b,c", "--rows", "100", "--overlap", "50", "--pairwise", "30"],
             me + "--overlap 50 (50) and --pairwise 30 need 110 rows at every party; a has 100"),
            (o + ["--type", "bytes:4"], me + "--type bytes:4: bytes:L needs L >= 8 (the first 8 "
             "bytes make the IDs unique) (see --help)"),
            (o + ["--type", "string:8"], me + "--type string:8: string:L needs L >= 16 (16 hex "
             "digits make the IDs unique) (see --help)"),
            (o + ["--type", "float"], me + "--type float: expected int64, bytes:L or string:L (see --help)"),
            (o + ["--features", "99999"], me + "--features 99999: more than the limit 4096 (see --help)"),
            (o + ["--block", "0"], me + "--block 0: expected at least 1 row (see --help)"),
            (o + ["--frobnicate"], me + "unknown option --frobnicate (see --help)"),
            (o + ["--seed"], me + "--seed needs a value"),
        ]
        for args, msg in cases:
            expect_error(gen, args, msg)
        check(not os.path.exists(os.path.join(t, "x")), "a usage error created the directory")

        # --out names a file: nothing can be created, nothing is left
        f = os.path.join(t, "file")
        open(f, "w").close()
        p = subprocess.run([gen, "--out", f], capture_output=True, text=True, timeout=60)
        check(p.returncode == 1 and "cannot create" in p.stderr and "Not a directory" in p.stderr,
              f"--out FILE: exit {p.returncode}, {p.stderr.strip()}")

        # the last file cannot be renamed into place (a directory is in the way): every
        # temporary file is removed, no truth is written, the earlier set's truth is gone
        d = os.path.join(t, "blocked")
        run(gen, "--out", d, "--rows", "100")
        os.remove(os.path.join(d, "bob.h5"))
        os.mkdir(os.path.join(d, "bob.h5"))
        p = subprocess.run([gen, "--out", d, "--rows", "200"], capture_output=True, text=True,
                           timeout=60)
        check(p.returncode == 1 and "bob.h5: cannot rename" in p.stderr,
              f"blocked rename: exit {p.returncode}, {p.stderr.strip()}")
        left = sorted(os.listdir(d))
        check(left == ["alice.h5", "bob.h5"], f"after a failed run the directory holds {left}")

        # SIGTERM in the middle of a large run: no partial or temporary file remains
        d = os.path.join(t, "killed")
        proc = subprocess.Popen([gen, "--out", d, "--rows", "20000000", "--features", "4"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        time.sleep(0.7)
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
        check(proc.returncode == -signal.SIGTERM, f"killed run: status {proc.returncode}")
        left = os.listdir(d) if os.path.isdir(d) else []
        check(left == [], f"after SIGTERM the directory holds {left}")


def main():
    if len(sys.argv) != 4:
        print(__doc__, file=sys.stderr)
        return 2
    what, gen, dumper = sys.argv[1:]
    if what == "errors":
        test_errors(gen, dumper)
    else:
        test_type(gen, dumper, what)
    if failures:
        print(f"{failures} check(s) failed", file=sys.stderr)
        return 1
    print(f"psidata {what}: all checks held")
    return 0


if __name__ == "__main__":
    sys.exit(main())
