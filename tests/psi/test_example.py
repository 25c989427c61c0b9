#!/usr/bin/env python3
"""examples/psi on a generated data set, checked against the generator's truth.

test_example.py MODE PARTIES RANKS TYPE PSIDATA EXAMPLE DUMP SFMPI

Generates ID sets (sfmpi psi-data, with features and, for 3 parties, IDs shared by only
some parties), runs examples/psi in MODE (debug, sim through mpirun, prod through
sfmpi run), then checks every party's output: its index maps to exactly the truth's IDs,
row k is the same ID at every party, and its aligned feature rows are those of that ID
(features are a function of the ID, so they agree across parties row by row).
"""
import os
import subprocess
import sys
import tempfile

mode, nparties, ranks, idtype, psidata, example, dump, sfmpi = sys.argv[1:9]
nparties, ranks = int(nparties), int(ranks)
names = ["alice", "bob", "carol"][:nparties]


def fail(msg):
    print("FAIL: " + msg)
    sys.exit(1)


def run(cmd, **kw):
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=150, **kw)
    if r.returncode != 0:
        fail("%s exited %d\nstdout:\n%s\nstderr:\n%s" % (" ".join(cmd), r.returncode, r.stdout, r.stderr))
    return r.stdout


def read(path, ds):
    lines = run([dump, path, ds]).splitlines()
    return lines[0].split(), lines[1:]


with tempfile.TemporaryDirectory() as tmp:
    src, out = os.path.join(tmp, "in"), os.path.join(tmp, "out")
    os.mkdir(out)
    rows = ",".join("%s=%d" % (n, 2000 + 500 * i) for i, n in enumerate(names))
    gen = [psidata, "--out", src, "--parties", ",".join(names), "--rows", rows, "--overlap", "0.4",
           "--type", idtype, "--features", "3", "--seed", "11"]
    if nparties > 2:
        gen += ["--pairwise", "150"]
    run(gen)
    args = [src, out, "--features", "--batch=700", "--sf-quiet"]  # (several batches)
    if mode == "debug":
        cmd = [example] + args + ["--sf-mode=debug", "--sf-parties=" + ",".join(names),
                                  "--sf-ranks-per-party=%d" % ranks]
    elif mode == "sim":
        cmd = ["mpirun", "-np", str(nparties * ranks), "--oversubscribe", "--mca", "mpi_yield_when_idle", "1",
               example] + args + ["--sf-mode=sim", "--sf-parties=" + ",".join(names),
                                  "--sf-ranks-per-party=%d" % ranks]
    else:
        cmd = [sfmpi, "run", "--mode=prod", "--parties", ",".join(names), "--ranks-per-party", str(ranks),
               "--oversubscribe", "--timeout", "120", example] + args
    stdout = run(cmd)
    _, truth = read(os.path.join(src, "truth.h5"), "ids")
    want = "intersection of %d parties: %d IDs" % (nparties, len(truth))
    if want not in stdout.splitlines():
        fail("expected the line %r in:\n%s" % (want, stdout))
    aligned, feats = [], []
    for n in names:
        _, ids = read(os.path.join(src, n + ".h5"), "ids")
        _, index = read(os.path.join(out, n + ".h5"), "index")
        rows = [int(x) for x in index]
        if len(set(rows)) != len(rows) or any(r < 0 or r >= len(ids) for r in rows):
            fail("%s's index has repeated or out-of-range rows" % n)
        aligned.append([ids[r] for r in rows])
        _, f = read(os.path.join(out, n + "_features.h5"), "features")
        _, fin = read(os.path.join(src, n + ".h5"), "features")
        if f != [fin[r] for r in rows]:
            fail("%s's aligned features are not its feature rows in index order" % n)
        feats.append(f)
    for n, a, f in zip(names[1:], aligned[1:], feats[1:]):
        if a != aligned[0]:
            fail("%s's aligned IDs differ from %s's" % (n, names[0]))
        if f != feats[0]:
            fail("%s's aligned features differ from %s's row by row" % (n, names[0]))
    if sorted(aligned[0]) != sorted(truth):
        fail("the aligned IDs are not exactly the intersection (%d vs %d)" % (len(aligned[0]), len(truth)))
    print("psi example, %s, %d parties, %d rank(s), %s IDs: %d common IDs aligned at every party, "
          "features too" % (mode, nparties, ranks, idtype, len(truth)))
